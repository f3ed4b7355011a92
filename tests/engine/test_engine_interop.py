"""Interop: the official engine.io-client (node) against our Engine.IO server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from eio_client import Harness, attach_echo

pytestmark = pytest.mark.interop

SCRIPT = Path(__file__).parent / "eio_node_client.js"


async def run_node_client(harness: Harness, mode: str, env: dict[str, str]) -> list[dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        f"http://127.0.0.1:{harness.port}",
        mode,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 8)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, stderr.decode()
    return [json.loads(line) for line in stdout.decode().splitlines() if line]


@pytest.mark.parametrize("mode", ["polling", "websocket", "upgrade"])
async def test_engine_io_client(make_server, node_env: dict[str, str], mode: str) -> None:
    harness = await make_server()
    attach_echo(harness)
    received: list[str | bytes] = []

    def on_connection(session: Any) -> None:
        session.on("message", received.append)
        session.send("welcome")
        session.send(b"\x00\x01")

    harness.server.on("connection", on_connection)
    events = await run_node_client(harness, mode, node_env)
    kinds = [event["event"] for event in events]
    assert "error" not in kinds and "timeout" not in kinds, events
    opened = events[0]
    assert opened["event"] == "open"
    assert opened["transport"] == ("websocket" if mode == "websocket" else "polling")
    session = harness.sessions[0]
    assert opened["id"] == session.id
    messages = [event for event in events if event["event"] == "message"]
    assert messages[0]["text"] == "welcome"
    assert messages[1]["binary"] == [0, 1]
    assert [m.get("text", m.get("binary")) for m in messages[2:]] == ["hello from node", [1, 2, 3, 255], "é€😀"]
    assert received == ["hello from node", b"\x01\x02\x03\xff", "é€😀"]
    if mode == "upgrade":
        assert {"event": "upgrade", "transport": "websocket"} in events
        assert all(m["transport"] == "websocket" for m in messages[2:])
    assert events[-1] == {"event": "close", "reason": "forced close"}
    for _ in range(100):
        if harness.closes:
            break
        await asyncio.sleep(0.01)
    assert harness.closes == [(session.id, "transport close")]
    assert session.transport == ("polling" if mode == "polling" else "websocket")


PROTOCOL_CHECKS = Path(__file__).parent / "eio_protocol_checks.js"


async def test_protocol_scenarios_with_node_http_and_ws_clients(make_server, node_env: dict[str, str]) -> None:
    """The official v4 protocol suite's scenarios, driven by node's fetch (undici) and `ws`."""
    harness = await make_server(ping_interval=0.3, ping_timeout=0.2)
    attach_echo(harness)
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(PROTOCOL_CHECKS),
        str(harness.port),
        env=node_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    results = [json.loads(line) for line in stdout.decode().splitlines() if line]
    assert len(results) == 16, stderr.decode()
    failed = [r for r in results if not r["ok"]]
    assert not failed, "\n".join(f"{r['name']}: {r['error']}" for r in failed)
