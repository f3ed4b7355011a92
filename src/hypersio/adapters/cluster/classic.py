"""The classic ``@socket.io/redis-adapter`` 8.x protocol (``createAdapter``), CLUSTER-NOTES.md §2.

Channels per namespace ``N`` with key ``K``: broadcasts on ``K#N#`` (several rooms or none) and
``K#N#<room>#`` (exactly one room), requests on ``K-request#N#``, answers on ``K-response#N#``
(and ``K-response#N#<uid>#``). Broadcasts are msgpack ``[uid, packet, opts]``; requests and answers
are JSON, except broadcasts with acks and their client answers, which are msgpack so that binary
survives. The other servers are counted with ``PUBSUB NUMSUB K-request#N#``.

:class:`ClassicChannels` and the ``encode_*``/``parse_*`` functions are the sans-I/O message layer;
:class:`ClassicAdapter` joins it to a :class:`Transport` (Redis Pub/Sub: :mod:`.redis`).
"""

from __future__ import annotations

from typing import Any, Protocol

from hypersio.adapters.base import BroadcastOptions, NamespaceView
from hypersio.adapters.cluster import notepack
from hypersio.adapters.cluster.core import ClusterAdapterBase
from hypersio.adapters.cluster.wire import (
    BadMessage,
    decode_any,
    dumps,
    event_data,
    opts_from_wire,
    opts_to_wire,
    short_id,
)

__all__ = [
    "ALL_ROOMS",
    "BROADCAST",
    "BROADCAST_ACK",
    "BROADCAST_CLIENT_COUNT",
    "REMOTE_DISCONNECT",
    "REMOTE_FETCH",
    "REMOTE_JOIN",
    "REMOTE_LEAVE",
    "SERVER_SIDE_EMIT",
    "SOCKETS",
    "ClassicAdapter",
    "ClassicChannels",
    "Transport",
    "encode_broadcast",
    "parse_broadcast",
]

# The classic adapter's RequestType (not the ClusterAdapter's MessageType numbers).
SOCKETS = 0
ALL_ROOMS = 1
REMOTE_JOIN = 2
REMOTE_LEAVE = 3
REMOTE_DISCONNECT = 4
REMOTE_FETCH = 5
SERVER_SIDE_EMIT = 6
BROADCAST = 7
BROADCAST_CLIENT_COUNT = 8
BROADCAST_ACK = 9


class ClassicChannels:
    """The channel names of one namespace under one key."""

    __slots__ = ("broadcast", "request", "response", "own_response", "pattern")

    def __init__(self, key: str, nsp: str, uid: str) -> None:
        self.broadcast = f"{key}#{nsp}#"
        self.pattern = self.broadcast + "*"
        self.request = f"{key}-request#{nsp}#"
        self.response = f"{key}-response#{nsp}#"
        self.own_response = f"{key}-response#{nsp}#{uid}#"

    def for_rooms(self, rooms: frozenset[str]) -> str:
        """Where a broadcast to ``rooms`` goes: the room's channel for exactly one room."""
        if len(rooms) == 1:
            (room,) = rooms
            return f"{self.broadcast}{room}#"
        return self.broadcast


def encode_broadcast(uid: str, nsp: str, data: list[Any], opts: BroadcastOptions) -> bytes:
    """The msgpack ``[uid, {type, data, nsp}, {rooms, except, flags}]`` of a broadcast."""
    return notepack.pack([uid, {"type": 2, "data": data, "nsp": nsp}, opts_to_wire(opts)])


def parse_broadcast(payload: bytes) -> tuple[Any, str, list[Any], BroadcastOptions]:
    """``(uid, nsp, data, opts)`` of a broadcast message; raises :class:`BadMessage`."""
    try:
        message = notepack.unpack(payload)
    except Exception as exc:  # msgpack raises several types for garbage
        raise BadMessage(f"invalid msgpack: {exc}") from None
    if not isinstance(message, list) or len(message) != 3:
        raise BadMessage("a broadcast is not [uid, packet, opts]")
    uid, packet, opts = message
    data = event_data(packet)
    nsp = packet.get("nsp") or "/"
    return uid, nsp, data, opts_from_wire(opts)


class Transport(Protocol):
    """What the classic protocol needs of its transport."""

    def publish(self, channel: str, payload: bytes) -> None:
        """Send ``payload`` on ``channel`` (queued, in order)."""
        ...

    async def subscribers(self, channel: str) -> int:
        """How many connections listen on ``channel`` (``PUBSUB NUMSUB``)."""
        ...


class ClassicAdapter(ClusterAdapterBase):
    """One namespace in a classic ``@socket.io/redis-adapter`` cluster (see the module docstring).

    Made by :func:`hypersio.cluster.redis_adapter`; ``all_rooms()`` is this protocol's extra.
    """

    def __init__(
        self,
        nsp: NamespaceView,
        transport: Transport,
        key: str = "socket.io",
        requests_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
    ) -> None:
        super().__init__(nsp, short_id(), requests_timeout)
        self.key = key
        self.transport = transport
        self.channels = ClassicChannels(key, nsp.name, self.uid)
        self._specific_responses = publish_on_specific_response_channel
        self._broadcast_prefix = self.channels.broadcast.encode()
        # How this server's own broadcasts start on the wire (msgpack fixarray of 3, then the
        # uid): they come back through the pattern subscription and are dropped before decoding.
        self._own_broadcast_head = b"\x93" + notepack.pack(self.uid)

    def _new_request_id(self) -> str:
        return short_id()

    # --- sending ---------------------------------------------------------------------------------

    def _publish_json(self, channel: str, message: dict[str, Any]) -> None:
        self.transport.publish(channel, dumps(message))

    def _response_channel(self, requester: str) -> str:
        if self._specific_responses and requester:
            return f"{self.key}-response#{self.nsp.name}#{requester}#"
        return self.channels.response

    def _send_broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        payload = encode_broadcast(self.uid, self.nsp.name, data, opts)
        self.transport.publish(self.channels.for_rooms(opts.rooms), payload)

    def _send_broadcast_with_ack(self, request_id: str, data: list[Any], opts: BroadcastOptions) -> None:
        message = {
            "uid": self.uid,
            "requestId": request_id,
            "type": BROADCAST,
            "packet": {"type": 2, "data": data, "nsp": self.nsp.name},
            "opts": opts_to_wire(opts, with_timeout=True),
        }
        self.transport.publish(self.channels.request, notepack.pack(message))

    def _opts_only(self, opts: BroadcastOptions) -> dict[str, Any]:
        return {"rooms": list(opts.rooms), "except": list(opts.except_rooms)}

    def _send_sockets_join(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        message = {"uid": self.uid, "type": REMOTE_JOIN, "opts": self._opts_only(opts), "rooms": rooms}
        self._publish_json(self.channels.request, message)

    def _send_sockets_leave(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        message = {"uid": self.uid, "type": REMOTE_LEAVE, "opts": self._opts_only(opts), "rooms": rooms}
        self._publish_json(self.channels.request, message)

    def _send_disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        message = {"uid": self.uid, "type": REMOTE_DISCONNECT, "opts": self._opts_only(opts), "close": close}
        self._publish_json(self.channels.request, message)

    def _send_fetch_sockets(self, request_id: str, opts: BroadcastOptions) -> None:
        message = {"uid": self.uid, "requestId": request_id, "type": REMOTE_FETCH, "opts": self._opts_only(opts)}
        self._publish_json(self.channels.request, message)

    def _send_server_side_emit(self, data: list[Any], request_id: str | None) -> None:
        message: dict[str, Any] = {"uid": self.uid}
        if request_id is not None:
            message["requestId"] = request_id
        message["type"] = SERVER_SIDE_EMIT
        message["data"] = data
        self._publish_json(self.channels.request, message)

    def _send_fetch_response(self, requester: str, request_id: str, sockets: list[dict[str, Any]]) -> None:
        self._publish_json(self._response_channel(requester), {"requestId": request_id, "sockets": sockets})

    def _send_server_side_response(self, requester: str, request_id: str, value: Any) -> None:
        # Always the shared channel, as Node does for this one answer.
        message = {"type": SERVER_SIDE_EMIT, "requestId": request_id, "data": value}
        self._publish_json(self.channels.response, message)

    def _send_client_count(self, requester: str, request_id: str, count: int) -> None:
        message = {"type": BROADCAST_CLIENT_COUNT, "requestId": request_id, "clientCount": count}
        self._publish_json(self._response_channel(requester), message)

    def _send_broadcast_ack(self, requester: str, request_id: str, value: Any) -> None:
        message = {"type": BROADCAST_ACK, "requestId": request_id, "packet": value}
        self.transport.publish(self._response_channel(requester), notepack.pack(message))

    async def server_count(self) -> int:
        """The servers listening on this namespace's request channel (``PUBSUB NUMSUB``)."""
        return await self.transport.subscribers(self.channels.request)

    async def all_rooms(self) -> set[str]:
        """Every room of this namespace on every server (socket id rooms included).

        Raises ``ClusterTimeoutError`` when some server does not answer in time.
        """
        rooms = set(self.rooms)
        message = {"uid": self.uid, "requestId": "", "type": ALL_ROOMS}

        def send(request_id: str) -> None:
            message["requestId"] = request_id
            self._publish_json(self.channels.request, message)

        for answer in await self._request("rooms", None, send):
            rooms.update(str(room) for room in answer)
        return rooms

    # --- receiving -------------------------------------------------------------------------------

    def on_broadcast_message(self, channel: bytes, payload: bytes) -> None:
        """A message on this namespace's broadcast channels (the pattern subscription)."""
        if not channel.startswith(self._broadcast_prefix):
            return
        room = channel[len(self._broadcast_prefix) : -1].decode("utf-8", "replace")
        if room and room not in self.rooms:
            return  # nobody here is in that room: not even worth decoding
        if payload.startswith(self._own_broadcast_head):
            return  # our own broadcast, delivered here when it was sent
        try:
            uid, nsp, data, opts = parse_broadcast(payload)
        except BadMessage as exc:
            self._reject("a malformed broadcast", exc)
            return
        if uid == self.uid or nsp != self.nsp.name:
            return
        self._on_broadcast(data, opts)

    def on_request_message(self, channel: bytes, payload: bytes) -> None:
        """A message on this namespace's request channel."""
        try:
            request = decode_any(payload)
            if not isinstance(request, dict):
                raise BadMessage("a request is not a map")
            self._handle_request(request)
        except BadMessage as exc:
            self._reject("a malformed request", exc)

    def _handle_request(self, request: dict[str, Any]) -> None:
        kind = request.get("type")
        uid = request.get("uid")
        request_id = request.get("requestId")
        if kind == REMOTE_FETCH:
            if self._is_own_request(request_id) or not isinstance(request_id, str):
                return
            self._on_fetch_sockets(str(uid), request_id, opts_from_wire(request.get("opts")))
        elif kind == BROADCAST:
            if self._is_own_request(request_id) or not isinstance(request_id, str):
                return
            self._on_broadcast_with_ack(
                str(uid), request_id, event_data(request.get("packet")), opts_from_wire(request.get("opts"))
            )
        elif kind in (REMOTE_JOIN, REMOTE_LEAVE, REMOTE_DISCONNECT):
            self._handle_socket_operation(kind, uid, request_id, request)
        elif kind == SERVER_SIDE_EMIT:
            if uid == self.uid:
                return
            data = request.get("data")
            if not isinstance(data, list) or not data:
                raise BadMessage("server-side emit data is not [event, ...args]")
            self._on_server_side_emit(str(uid), request_id if isinstance(request_id, str) else None, data)
        elif kind == ALL_ROOMS:
            if self._is_own_request(request_id) or not isinstance(request_id, str):
                return
            answer = {"requestId": request_id, "rooms": list(self.rooms)}
            self._publish_json(self._response_channel(str(uid)), answer)
        elif kind == SOCKETS:  # before 8.0: the ids of the sockets in some rooms
            if self._is_own_request(request_id) or not isinstance(request_id, str):
                return
            rooms = request.get("rooms")
            sids = self.sockets(rooms if isinstance(rooms, list) else ())
            self._publish_json(self._response_channel(str(uid)), {"requestId": request_id, "sockets": list(sids)})
        else:
            raise BadMessage(f"unknown request type {kind!r}")

    def _handle_socket_operation(self, kind: int, uid: Any, request_id: Any, request: dict[str, Any]) -> None:
        if "opts" not in request:
            self._handle_legacy_operation(kind, request_id, request)
            return
        if uid == self.uid:
            return  # applied here when sent
        opts = opts_from_wire(request.get("opts"))
        if kind == REMOTE_DISCONNECT:
            self._on_disconnect_sockets(opts, request.get("close") is True)
            return
        rooms = request.get("rooms")
        if not isinstance(rooms, list) or not all(isinstance(r, str) for r in rooms):
            raise BadMessage("rooms is not a list of names")
        if kind == REMOTE_JOIN:
            self._on_sockets_join(opts, rooms)
        else:
            self._on_sockets_leave(opts, rooms)

    def _handle_legacy_operation(self, kind: int, request_id: Any, request: dict[str, Any]) -> None:
        # Adapters before 8.0 acted on one socket by id and waited for its server's answer.
        sid = request.get("sid")
        if not isinstance(sid, str) or sid not in self.nsp.sockets:
            return
        socket = self.nsp.sockets[sid]
        if kind == REMOTE_DISCONNECT:
            socket.disconnect(request.get("close") is True)
        else:
            room = request.get("room")
            if not isinstance(room, str):
                raise BadMessage("room is not a name")
            if kind == REMOTE_JOIN:
                socket.join(room)
            else:
                socket.leave(room)
        if isinstance(request_id, str):
            self._publish_json(self.channels.response, {"requestId": request_id})

    def on_response_message(self, channel: bytes, payload: bytes) -> None:
        """A message on one of this namespace's response channels."""
        try:
            response = decode_any(payload)
        except BadMessage as exc:
            self._reject("a malformed response", exc)
            return
        if not isinstance(response, dict):
            self._reject("a response that is not a map")
            return
        request_id = response.get("requestId")
        kind = response.get("type")
        if kind == BROADCAST_CLIENT_COUNT:
            self._on_client_count(request_id, response.get("clientCount"))
        elif kind == BROADCAST_ACK:
            self._on_broadcast_ack(request_id, response.get("packet"))
        elif kind == SERVER_SIDE_EMIT:
            self._on_server_side_response(request_id, response.get("data"))
        elif "sockets" in response:
            self._on_fetch_response(request_id, response["sockets"])
        elif "rooms" in response:
            rooms = response["rooms"]
            if isinstance(rooms, list):
                self._answered(request_id, "rooms", rooms)
