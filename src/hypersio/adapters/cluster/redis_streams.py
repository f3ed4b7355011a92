"""The Redis streams adapter: ``@socket.io/redis-streams-adapter`` 0.3 (CLUSTER-NOTES.md §4.1,
§4.2), the ClusterAdapter protocol (:mod:`.messages`) over a Redis stream and Pub/Sub.

* **Durable messages** (plain broadcasts, sockets_join/leave, disconnect_sockets) are XADDed to
  the stream of the namespace (``stream_name``, or ``<stream_name>-<i>`` with several streams),
  fields ``uid``, ``nsp``, ``type`` (decimal) and ``data`` (JSON, or base64 msgpack when a type
  that may carry binary does). One XREAD BLOCK loop per stream and per server reads them back and
  hands each entry, with its id, to the adapter of its namespace.
* **Ephemeral messages** (requests: broadcasts with acks, fetch_sockets, server-side emits) are
  msgpack on the public channel ``<prefix>#<nsp>#``; answers go to the requester's private
  channel ``<prefix>#<nsp>#<uid>#``. The servers are counted by ``PUBSUB NUMSUB`` of the public
  channel.
* **Connection state recovery across servers** (``Server(connection_state_recovery=...)``): the
  offset of an event is the id of its stream entry, appended as its last argument on every
  server; ``socket.emit`` goes through the stream too (to the socket's own room). A disconnected
  socket's session is kept in Redis (``SET <session_key_prefix><pid> ... PX``), so the client may
  come back to any server of the cluster, Node or hypersio, and get its id, rooms, data and the
  events it missed (read back from the stream).

The functions at the top are the sans-I/O stream format; :class:`RedisStreamsAdapter` and the
per-factory :class:`StreamHub` do the I/O. A ``redis.asyncio.cluster.RedisCluster`` client is
not supported yet.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from typing import Any

from hypersio.adapters.base import BroadcastOptions, NamespaceView
from hypersio.adapters.cluster import notepack
from hypersio.adapters.cluster.core import logger
from hypersio.adapters.cluster.messages import (
    BROADCAST,
    FETCH_SOCKETS,
    MAY_CONTAIN_BINARY,
    SERVER_SIDE_EMIT,
    ClusterMessageAdapter,
    encode_msgpack,
)
from hypersio.adapters.cluster.redis import SharedLink
from hypersio.adapters.cluster.redis_link import RedisLink
from hypersio.adapters.cluster.redis_sharded import refuse_cluster_client
from hypersio.adapters.cluster.wire import BadMessage, dumps, event_data, loads, opts_from_wire
from hypersio.adapters.memory import InMemoryAdapter
from hypersio.adapters.recovery import SavedSession
from hypersio.engine.ratelog import RateLimitedLog
from hypersio.events.acks import spawn

__all__ = [
    "RedisStreamsAdapter",
    "StreamHub",
    "decode_entry",
    "decode_session",
    "encode_entry",
    "encode_session",
    "java_hash",
    "next_offset",
    "redis_streams_adapter",
    "stream_of",
]

_OFFSET = re.compile(r"[0-9]+-[0-9]+")
#: Rounds of XRANGE a restore makes at most (Node's RESTORE_SESSION_MAX_XRANGE_CALLS).
_MAX_XRANGE_CALLS = 100


# --- the stream format (sans I/O) ------------------------------------------------------------------


def java_hash(text: str) -> int:
    """Java's ``String.hashCode`` on UTF-16 code units, wrapped to 32 bits, as Node computes it
    to pick a namespace's stream."""
    h = 0
    units = text.encode("utf-16-le")
    for i in range(0, len(units), 2):
        h = (h * 31 + (units[i] | units[i + 1] << 8)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def stream_of(nsp: str, stream_name: str, stream_count: int) -> str:
    """The stream a namespace's durable messages go to. With several streams the index keeps
    the sign of the hash, as JavaScript's ``%`` does: a negative hash names a stream no reader
    polls (``socket.io--1``), and a peer must agree with Node even there."""
    if stream_count == 1:
        return stream_name
    h = java_hash(nsp)
    index = abs(h) % stream_count
    return f"{stream_name}-{-index if h < 0 else index}"


def encode_entry(msg: dict[str, Any], only_plaintext: bool = False) -> list[str]:
    """The XADD field list of ``msg``: ``uid``, ``nsp``, ``type`` (decimal) and, when the message
    has data, ``data`` as JSON, or base64 msgpack when the type may carry binary, the data does
    and ``only_plaintext`` is off (CLUSTER-NOTES.md §4.1)."""
    fields = ["uid", msg["uid"], "nsp", msg["nsp"], "type", str(msg["type"])]
    data = msg.get("data")
    if data is not None:  # JavaScript's truthiness: an empty object is still written
        if not only_plaintext and msg["type"] in MAY_CONTAIN_BINARY and notepack.has_binary(data):
            fields += ["data", base64.b64encode(notepack.pack(data)).decode("ascii")]
        else:
            fields += ["data", dumps(data).decode("utf-8")]
    return fields


# The widest entry type read as a number: the message types are 1..13, anything longer is refused.
_MAX_TYPE_DIGITS = 16


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def decode_entry(fields: dict[Any, Any]) -> dict[str, Any]:
    """The message of a stream entry (field name -> value, bytes or str), as Node's reader
    rebuilds it: ``type`` parsed as a decimal, ``data`` JSON when it starts with ``{``, base64
    msgpack otherwise. Raises :class:`BadMessage`; the shape is checked by the adapter."""
    values = {_text(key): value for key, value in fields.items()}
    kind = _text(values.get("type"))
    # ASCII digits only (str.isdigit takes "\u00b2" and "\u0661"), and few: int() refuses over 4300 digits.
    if kind is None or not kind.isascii() or not kind.isdigit() or len(kind) > _MAX_TYPE_DIGITS:
        raise BadMessage(f"entry type {kind[:20] if kind else kind!r} is not a number")
    msg: dict[str, Any] = {"uid": _text(values.get("uid")), "nsp": _text(values.get("nsp")), "type": int(kind)}
    raw = values.get("data")
    if raw:
        payload = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        if payload[:1] == b"{":
            msg["data"] = loads(payload)
        else:
            try:
                packed = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BadMessage(f"entry data is neither JSON nor base64: {exc}") from None
            try:
                msg["data"] = notepack.unpack(packed)
            except Exception as exc:  # msgpack raises several types for garbage
                raise BadMessage(f"invalid msgpack: {exc}") from None
    return msg


def next_offset(offset: str) -> str:
    """The smallest entry id after ``offset`` (exclusive ranges need Redis 6.2; Node does this)."""
    ms, seq = offset.split("-")
    return f"{ms}-{int(seq) + 1}"


def encode_session(session: dict[str, Any]) -> str:
    """A disconnected socket's session ``{sid, pid, rooms, data}`` as Node keeps it in Redis:
    base64 of its msgpack."""
    ordered = {"sid": session["sid"], "pid": session["pid"], "rooms": list(session["rooms"]), "data": session["data"]}
    return base64.b64encode(notepack.pack(ordered)).decode("ascii")


def decode_session(raw: bytes | str) -> dict[str, Any]:
    """The session a server (Node or hypersio) kept; raises :class:`BadMessage`."""
    try:
        session = notepack.unpack(base64.b64decode(raw, validate=True))
    except Exception as exc:  # base64 or msgpack garbage
        raise BadMessage(f"invalid session: {exc}") from None
    if not isinstance(session, dict) or not isinstance(session.get("sid"), str):
        raise BadMessage("a session is not {sid, pid, rooms, data}")
    rooms = session.get("rooms")
    if not isinstance(rooms, list) or not all(isinstance(room, str) for room in rooms):
        raise BadMessage("the session's rooms are not a list of names")
    return session


def _included(rooms: list[str], opts: BroadcastOptions) -> bool:
    """Whether a broadcast with ``opts`` reached a socket in ``rooms`` (Node's shouldIncludePacket)."""
    if opts.rooms and not any(room in opts.rooms for room in rooms):
        return False
    return not any(room in opts.except_rooms for room in rooms)


def _entries(reply: Any) -> list[tuple[str, dict[Any, Any]]]:
    """``[(id, fields)]`` of an XRANGE reply (or of one stream of an XREAD reply), whatever form
    redis-py gives (pairs, or a flat field list)."""
    entries = []
    for item in reply or ():
        entry_id, fields = item[0], item[1]
        if isinstance(fields, list):
            fields = dict(zip(fields[::2], fields[1::2], strict=False))
        text = _text(entry_id)
        if text is not None and isinstance(fields, dict):
            entries.append((text, fields))
    return entries


# --- the I/O ---------------------------------------------------------------------------------------


class _Stop:
    """A stream reader's own connection, and whether the reader must end (see
    :meth:`StreamHub.detach`)."""

    __slots__ = ("connection", "stopped")

    def __init__(self) -> None:
        self.stopped = False
        self.connection: Any = None


class StreamHub:
    """What the namespaces of one factory share: the Redis link, the namespace -> adapter map the
    readers dispatch by, and one reader task per stream (started by the first namespace of the
    stream, stopped with its last)."""

    def __init__(self, url_or_client: Any, options: dict[str, Any]) -> None:
        self.shared = SharedLink(url_or_client)
        self.options = options
        self.adapters: dict[str, RedisStreamsAdapter] = {}
        self._readers: dict[str, tuple[asyncio.Task[None], _Stop]] = {}
        self._log = RateLimitedLog(logger)

    async def attach(self, adapter: RedisStreamsAdapter) -> None:
        """Route the entries of ``adapter``'s namespace to it, and read its stream."""
        self.adapters[adapter.nsp.name] = adapter
        stream = adapter.stream
        if stream not in self._readers:
            # Start from the stream's last entry now, not from "$" at the first XREAD: an entry
            # added between init() and that first call would otherwise be lost.
            start = await self._last_id(adapter.link, stream)
            if stream not in self._readers:
                stop = _Stop()
                task = spawn(self._read(adapter.link, stream, start, stop), f"Redis stream {stream}")
                self._readers[stream] = (task, stop)

    async def detach(self, adapter: RedisStreamsAdapter) -> None:
        """Stop routing to ``adapter``; the last namespace of a stream stops its reader."""
        if self.adapters.get(adapter.nsp.name) is adapter:
            del self.adapters[adapter.nsp.name]
        stream = adapter.stream
        if any(other.stream == stream for other in self.adapters.values()):
            return
        reader = self._readers.pop(stream, None)
        if reader is None:
            return
        task, stop = reader
        # Cancelling a task blocked in XREAD is not reliable with redis-py (the cancellation is
        # sometimes lost and the read goes on for the whole block time): the flag ends the loop
        # and closing the reader's own connection ends the read at once.
        stop.stopped = True
        if stop.connection is not None:
            try:
                await stop.connection.disconnect()
            except Exception as exc:  # already broken
                logger.debug("closing the reader of %s: %s", stream, exc)
        task.cancel()
        await asyncio.wait({task}, timeout=self.options["block_time"] + 1.0)

    async def _last_id(self, link: RedisLink, stream: str) -> str:
        try:
            entries = _entries(await link.command("XREVRANGE", stream, "+", "-", "COUNT", 1))
        except Exception as exc:  # Redis down: "$" as Node, the reader retries from there
            self._log("start", "cannot read stream %s (%s); reading new entries only", stream, exc)
            return "$"
        return entries[0][0] if entries else "0-0"

    async def _read(self, link: RedisLink, stream: str, last: str, stop: _Stop) -> None:
        """The XREAD BLOCK loop of one stream: survives Redis going away, and carries on from the
        last entry it saw when Redis is back."""
        options = self.options
        block_ms = max(1, int(options["block_time"] * 1000))
        delay = 0.05
        down = False
        # A connection of its own (made by the client's pool, not lent by it): XREAD blocks it,
        # and detach() closes it to end a read.
        connection = stop.connection = link.client.connection_pool.make_connection()
        while not stop.stopped:
            try:
                await connection.send_command(
                    "XREAD", "COUNT", options["read_count"], "BLOCK", block_ms, "STREAMS", stream, last
                )
                reply = await connection.read_response()
            except asyncio.CancelledError:
                await connection.disconnect()
                raise
            except Exception as exc:
                if stop.stopped:
                    return
                await connection.disconnect()  # the next send_command connects again
                if not down:
                    down = True
                    logger.warning("cannot read the Redis stream %s (%s); retrying", stream, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if down:
                down = False
                logger.warning("reading the Redis stream %s again", stream)
            delay = 0.05
            if isinstance(reply, dict):  # RESP3: {stream: entries}
                groups: list[Any] = list(reply.values())
            else:
                groups = [item[1] for item in reply or ()]  # [[stream, entries]]
            if stop.stopped:
                return
            for entries in groups:
                for entry_id, fields in _entries(entries):
                    last = entry_id
                    self._dispatch(entry_id, fields)

    def _dispatch(self, entry_id: str, fields: dict[Any, Any]) -> None:
        nsp = _text(fields.get(b"nsp", fields.get("nsp")))
        if not nsp:
            return  # Node skips entries without a namespace too
        adapter = self.adapters.get(nsp)
        if adapter is None:
            return
        try:
            adapter.on_entry(entry_id, fields)
        except Exception:  # a bug must not stop the reader of every namespace
            logger.exception("error handling the stream entry %s", entry_id)


class RedisStreamsAdapter(ClusterMessageAdapter):
    """One namespace in a ``@socket.io/redis-streams-adapter`` 0.3 cluster (the module
    docstring); :func:`redis_streams_adapter` makes them."""

    def __init__(self, nsp: NamespaceView, hub: StreamHub) -> None:
        options = hub.options
        super().__init__(nsp, options["requests_timeout"])
        self._hub = hub
        self.link = hub.shared.acquire()
        self.stream = stream_of(nsp.name, options["stream_name"], options["stream_count"])
        prefix = options["channel_prefix"]
        self.public_channel = f"{prefix}#{nsp.name}#"
        self.private_channel = f"{self.public_channel}{self.uid}#"
        self._prefix = prefix
        self._sharded = bool(options["use_sharded_pubsub"])
        self._publish_command = "SPUBLISH" if self._sharded else "PUBLISH"
        self._max_len = str(options["max_len"])
        self._only_plaintext = bool(options["only_plaintext"])
        self._session_prefix = options["session_key_prefix"]
        # Recovery lives in Redis here, not in the in-memory store: offsets are stream entry ids.
        self._csr = nsp.server.connection_state_recovery
        self._recovery = None
        self._ready = False

    # --- sending ---------------------------------------------------------------------------------

    def _is_ephemeral(self, msg: dict[str, Any]) -> bool:
        kind = msg["type"]
        if kind == BROADCAST:
            return "requestId" in msg["data"]
        return kind in (SERVER_SIDE_EMIT, FETCH_SOCKETS)

    def _xadd(self, msg: dict[str, Any], reply: bool) -> asyncio.Future[Any] | None:
        fields = encode_entry(msg, self._only_plaintext)
        return self.link.send("XADD", self.stream, "MAXLEN", "~", self._max_len, "*", *fields, reply=reply)

    def _publish(self, msg: dict[str, Any]) -> None:
        if self._is_ephemeral(msg):
            self.link.send(self._publish_command, self.public_channel, encode_msgpack(msg))
        else:
            self._xadd(msg, False)

    def _publish_response(self, requester: str, msg: dict[str, Any]) -> None:
        channel = f"{self._prefix}#{self.nsp.name}#{requester}#"
        self.link.send(self._publish_command, channel, encode_msgpack(msg))

    def broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        """Send the EVENT to the selected sockets of every server (``opts.local``: this one).

        With connection state recovery, local delivery waits for the stream entry, whose id is
        appended as the offset (as Node does; every broadcast waits, so their order holds);
        without it the local sockets get the event at once.
        """
        if opts.local:
            InMemoryAdapter.broadcast(self, data, opts)
            return
        msg = self._broadcast_message(data, opts)
        if self._csr is None:
            self._xadd(msg, False)
            InMemoryAdapter.broadcast(self, data, opts)
            return
        fut = self._xadd(msg, True)
        assert fut is not None
        fut.add_done_callback(lambda done: self._deliver_stored(data, opts, done))

    def _deliver_stored(self, data: list[Any], opts: BroadcastOptions, done: asyncio.Future[Any]) -> None:
        offset = None
        if not done.cancelled() and done.exception() is None:
            offset = _text(done.result())
        # Redis refused or is down: delivered here all the same, without an offset (as Node).
        if offset is not None and not opts.volatile:
            data = [*data, offset]
        InMemoryAdapter.broadcast(self, data, opts)

    def record_packet(self, data: list[Any], opts: BroadcastOptions) -> list[Any] | None:
        """``socket.emit`` with recovery on: stored in the stream and delivered once stored (the
        entry id is its offset), as Node sends it; returns None, meaning "sent by the adapter"."""
        if self._csr is None:
            return data
        self.broadcast(data, opts)
        return None

    async def server_count(self) -> int:
        """The servers of this namespace, this one included: the connections subscribed to its
        public channel (``PUBSUB NUMSUB``, or ``SHARDNUMSUB`` with sharded Pub/Sub)."""
        reply = await self.link.command("PUBSUB", "SHARDNUMSUB" if self._sharded else "NUMSUB", self.public_channel)
        return int(reply[1]) if reply else 0

    # --- receiving -------------------------------------------------------------------------------

    def _on_pubsub(self, channel: bytes, payload: bytes) -> None:
        """A message on the public or the private channel: always msgpack."""
        try:
            msg = notepack.unpack(payload)
        except Exception as exc:  # msgpack raises several types for garbage
            self._reject("a malformed message", exc)
            return
        self.on_message(msg)

    def on_entry(self, entry_id: str, fields: dict[Any, Any]) -> None:
        """One entry of the namespace's stream (the reader calls this), ``entry_id`` its offset."""
        try:
            msg = decode_entry(fields)
        except BadMessage as exc:
            self._reject("a malformed stream entry", exc)
            return
        self.on_message(msg, entry_id)

    def _on_stored_broadcast(self, data: list[Any], opts: BroadcastOptions, offset: str | None) -> None:
        if self._csr is not None and offset is not None and not opts.volatile:
            data = [*data, offset]
        InMemoryAdapter.broadcast(self, data, opts)

    # --- connection state recovery ---------------------------------------------------------------

    def persist_session(self, session: dict[str, Any]) -> None:
        """Keep a disconnected socket's session in Redis for ``max_disconnection_duration``, where
        any server of the cluster (Node's too) can restore it."""
        if self._csr is None:
            return
        try:
            value = encode_session(session)
        except TypeError as exc:  # socket.data that msgpack cannot hold
            self._drop_log("session", "cannot keep the session of %s: %s", session.get("sid"), exc)
            return
        ttl = max(1, int(self._csr.max_disconnection_duration * 1000))
        self.link.send("SET", self._session_prefix + str(session["pid"]), value, "PX", ttl)

    def restore_session(self, pid: str, offset: str) -> SavedSession | Awaitable[SavedSession | None] | None:
        """The session ``pid`` and the events it missed since ``offset``, read from Redis (an
        awaitable), or None at once when recovery is off or the offset is no entry id."""
        if self._csr is None or not _OFFSET.fullmatch(offset):
            return None
        return self._restore(pid, offset)

    async def _restore(self, pid: str, offset: str) -> SavedSession | None:
        key = self._session_prefix + pid

        async def take_session() -> Any:
            # GET and DEL in one transaction rather than GETDEL, so Redis < 6.2 works (as Node).
            pipe = self.link.client.pipeline(transaction=True)
            pipe.get(key)
            pipe.delete(key)
            return (await pipe.execute())[0]

        raw, at_offset = await asyncio.gather(take_session(), self.link.command("XRANGE", self.stream, offset, offset))
        if not raw or not _entries(at_offset):
            return None  # expired, already taken, or the offset was trimmed off the stream
        try:
            session = decode_session(raw)
        except BadMessage as exc:
            self._reject("a malformed session", exc)
            return None
        rooms: list[str] = session["rooms"]
        missed: list[list[Any]] = []
        for _ in range(_MAX_XRANGE_CALLS):
            entries = _entries(await self.link.command("XRANGE", self.stream, next_offset(offset), "+"))
            if not entries:
                break
            for entry_id, fields in entries:
                offset = entry_id
                packet = self._replayed(entry_id, fields, rooms)
                if packet is not None:
                    missed.append(packet)
        return SavedSession(session["sid"], str(session.get("pid") or pid), rooms, session.get("data"), missed)

    def _replayed(self, entry_id: str, fields: dict[Any, Any], rooms: list[str]) -> list[Any] | None:
        """The event data (offset appended) of a stored broadcast the session's rooms got."""
        if _text(fields.get(b"nsp", fields.get("nsp"))) != self.nsp.name:
            return None
        if _text(fields.get(b"type", fields.get("type"))) != str(BROADCAST):
            return None
        try:
            data = decode_entry(fields).get("data")
            if not isinstance(data, dict):
                raise BadMessage("a broadcast entry without data")
            packet_data = event_data(data.get("packet"))
            opts = opts_from_wire(data.get("opts"))
        except BadMessage as exc:
            self._reject("a malformed stream entry", exc)
            return None
        if not _included(rooms, opts):
            return None
        return [*packet_data, entry_id]

    # --- life ------------------------------------------------------------------------------------

    async def init(self) -> None:
        """Subscribe to the public and private channels and read the stream, before the server
        takes clients."""
        if self._ready:
            return
        self._ready = True
        channels = (self.public_channel, self.private_channel)
        if self._sharded:
            await self.link.subscribe(self._on_pubsub, shard_channels=channels)
        else:
            await self.link.subscribe(self._on_pubsub, channels=channels)
        await self._hub.attach(self)

    async def close(self) -> None:
        """Fail pending requests, unsubscribe, stop reading, and close the link with the last
        namespace (sessions persisted just before are flushed first)."""
        await super().close()
        if self._ready:
            await self._hub.detach(self)
            channels = (self.public_channel, self.private_channel)
            try:
                if self._sharded:
                    await self.link.unsubscribe(shard_channels=channels)
                else:
                    await self.link.unsubscribe(channels=channels)
            except Exception as exc:  # closing anyway
                logger.debug("unsubscribing %s failed: %s", self.nsp.name, exc)
        await self._hub.shared.release(self.link)


def redis_streams_adapter(
    url_or_client: Any,
    *,
    stream_name: str = "socket.io",
    stream_count: int = 1,
    channel_prefix: str = "socket.io",
    max_len: int = 10_000,
    read_count: int = 100,
    block_time: float = 5.0,
    session_key_prefix: str = "sio:session:",
    use_sharded_pubsub: bool = False,
    only_plaintext: bool = False,
    requests_timeout: float = 5.0,
) -> Callable[[NamespaceView], RedisStreamsAdapter]:
    """The adapter factory of a ``@socket.io/redis-streams-adapter`` 0.3 cluster: pass the result
    as ``Server(adapter=...)``, with ``connection_state_recovery`` for recovery across servers.

    ``url_or_client`` is a Redis URL or a ``redis.asyncio`` client made with
    ``decode_responses=False`` (its pool lends each stream reader a connection for up to
    ``block_time`` seconds, so its ``socket_timeout`` must be longer). The options are Node's, in
    seconds: ``stream_name``/``stream_count`` (which stream a namespace uses), ``channel_prefix``
    (Pub/Sub channels), ``max_len`` (approximate stream length kept), ``read_count`` and
    ``block_time`` (each XREAD), ``session_key_prefix`` (where sessions are kept),
    ``use_sharded_pubsub`` (SPUBLISH), ``only_plaintext`` (never base64 msgpack in entries);
    ``requests_timeout`` bounds every wait for the other servers. They must match the other
    servers' for the cluster to work.
    """
    refuse_cluster_client(url_or_client)
    if stream_count < 1:
        raise ValueError("stream_count must be at least 1")
    options = {
        "stream_name": stream_name,
        "stream_count": int(stream_count),
        "channel_prefix": channel_prefix,
        "max_len": int(max_len),
        "read_count": int(read_count),
        "block_time": float(block_time),
        "session_key_prefix": session_key_prefix,
        "use_sharded_pubsub": use_sharded_pubsub,
        "only_plaintext": only_plaintext,
        "requests_timeout": float(requests_timeout),
    }
    hub = StreamHub(url_or_client, options)

    def factory(nsp: NamespaceView) -> RedisStreamsAdapter:
        return RedisStreamsAdapter(nsp, hub)

    return factory
