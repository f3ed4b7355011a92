"""The workers' own cluster: socket.io's ClusterAdapter protocol over Unix sockets, no Redis.

``serve --workers N`` (and ``Server.run(workers=N)``) gives every worker of a server that has no
cluster adapter configured a :class:`LocalClusterAdapter`: the same message layer as the sharded
and streams Redis adapters (:mod:`.messages`), over a different transport:

* Worker ``i`` listens on ``<dir>/worker-<i>.sock`` and connects to every worker with a lower
  index, so each pair of workers has one connection. A connection that drops (a worker died and
  the primary started it again) is made again by the higher-indexed side, retrying until it
  succeeds; ``server_count()`` is one plus the connected peers.
* Frames are a 4-byte big-endian length and one message encoded as msgpack (binary-safe, and the
  message layer's decoder takes it as it comes). Everything a worker sends in one loop turn goes
  out in one write per peer.
* Every message goes to every peer, answers included: the receivers match answers by request id,
  which costs nothing measurable between a handful of local processes and keeps the transport
  free of routing state.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Callable
from typing import Any

from hypersio.adapters.base import NamespaceView
from hypersio.adapters.cluster import messages
from hypersio.adapters.cluster.core import logger
from hypersio.adapters.cluster.messages import ClusterMessageAdapter
from hypersio.adapters.cluster.wire import BadMessage
from hypersio.engine.ratelog import RateLimitedLog
from hypersio.events.acks import spawn

__all__ = ["LocalClusterAdapter", "LocalHub", "local_adapter"]

_LENGTH = struct.Struct(">I")
_MAX_FRAME = 64 * 1024 * 1024


class _Peer(asyncio.Protocol):
    """One connection to another worker: frames in, batched frames out."""

    def __init__(self, hub: LocalHub) -> None:
        self.hub = hub
        self.transport: Any = None  # uvloop's Unix transport is not an asyncio.Transport subclass
        self._buffer = bytearray()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.hub.peers.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.hub.peers.discard(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        offset = 0
        size = len(buffer)
        while size - offset >= 4:
            (length,) = _LENGTH.unpack_from(buffer, offset)
            if length > _MAX_FRAME:
                self.hub.log("frame", "a worker sent a %d-byte frame; dropping its connection", length)
                self.transport.close()
                return
            if size - offset - 4 < length:
                break
            start = offset + 4
            self.hub.received(bytes(buffer[start : start + length]))
            offset = start + length
        if offset:
            del buffer[:offset]


class LocalHub:
    """One worker's connections to the other workers, shared by all its namespaces."""

    def __init__(self, directory: str, index: int, workers: int) -> None:
        self.directory = directory
        self.index = index
        self.workers = workers
        self.peers: set[_Peer] = set()
        self.adapters: dict[str, LocalClusterAdapter] = {}
        self.log = RateLimitedLog(logger)
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._server: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._closed = False

    def _path(self, index: int) -> str:
        return os.path.join(self.directory, f"worker-{index}.sock")

    async def start(self) -> None:
        """Listen, and start connecting to the lower-indexed workers (once per process)."""
        if self._started:
            return
        self._started = True
        loop = asyncio.get_running_loop()
        path = self._path(self.index)
        try:
            os.unlink(path)  # left by this worker's previous life
        except FileNotFoundError:
            pass
        self._server = await loop.create_unix_server(lambda: _Peer(self), path)
        for other in range(self.index):
            self._tasks.append(spawn(self._keep_connected(other), f"connection to worker {other}"))
        # Wait a little for the others, so a server that starts serving counts its peers.
        deadline = loop.time() + 2.0
        while len(self.peers) < self.index and loop.time() < deadline:
            await asyncio.sleep(0.02)

    async def _keep_connected(self, other: int) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.02
        while not self._closed:
            try:
                _, peer = await loop.create_unix_connection(lambda: _Peer(self), self._path(other))
            except OSError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)  # a local connect attempt costs next to nothing
                continue
            delay = 0.02
            await peer.closed
            if not self._closed:
                logger.warning("worker %d: lost the connection to worker %d; reconnecting", self.index, other)

    def send(self, payload: bytes) -> None:
        """Queue one message for every peer (written once per loop turn)."""
        self._out.append(_LENGTH.pack(len(payload)))
        self._out.append(payload)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._out:
            return
        data = b"".join(self._out)
        self._out = []
        for peer in list(self.peers):
            if peer.transport is not None and not peer.transport.is_closing():
                peer.transport.write(data)

    def received(self, payload: bytes) -> None:
        """One frame from a peer: to the adapter of its namespace."""
        try:
            msg = messages.decode(payload)
        except BadMessage as exc:
            self.log("decode", "worker %d: dropped a malformed message from a worker: %s", self.index, exc)
            return
        nsp = msg.get("nsp") if isinstance(msg, dict) else None
        adapter = self.adapters.get(nsp) if isinstance(nsp, str) else None
        if adapter is not None:
            adapter.on_message(msg)

    async def close(self) -> None:
        """Close every connection and the listening socket."""
        self._closed = True
        self._flush()
        for task in self._tasks:
            task.cancel()
        for peer in list(self.peers):
            if peer.transport is not None:
                peer.transport.close()
        if self._server is not None:
            self._server.close()
        try:
            os.unlink(self._path(self.index))
        except FileNotFoundError:
            pass


class LocalClusterAdapter(ClusterMessageAdapter):
    """One namespace of a worker in the workers' own cluster (see the module docstring)."""

    def __init__(self, nsp: NamespaceView, hub: LocalHub, requests_timeout: float = 5.0) -> None:
        super().__init__(nsp, requests_timeout)
        self.hub = hub

    async def init(self) -> None:
        """Join the workers' cluster for this namespace."""
        self.hub.adapters[self.nsp.name] = self
        await self.hub.start()

    def _publish(self, msg: dict[str, Any]) -> None:
        self.hub.send(messages.encode_msgpack(msg))

    def _publish_response(self, requester: str, msg: dict[str, Any]) -> None:
        self.hub.send(messages.encode_msgpack(msg))

    async def server_count(self) -> int:
        """This worker plus the workers it is connected to."""
        return 1 + len(self.hub.peers)

    async def close(self) -> None:
        """Fail pending requests; the last namespace closes the connections."""
        await super().close()
        if self.hub.adapters.get(self.nsp.name) is self:
            del self.hub.adapters[self.nsp.name]
        if not self.hub.adapters:
            await self.hub.close()


def local_adapter(directory: str, index: int, workers: int) -> Callable[[NamespaceView], LocalClusterAdapter]:
    """The adapter factory of worker ``index`` of ``workers`` sharing ``directory``."""
    hub = LocalHub(directory, index, workers)

    def factory(nsp: NamespaceView) -> LocalClusterAdapter:
        return LocalClusterAdapter(nsp, hub)

    return factory
