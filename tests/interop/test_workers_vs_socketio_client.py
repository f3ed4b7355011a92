"""``python -m hypersio serve APP --workers 2`` against the official socket.io-client: sticky
sessions over polling, the upgrade and WebSocket, the workers' own cluster (broadcasts, rooms,
fetch_sockets, broadcasts with acks across both), a killed worker replaced, and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from _support import child_env
from _support.cluster_node import NodeClusterPeer

JS = Path(__file__).resolve().parent.parent / "js" / "workers_clients.js"
TESTS = Path(__file__).resolve().parent.parent


class Served:
    """The ``serve --workers 2`` process group and its port."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> set[int]:
        """The primary's children (its workers) now."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return {int(pid) for pid in out.split()}


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    env = child_env()
    env["PYTHONPATH"] = f"{TESTS}{os.pathsep}{env.get('PYTHONPATH', '')}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hypersio", "serve", "_support.workers_app:sio", "--workers", "2", "--port", "0"],
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
    match = re.search(rb"http://127\.0\.0\.1:(\d+)", line)
    assert match, line
    served = Served(proc, int(match.group(1)))
    for _ in range(100):
        if len(served.worker_pids()) == 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the workers join their cluster
    yield served
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
    except ProcessLookupError:
        pass
    proc.wait()


class Clients(NodeClusterPeer):
    """workers_clients.js: official clients; ``events`` holds what they reported."""

    @classmethod
    async def open(cls, url: str, clients: list[dict[str, Any]], env: dict[str, str]) -> Clients:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(JS),
            json.dumps({"url": url, "clients": clients}),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        peer = cls(proc, 0)
        for i in range(len(clients)):
            await peer.next_event("connect", timeout=10, client=i)
        return peer


SHAPES = [
    {"transports": ["polling"], "rooms": ["a"]},
    {"transports": ["polling", "websocket"], "rooms": ["a"]},
    {"transports": ["websocket"], "rooms": ["b"]},
    {"transports": ["polling"], "rooms": ["b"]},
    {"transports": ["polling", "websocket"], "rooms": ["b"]},
    {"transports": ["websocket"], "rooms": ["a"]},
]


async def test_sticky_sessions_and_the_workers_cluster(served: Served, node_env: dict[str, str]) -> None:
    clients = await Clients.open(served.url, SHAPES, node_env)
    try:
        pids = [await clients.call("emitWithAck", client=i, event="pid") for i in range(len(SHAPES))]
        assert set(pids) == served.worker_pids()  # both workers serve clients
        await asyncio.sleep(3)  # many heartbeats (ping every 0.5 s): every session stays up
        status = await clients.call("status")
        assert all(s["connected"] for s in status), (status, clients.events)
        assert [s["transport"] for s in status] == [
            "polling",
            "websocket",
            "websocket",
            "polling",
            "websocket",
            "websocket",
        ]
        assert [await clients.call("emitWithAck", client=i, event="pid") for i in range(len(SHAPES))] == pids
        assert not [e for e in clients.events if e["event"] == "disconnect"]

        # a broadcast from one worker reaches the clients of both
        await clients.call("emitWithAck", client=0, event="broadcast", args=["hello", 1])
        for i in range(len(SHAPES)):
            event = await clients.next_event("recv", client=i, name="hello")
            assert event["args"] == [1]
        # a room spans both workers
        await clients.call("emitWithAck", client=2, event="to_room", args=["a", "in-a", 2])
        got = {(await clients.next_event("recv", name="in-a"))["client"] for _ in range(3)}
        assert got == {0, 1, 5}
        ids = sorted(s["id"] for s in status)
        assert await clients.call("emitWithAck", client=3, event="fetch", args=["b"]) == sorted(
            status[i]["id"] for i in (2, 3, 4)
        )
        assert len(ids) == 6
        answers = await clients.call("emitWithAck", client=1, event="acks")
        assert answers == [2] * 6
    finally:
        await clients.stop()


async def test_a_killed_worker_is_replaced(served: Served, node_env: dict[str, str]) -> None:
    before = served.worker_pids()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    for _ in range(100):
        now = served.worker_pids()
        if len(now) == 2 and victim not in now:
            break
        await asyncio.sleep(0.05)
    assert len(served.worker_pids()) == 2 and victim not in served.worker_pids()
    await asyncio.sleep(0.5)
    clients = await Clients.open(served.url, SHAPES[:4], node_env)
    try:
        pids = {await clients.call("emitWithAck", client=i, event="pid") for i in range(4)}
        assert pids == served.worker_pids(), (pids, served.worker_pids())
        # the survivor reconnects to the new worker by itself; wait until both see the pair
        for _ in range(100):
            counts = [await clients.call("emitWithAck", client=i, event="servers") for i in range(4)]
            if counts == [2] * 4:
                break
            await asyncio.sleep(0.05)
        assert counts == [2] * 4
        await clients.call("emitWithAck", client=0, event="broadcast", args=["again", 3])
        for i in range(4):
            await clients.next_event("recv", client=i, name="again")
    finally:
        await clients.stop()


async def test_sigterm_closes_everything_cleanly(served: Served, node_env: dict[str, str]) -> None:
    clients = await Clients.open(served.url, SHAPES[1:3], node_env)
    try:
        workers = served.worker_pids()
        served.proc.send_signal(signal.SIGTERM)
        code = await asyncio.get_running_loop().run_in_executor(None, served.proc.wait, 20)
        assert code == 0
        reasons = [(await clients.next_event("disconnect", client=i))["reason"] for i in range(2)]
        # a clean close from the server, not a reset
        assert all(r in ("io server disconnect", "transport close") for r in reasons), reasons
        for pid in workers:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        await clients.stop()
