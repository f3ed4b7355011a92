"""Interop: the official engine.io-client (node) against our Engine.IO server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from _support.eio_client import Harness, attach_echo

pytestmark = pytest.mark.interop

SCRIPT = Path(__file__).resolve().parent.parent / "js" / "eio_node_client.js"


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


PROTOCOL_CHECKS = Path(__file__).resolve().parent.parent / "js" / "eio_protocol_checks.js"


@pytest.mark.parametrize(
    ("group", "count"),
    [
        ("^(polling handshake|bad EIO|websocket handshake|websocket refused)", 4),
        ("^(polling messages|polling invalid|duplicate poll|cancelled poll|websocket text)", 5),
        ("^polling heartbeat", 1),
        ("^websocket heartbeat", 1),
        ("^(polling close|websocket close|upgrade|polling refused|second websocket)", 5),
    ],
    ids=["handshake", "messages", "polling-heartbeat", "websocket-heartbeat", "close-upgrade"],
)
async def test_protocol_scenarios_with_node_http_and_ws_clients(
    make_server, node_env: dict[str, str], group: str, count: int
) -> None:
    """The official v4 protocol suite's scenarios, driven by node's fetch (undici) and `ws`."""
    harness = await make_server(ping_interval=0.3, ping_timeout=0.2)
    attach_echo(harness)
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(PROTOCOL_CHECKS),
        str(harness.port),
        group,
        env=node_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    results = [json.loads(line) for line in stdout.decode().splitlines() if line]
    assert len(results) == count, (results, stderr.decode())
    failed = [r for r in results if not r["ok"]]
    assert not failed, "\n".join(f"{r['name']}: {r['error']}" for r in failed)


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], None])
async def test_python_engineio_client(make_server, transports: list[str] | None) -> None:
    """A second, independent client implementation: python-engineio's AsyncClient (aiohttp)."""
    engineio = pytest.importorskip("engineio")
    harness = await make_server()
    attach_echo(harness)
    client = engineio.AsyncClient()
    echoed: asyncio.Queue[str | bytes] = asyncio.Queue()
    client.on("message", echoed.put_nowait)
    await asyncio.wait_for(client.connect(f"http://127.0.0.1:{harness.port}", transports=transports), 5)
    try:
        if transports is None:
            for _ in range(100):  # python-engineio upgrades in the background
                if client.transport() == "websocket":
                    break
                await asyncio.sleep(0.02)
        expected = "websocket" if transports != ["polling"] else "polling"
        assert client.transport() == expected
        await client.send("text é")
        await client.send(b"\x00bin")
        assert await asyncio.wait_for(echoed.get(), 3) == "text é"
        assert await asyncio.wait_for(echoed.get(), 3) == b"\x00bin"
        assert harness.sessions[0].transport == expected
    finally:
        await asyncio.wait_for(client.disconnect(), 5)
    for _ in range(100):
        if harness.closes:
            break
        await asyncio.sleep(0.01)
    assert harness.closes == [(harness.sessions[0].id, "transport close")]


async def test_messages_streamed_across_the_upgrade_arrive_once_in_order(make_server, node_env: dict[str, str]) -> None:
    harness = await make_server()
    count = 300
    loop = asyncio.get_running_loop()

    def on_connection(session: Any) -> None:
        sent = 0

        def tick() -> None:
            nonlocal sent
            if session.closed:
                return
            for _ in range(3):  # several per loop turn, so batching and corking are exercised
                if sent < count:
                    session.send(str(sent))
                    sent += 1
            if sent < count:
                loop.call_later(0.002, tick)
            else:
                session.send("end")

        tick()

    harness.server.on("connection", on_connection)
    events = await run_node_client(harness, "stream", node_env)
    stream = next(event for event in events if event["event"] == "stream")
    assert stream["numbers"] == list(range(count))
    assert {"event": "upgrade", "transport": "websocket"} in events
    assert set(stream["transports"]) == {"polling", "websocket"}, "the upgrade happened mid-stream"
