"""socket.io's ClusterAdapter protocol (socket.io-adapter 2.5, CLUSTER-NOTES.md §3), sans I/O.

The sharded Redis adapter and the Redis streams adapter 0.3 both speak it, and so will any
transport between hypersio processes: every message is ``{type, data, uid, nsp}`` with the
numbered :data:`MessageType` values below, whatever carries it.

* :func:`message` builds one in Node's key order; :func:`encode` writes it as the sharded adapter
  does (JSON, or notepack msgpack when a type that may carry binary does); :func:`encode_msgpack`
  writes it as the streams adapter's Pub/Sub does (always msgpack); :func:`decode` reads either
  by the first byte; :func:`validate` checks the shape of a decoded one and raises
  :class:`~hypersio.adapters.cluster.wire.BadMessage` for what does not fit.
* :class:`ClusterMessageAdapter` is the adapter half: it implements every ``_send_*`` of
  :class:`~hypersio.adapters.cluster.core.ClusterAdapterBase` through two methods a transport
  supplies (:meth:`~ClusterMessageAdapter._publish`, :meth:`~ClusterMessageAdapter._publish_response`)
  and applies what :meth:`~ClusterMessageAdapter.on_message` is given with the ClusterAdapter's
  rules. No Redis here: :mod:`.redis_sharded` and :mod:`.redis_streams` put it on Redis.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypersio.adapters.base import BroadcastOptions, NamespaceView
from hypersio.adapters.cluster import notepack
from hypersio.adapters.cluster.core import ClusterAdapterBase
from hypersio.adapters.cluster.wire import (
    BadMessage,
    decode_any,
    dumps,
    event_data,
    hex_id,
    opts_from_wire,
    opts_to_wire,
)

__all__ = [
    "ADAPTER_CLOSE",
    "BROADCAST",
    "BROADCAST_ACK",
    "BROADCAST_CLIENT_COUNT",
    "DISCONNECT_SOCKETS",
    "FETCH_SOCKETS",
    "FETCH_SOCKETS_RESPONSE",
    "HEARTBEAT",
    "INITIAL_HEARTBEAT",
    "MAY_CONTAIN_BINARY",
    "RESPONSE_TYPES",
    "SERVER_SIDE_EMIT",
    "SERVER_SIDE_EMIT_RESPONSE",
    "SOCKETS_JOIN",
    "SOCKETS_LEAVE",
    "ClusterMessageAdapter",
    "decode",
    "encode",
    "encode_msgpack",
    "message",
    "validate",
]

# socket.io-adapter's MessageType (not the classic adapter's RequestType numbers).
INITIAL_HEARTBEAT = 1
HEARTBEAT = 2
BROADCAST = 3
SOCKETS_JOIN = 4
SOCKETS_LEAVE = 5
DISCONNECT_SOCKETS = 6
FETCH_SOCKETS = 7
FETCH_SOCKETS_RESPONSE = 8
SERVER_SIDE_EMIT = 9
SERVER_SIDE_EMIT_RESPONSE = 10
BROADCAST_CLIENT_COUNT = 11
BROADCAST_ACK = 12
ADAPTER_CLOSE = 13

#: The types whose data may hold binary: only these are ever written as msgpack by the sharded
#: adapter (and as base64 msgpack in a stream entry), and only when their data does hold some.
MAY_CONTAIN_BINARY = frozenset(
    {BROADCAST, BROADCAST_ACK, FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE}
)
#: Answers to a request, matched by ``data.requestId``.
RESPONSE_TYPES = frozenset({FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT_RESPONSE, BROADCAST_CLIENT_COUNT, BROADCAST_ACK})
_HEARTBEATS = frozenset({INITIAL_HEARTBEAT, HEARTBEAT, ADAPTER_CLOSE})
_MAX_TYPE = ADAPTER_CLOSE


# --- the message layer ---------------------------------------------------------------------------


def message(kind: int, data: dict[str, Any] | None, uid: str, nsp: str) -> dict[str, Any]:
    """The message ``{type, data, uid, nsp}`` in Node's key order (``data`` left out when None,
    as for the heartbeat family), ready for :func:`encode` or :func:`encode_msgpack`."""
    if data is None:
        return {"type": kind, "uid": uid, "nsp": nsp}
    return {"type": kind, "data": data, "uid": uid, "nsp": nsp}


def encode(msg: dict[str, Any]) -> bytes:
    """``msg`` as the sharded adapter writes it: compact JSON, unless its type may carry binary
    and its data does, then notepack msgpack (CLUSTER-NOTES.md §3.2)."""
    if msg.get("type") in MAY_CONTAIN_BINARY and notepack.has_binary(msg.get("data")):
        return notepack.pack(msg)
    return dumps(msg)


def encode_msgpack(msg: dict[str, Any]) -> bytes:
    """``msg`` as the streams adapter's Pub/Sub writes it: always msgpack (``@msgpack/msgpack``
    writes what a Python value holds as notepack does, CLUSTER-NOTES.md §4.1)."""
    return notepack.pack(msg)


def decode(payload: bytes) -> dict[str, Any]:
    """One message from ``payload`` (JSON when it starts with ``{``, msgpack otherwise), its
    shape checked with :func:`validate`; raises :class:`BadMessage`."""
    return validate(decode_any(payload))


def _request_id(data: dict[str, Any], required: bool) -> None:
    request_id = data.get("requestId")
    if request_id is None and not required:
        return
    if not isinstance(request_id, str):
        raise BadMessage("requestId is not a string")


def _rooms(data: dict[str, Any]) -> None:
    rooms = data.get("rooms")
    if not isinstance(rooms, list) or not all(isinstance(room, str) for room in rooms):
        raise BadMessage("rooms is not a list of names")


def validate(msg: Any) -> dict[str, Any]:
    """``msg`` when it has the shape its type requires (CLUSTER-NOTES.md §3.3), else raises
    :class:`BadMessage`; what a handler reads after this is of the expected type.

    ``uid`` may be missing (an emitter); unknown types are refused, the heartbeat family (1, 2,
    13) needs no data.
    """
    if not isinstance(msg, dict):
        raise BadMessage("a message is not a map")
    kind = msg.get("type")
    if not isinstance(kind, int) or isinstance(kind, bool) or not 1 <= kind <= _MAX_TYPE:
        raise BadMessage(f"unknown message type {kind!r}")
    if not isinstance(msg.get("nsp"), str):
        raise BadMessage("nsp is not a string")
    uid = msg.get("uid")
    if uid is not None and not isinstance(uid, str):
        raise BadMessage("uid is not a string")
    if kind in _HEARTBEATS:
        return msg
    data = msg.get("data")
    if not isinstance(data, dict):
        raise BadMessage(f"the data of a type {kind} message is not a map")
    if kind == BROADCAST:
        event_data(data.get("packet"))
        opts_from_wire(data.get("opts"))
        _request_id(data, required=False)
    elif kind in (SOCKETS_JOIN, SOCKETS_LEAVE):
        opts_from_wire(data.get("opts"))
        _rooms(data)
    elif kind == DISCONNECT_SOCKETS:
        opts_from_wire(data.get("opts"))
    elif kind == FETCH_SOCKETS:
        opts_from_wire(data.get("opts"))
        _request_id(data, required=True)
    elif kind == SERVER_SIDE_EMIT:
        packet = data.get("packet")
        if not isinstance(packet, list) or not packet:
            raise BadMessage("a server-side emit's packet is not [event, ...args]")
        _request_id(data, required=False)
    elif kind == FETCH_SOCKETS_RESPONSE:
        _request_id(data, required=True)
        sockets = data.get("sockets")
        if not isinstance(sockets, list) or not all(isinstance(s, dict) and "id" in s for s in sockets):
            raise BadMessage("a fetch_sockets answer with a malformed socket list")
    elif kind == BROADCAST_CLIENT_COUNT:
        _request_id(data, required=True)
        count = data.get("clientCount")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise BadMessage("clientCount is not a count")
    else:  # SERVER_SIDE_EMIT_RESPONSE, BROADCAST_ACK: any answer value
        _request_id(data, required=True)
    return msg


# --- the adapter ---------------------------------------------------------------------------------


class ClusterMessageAdapter(ClusterAdapterBase):
    """One namespace in a cluster that speaks the ClusterAdapter protocol (the module docstring).

    A transport subclass implements :meth:`_publish` (to every server of the namespace) and
    :meth:`_publish_response` (to one requester), decodes what it receives, and hands it to
    :meth:`on_message` (or :meth:`on_response` for its own response channel); it also
    implements ``server_count``. The uid and request ids are 16 hex characters, as Node's.
    """

    TIMEOUT_TEXT: ClassVar[dict[str, str]] = {
        "rooms": "timeout reached while waiting for allRooms response",
        # ClusterAdapter's words for both kinds of request it makes.
        "fetch": "timeout reached: only {got} responses received out of {expected}",
        "emit": "timeout reached: only {got} responses received out of {expected}",
    }

    def __init__(self, nsp: NamespaceView, requests_timeout: float = 5.0) -> None:
        super().__init__(nsp, hex_id(), requests_timeout)

    def _new_request_id(self) -> str:
        return hex_id()

    # --- the transport's side (subclasses) ---------------------------------------------------------

    def _publish(self, msg: dict[str, Any]) -> None:
        """Send ``msg`` to every server of the namespace (queued, in order)."""
        raise NotImplementedError

    def _publish_response(self, requester: str, msg: dict[str, Any]) -> None:
        """Send the answer ``msg`` to the server whose adapter uid is ``requester``."""
        raise NotImplementedError

    def _on_stored_broadcast(self, data: list[Any], opts: BroadcastOptions, offset: str | None) -> None:
        """Another server's plain broadcast; ``offset`` is where the transport stored it (a
        stream entry id) or None. The streams adapter appends it for connection state recovery."""
        self._on_broadcast(data, opts)

    # --- sending -------------------------------------------------------------------------------------

    def _message(self, kind: int, data: dict[str, Any]) -> dict[str, Any]:
        return message(kind, data, self.uid, self.nsp.name)

    def _broadcast_message(self, data: list[Any], opts: BroadcastOptions) -> dict[str, Any]:
        """The BROADCAST message of a plain broadcast (the packet has no ``nsp``, §1.1)."""
        return self._message(BROADCAST, {"packet": {"type": 2, "data": data}, "opts": opts_to_wire(opts)})

    def _send_broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        self._publish(self._broadcast_message(data, opts))

    def _send_broadcast_with_ack(self, request_id: str, data: list[Any], opts: BroadcastOptions) -> None:
        body = {"packet": {"type": 2, "data": data}, "requestId": request_id, "opts": opts_to_wire(opts, True)}
        self._publish(self._message(BROADCAST, body))

    def _send_sockets_join(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        self._publish(self._message(SOCKETS_JOIN, {"opts": opts_to_wire(opts), "rooms": list(rooms)}))

    def _send_sockets_leave(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        self._publish(self._message(SOCKETS_LEAVE, {"opts": opts_to_wire(opts), "rooms": list(rooms)}))

    def _send_disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        self._publish(self._message(DISCONNECT_SOCKETS, {"opts": opts_to_wire(opts), "close": close}))

    def _send_fetch_sockets(self, request_id: str, opts: BroadcastOptions) -> None:
        self._publish(self._message(FETCH_SOCKETS, {"opts": opts_to_wire(opts, True), "requestId": request_id}))

    def _send_server_side_emit(self, data: list[Any], request_id: str | None) -> None:
        # The presence of requestId is what asks the others for an answer.
        body: dict[str, Any] = {"packet": data} if request_id is None else {"requestId": request_id, "packet": data}
        self._publish(self._message(SERVER_SIDE_EMIT, body))

    def _send_fetch_response(self, requester: str, request_id: str, sockets: list[dict[str, Any]]) -> None:
        body = {"requestId": request_id, "sockets": sockets}
        self._publish_response(requester, self._message(FETCH_SOCKETS_RESPONSE, body))

    def _send_server_side_response(self, requester: str, request_id: str, value: Any) -> None:
        body = {"requestId": request_id, "packet": value}
        self._publish_response(requester, self._message(SERVER_SIDE_EMIT_RESPONSE, body))

    def _send_client_count(self, requester: str, request_id: str, count: int) -> None:
        body = {"requestId": request_id, "clientCount": count}
        self._publish_response(requester, self._message(BROADCAST_CLIENT_COUNT, body))

    def _send_broadcast_ack(self, requester: str, request_id: str, value: Any) -> None:
        body = {"requestId": request_id, "packet": value}
        self._publish_response(requester, self._message(BROADCAST_ACK, body))

    # --- receiving -----------------------------------------------------------------------------------

    def on_message(self, msg: Any, offset: str | None = None) -> None:
        """Apply one decoded message from the namespace's channel (or stream, ``offset`` being
        its entry id), with the ClusterAdapter's rules: a message of this adapter's own uid or
        of another namespace is dropped, answers go to :meth:`on_response`. A malformed message
        is dropped with a rate-limited log; nothing raises into the caller's read loop."""
        try:
            msg = validate(msg)
        except BadMessage as exc:
            self._reject("a malformed message", exc)
            return
        uid = msg.get("uid")
        if uid == self.uid or msg["nsp"] != self.nsp.name:
            return
        kind = msg["type"]
        if kind in _HEARTBEATS:
            # Only ClusterAdapterWithHeartbeat (no Redis adapter of 8.3 / 0.3) sends these; a
            # plain ClusterAdapter, as Node's sharded and streams adapters, ignores them.
            return
        if kind in RESPONSE_TYPES:
            self._response(msg)
            return
        requester = uid if isinstance(uid, str) else ""
        data = msg["data"]
        try:
            self._apply(kind, requester, data, offset)
        except BadMessage as exc:
            self._reject("a malformed message", exc)

    def _apply(self, kind: int, requester: str, data: dict[str, Any], offset: str | None) -> None:
        if kind == BROADCAST:
            packet_data = event_data(data["packet"])
            opts = opts_from_wire(data.get("opts"))
            request_id = data.get("requestId")
            if request_id is None:
                self._on_stored_broadcast(packet_data, opts, offset)
            elif not self._is_own_request(request_id):
                self._on_broadcast_with_ack(requester, request_id, packet_data, opts)
        elif kind == SOCKETS_JOIN:
            self._on_sockets_join(opts_from_wire(data.get("opts")), data["rooms"])
        elif kind == SOCKETS_LEAVE:
            self._on_sockets_leave(opts_from_wire(data.get("opts")), data["rooms"])
        elif kind == DISCONNECT_SOCKETS:
            self._on_disconnect_sockets(opts_from_wire(data.get("opts")), data.get("close") is True)
        elif kind == FETCH_SOCKETS:
            self._on_fetch_sockets(requester, data["requestId"], opts_from_wire(data.get("opts")))
        elif kind == SERVER_SIDE_EMIT:
            self._on_server_side_emit(requester, data.get("requestId"), data["packet"])

    def on_response(self, msg: Any) -> None:
        """Apply one decoded answer to a request of this adapter (what arrives on its own
        response channel); anything else is dropped, a malformed one with a rate-limited log."""
        try:
            msg = validate(msg)
        except BadMessage as exc:
            self._reject("a malformed response", exc)
            return
        if msg["type"] in RESPONSE_TYPES:
            self._response(msg)

    def _response(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        data = msg["data"]
        request_id = data["requestId"]
        if kind == FETCH_SOCKETS_RESPONSE:
            self._on_fetch_response(request_id, data["sockets"])
        elif kind == SERVER_SIDE_EMIT_RESPONSE:
            self._on_server_side_response(request_id, data.get("packet"))
        elif kind == BROADCAST_CLIENT_COUNT:
            self._on_client_count(request_id, data["clientCount"])
        else:
            self._on_broadcast_ack(request_id, data.get("packet"))
