"""Drive tests/js/cluster_node.js: an official Socket.IO server (or the official emitter) in a
Redis cluster, from an asyncio test.

``node = await NodeClusterPeer.start({"adapter": "classic", "key": prefix})`` then
``await node.call("fetchSockets", rooms=["r"])``; ``await node.next_event("sse")`` waits for what
its server-side listeners saw. Binary crosses the JSON lines as ``{"$bin": base64}``; :func:`to_wire`
and :func:`from_wire` convert.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import secrets
from pathlib import Path
from typing import Any

CLUSTER_NODE = Path(__file__).resolve().parent.parent / "js" / "cluster_node.js"
REDIS_URL = os.environ.get("HYPERSIO_TEST_REDIS", "redis://127.0.0.1:6379/0")


def unique_prefix(name: str) -> str:
    """A key/channel prefix no other test (or run) uses."""
    return f"hsio-test-{name}-{secrets.token_hex(4)}"


def to_wire(value: Any) -> Any:
    """``value`` with bytes as ``{"$bin": base64}`` (for the command lines)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bin": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(value: Any) -> Any:
    """The reverse of :func:`to_wire`."""
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return base64.b64decode(value["$bin"])
        return {k: from_wire(v) for k, v in value.items()}
    return value


class NodeError(Exception):
    """A command failed inside node (its message)."""


class NodeClusterPeer:
    """One cluster_node.js process (see the module docstring)."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._event_added = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(cls, config: dict[str, Any], timeout: float = 15.0) -> NodeClusterPeer:
        """Start node with ``config`` and wait until it is in the cluster."""
        config = {"redisUrl": REDIS_URL, **config}
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(CLUSTER_NODE),
            json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,
        )
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        except TimeoutError:
            proc.kill()
            raise RuntimeError("cluster_node.js did not start in time") from None
        if not line:
            await proc.wait()
            raise RuntimeError(f"cluster_node.js exited ({proc.returncode}) before it was ready")
        return cls(proc, int(json.loads(line)["ready"]))

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            message = json.loads(line)
            if "event" in message:
                self.events.append(message)
                self._event_added.set()
                continue
            fut = self._waiting.pop(message["id"], None)
            if fut is not None and not fut.done():
                if "error" in message:
                    fut.set_exception(NodeError(message["error"]))
                else:
                    fut.set_result(from_wire(message["result"]))
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(RuntimeError("cluster_node.js exited"))

    async def call(self, op: str, wait: float = 15.0, **fields: Any) -> Any:
        """Run one command in node and return its result (raises :class:`NodeError`)."""
        assert self.proc.stdin is not None
        command_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = fut
        line = json.dumps({"id": command_id, "op": op, **to_wire(fields)}) + "\n"
        self.proc.stdin.write(line.encode())
        await self.proc.stdin.drain()
        return await asyncio.wait_for(fut, wait)

    async def next_event(self, kind: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The first recorded event of ``kind`` whose fields equal ``match`` (waits for it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["event"] == kind and all(event.get(k) == v for k, v in match.items()):
                    self.events.remove(event)
                    return event
            seen = 0
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {kind} event {match} from node; events: {self.events}")
            self._event_added.clear()
            try:
                await asyncio.wait_for(self._event_added.wait(), left)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        """Close the server and end the process (killed if it does not end in 5 s)."""
        if self.proc.returncode is None:
            try:
                await self.call("close", wait=5)
            except Exception:  # already gone or stuck: killed below
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()
