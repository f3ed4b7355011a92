"""socket.io's ClusterAdapter messages (sharded and streams adapters), byte for byte against what
the Node packages write (the samples of CLUSTER-NOTES.md §3.2 and §4.1), their validation, and
the ClusterAdapter rules of ClusterMessageAdapter.on_message. No Redis."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hypersio.adapters.base import BroadcastOptions
from hypersio.adapters.cluster import messages as M
from hypersio.adapters.cluster import notepack
from hypersio.adapters.cluster.redis_sharded import ShardedRedisAdapter
from hypersio.adapters.cluster.wire import BadMessage

UID = "e8d5490c5ae27e41"


def _nsp(name: str = "/") -> Any:
    server = SimpleNamespace(connection_state_recovery=None, parser=None, prepare_message=lambda data: data)
    return SimpleNamespace(
        name=name, server=server, sockets={}, next_ack_id=lambda: 1, on_server_side_emit=lambda data, ack: None
    )


class Recording(M.ClusterMessageAdapter):
    """Publishes into lists and records what on_message hands to the local half."""

    def __init__(self, name: str = "/") -> None:
        super().__init__(_nsp(name))
        self.uid = UID
        self.published: list[dict[str, Any]] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []
        self.calls: list[tuple[Any, ...]] = []
        self.rejected: list[str] = []

    def _publish(self, msg: dict[str, Any]) -> None:
        self.published.append(msg)

    def _publish_response(self, requester: str, msg: dict[str, Any]) -> None:
        self.responses.append((requester, msg))

    def _reject(self, what: str, detail: Any = "") -> None:
        self.rejected.append(f"{what}: {detail}")

    def _on_stored_broadcast(self, data: list[Any], opts: BroadcastOptions, offset: str | None) -> None:
        self.calls.append(("broadcast", data, opts, offset))

    def _on_broadcast_with_ack(self, requester: str, request_id: str, data: list[Any], opts: BroadcastOptions) -> None:
        self.calls.append(("broadcast_with_ack", requester, request_id, data, opts))

    def _on_sockets_join(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        self.calls.append(("join", opts, rooms))

    def _on_sockets_leave(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        self.calls.append(("leave", opts, rooms))

    def _on_disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        self.calls.append(("disconnect", opts, close))

    def _on_fetch_sockets(self, requester: str, request_id: str, opts: BroadcastOptions) -> None:
        self.calls.append(("fetch", requester, request_id, opts))

    def _on_server_side_emit(self, requester: str, request_id: str | None, data: list[Any]) -> None:
        self.calls.append(("sse", requester, request_id, data))

    def _on_fetch_response(self, request_id: Any, sockets: Any) -> None:
        self.calls.append(("fetch_response", request_id, sockets))

    def _on_server_side_response(self, request_id: Any, value: Any) -> None:
        self.calls.append(("sse_response", request_id, value))

    def _on_client_count(self, request_id: Any, count: Any) -> None:
        self.calls.append(("client_count", request_id, count))

    def _on_broadcast_ack(self, request_id: Any, value: Any) -> None:
        self.calls.append(("ack", request_id, value))


def _only(adapter: Recording) -> bytes:
    (msg,) = adapter.published
    adapter.published.clear()
    return M.encode(msg)


# --- bytes: the sharded adapter's samples (§3.2) -----------------------------------------------------


def test_sharded_samples_byte_for_byte() -> None:
    a = Recording()
    a._send_broadcast(["chat", "hi"], BroadcastOptions(rooms=frozenset({"lobby"})))
    assert _only(a) == (
        b'{"type":3,"data":{"packet":{"type":2,"data":["chat","hi"]},'
        b'"opts":{"rooms":["lobby"],"except":[],"flags":{}}},"uid":"e8d5490c5ae27e41","nsp":"/"}'
    )
    a._send_broadcast_with_ack("5d405cadd2aad7a8", ["ask"], BroadcastOptions(rooms=frozenset({"lobby"}), timeout=0.02))
    assert _only(a) == (
        b'{"type":3,"data":{"packet":{"type":2,"data":["ask"]},"requestId":"5d405cadd2aad7a8",'
        b'"opts":{"rooms":["lobby"],"except":[],"flags":{"timeout":20}}},"uid":"e8d5490c5ae27e41","nsp":"/"}'
    )
    a._send_sockets_join(BroadcastOptions(), ["r9"])
    assert _only(a) == (
        b'{"type":4,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"rooms":["r9"]},'
        b'"uid":"e8d5490c5ae27e41","nsp":"/"}'
    )
    a._send_disconnect_sockets(BroadcastOptions(rooms=frozenset({"r9"})), False)
    assert _only(a) == (
        b'{"type":6,"data":{"opts":{"rooms":["r9"],"except":[],"flags":{}},"close":false},'
        b'"uid":"e8d5490c5ae27e41","nsp":"/"}'
    )
    a._send_server_side_emit(["hello", 1], None)
    assert _only(a) == b'{"type":9,"data":{"packet":["hello",1]},"uid":"e8d5490c5ae27e41","nsp":"/"}'
    a._send_fetch_sockets("daa604ac873df4d3", BroadcastOptions(timeout=0.03))
    assert _only(a) == (
        b'{"type":7,"data":{"opts":{"rooms":[],"except":[],"flags":{"timeout":30}},'
        b'"requestId":"daa604ac873df4d3"},"uid":"e8d5490c5ae27e41","nsp":"/"}'
    )
    a._send_server_side_response("req", "efgh", {"pong": True})
    ((requester, msg),) = a.responses
    assert requester == "req"
    assert M.encode(msg) == (
        b'{"type":10,"data":{"requestId":"efgh","packet":{"pong":true}},"uid":"e8d5490c5ae27e41","nsp":"/"}'
    )


def test_sharded_binary_broadcast_is_notepack() -> None:
    a = Recording()
    opts = BroadcastOptions(except_rooms=frozenset({"x"}), volatile=True)
    a._send_broadcast(["bin", b"\x01\x02\x03"], opts)
    expected = bytes.fromhex(
        "84" "a474797065" "03"
        "a464617461" "82"
        "a67061636b6574" "82" "a474797065" "02" "a464617461" "92" "a362696e" "c403010203"
        "a46f707473" "83" "a5726f6f6d73" "90" "a6657863657074" "91" "a178" "a5666c616773" "81" "a8766f6c6174696c65" "c3"
        "a3756964" "b0" + UID.encode().hex() + "a36e7370" "a12f"
    )  # fmt: skip
    assert _only(a) == expected


def test_types_without_binary_stay_json_even_with_bytes() -> None:
    # SOCKETS_JOIN cannot carry binary (§3.2): JSON, bytes written as Node's Buffer JSON.
    msg = M.message(M.BROADCAST_CLIENT_COUNT, {"requestId": "r", "clientCount": 2}, UID, "/")
    assert M.encode(msg).startswith(b"{")
    ack = M.message(M.BROADCAST_ACK, {"requestId": "r", "packet": b"\x00"}, UID, "/")
    assert M.encode(ack)[:1] == b"\x84" and M.decode(M.encode(ack))["data"]["packet"] == b"\x00"


def test_streams_pubsub_sample_is_always_msgpack() -> None:
    msg = M.message(M.SERVER_SIDE_EMIT, {"packet": ["hello", 1]}, UID, "/")
    expected = bytes.fromhex(
        "84a47479706509a46461746181a67061636b657492a568656c6c6f01a3756964b0" + UID.encode().hex() + "a36e7370a12f"
    )
    assert M.encode_msgpack(msg) == expected
    assert M.decode(expected) == msg


def test_sharded_channels() -> None:
    link = SimpleNamespace(send=lambda *args, **kw: None)
    shared = SimpleNamespace(acquire=lambda: link)

    def channel(mode: str, rooms: set[str], request_id: str | None = None) -> str:
        adapter = ShardedRedisAdapter(_nsp(), shared, subscription_mode=mode)  # type: ignore[arg-type]
        data = ["e"]
        opts = BroadcastOptions(rooms=frozenset(rooms))
        msg = adapter._broadcast_message(data, opts)
        if request_id is not None:
            msg["data"]["requestId"] = request_id
        return adapter._channel_of(msg)

    assert channel("dynamic", {"lobby"}) == "socket.io#/#lobby#"
    assert channel("dynamic", {"C" * 20}) == "socket.io#/#"  # looks like a socket id
    assert channel("dynamic-private", {"C" * 20}) == "socket.io#/#" + "C" * 20 + "#"
    assert channel("dynamic", {"lobby", "other"}) == "socket.io#/#"
    assert channel("dynamic", {"lobby"}, "abc") == "socket.io#/#"  # broadcasts with acks: main channel
    assert channel("static", {"lobby"}) == "socket.io#/#"
    with pytest.raises(ValueError, match="subscription_mode"):
        ShardedRedisAdapter(_nsp(), shared, subscription_mode="nope")  # type: ignore[arg-type]


# --- decoding and validation --------------------------------------------------------------------------


def test_decode_reads_node_json_and_msgpack() -> None:
    raw = (
        b'{"type":7,"data":{"opts":{"rooms":[],"except":[],"flags":{"timeout":30}},"requestId":"d"},'
        b'"uid":"u","nsp":"/"}'
    )
    assert M.decode(raw)["data"]["requestId"] == "d"
    packed = notepack.pack(
        {"type": 3, "data": {"packet": {"type": 2, "data": ["e", b"\x01"]}, "opts": {}}, "uid": "u", "nsp": "/"}
    )
    assert M.decode(packed)["data"]["packet"]["data"] == ["e", b"\x01"]
    assert M.decode(b'{"type":2,"uid":"u","nsp":"/"}')["type"] == M.HEARTBEAT  # no data needed


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",  # never used in msgpack
        b"{not json",
        b"[1,2]"[:0] + b"\x92\x01\x02",  # a msgpack array, not a map
        b'{"type":99,"data":{},"uid":"u","nsp":"/"}',
        b'{"type":true,"data":{},"uid":"u","nsp":"/"}',
        b'{"type":3,"data":{},"uid":"u"}',  # no nsp
        b'{"type":3,"data":{},"uid":5,"nsp":"/"}',
        b'{"type":3,"uid":"u","nsp":"/"}',  # no data
        b'{"type":3,"data":{"packet":{"type":2,"data":[]},"opts":{}},"uid":"u","nsp":"/"}',
        b'{"type":3,"data":{"packet":{"type":2,"data":["e"]},"opts":[]},"uid":"u","nsp":"/"}',
        b'{"type":3,"data":{"packet":{"type":2,"data":["e"]},"opts":{},"requestId":7},"uid":"u","nsp":"/"}',
        b'{"type":4,"data":{"opts":{},"rooms":"r"},"uid":"u","nsp":"/"}',
        b'{"type":5,"data":{"opts":{},"rooms":[1]},"uid":"u","nsp":"/"}',
        b'{"type":6,"data":{"opts":{"rooms":{}}},"uid":"u","nsp":"/"}',
        b'{"type":7,"data":{"opts":{}},"uid":"u","nsp":"/"}',  # no requestId
        b'{"type":8,"data":{"requestId":"r","sockets":[{"no":"id"}]},"uid":"u","nsp":"/"}',
        b'{"type":9,"data":{"packet":[]},"uid":"u","nsp":"/"}',
        b'{"type":10,"data":{"packet":1},"uid":"u","nsp":"/"}',
        b'{"type":11,"data":{"requestId":"r","clientCount":"2"},"uid":"u","nsp":"/"}',
        b'{"type":11,"data":{"requestId":"r","clientCount":-1},"uid":"u","nsp":"/"}',
        b'{"type":12,"data":{"packet":1},"uid":"u","nsp":"/"}',
    ],
)
def test_malformed_input_raises_bad_message(payload: bytes) -> None:
    with pytest.raises(BadMessage):
        M.decode(payload)


# --- the ClusterAdapter rules -----------------------------------------------------------------------


def _msg(kind: int, data: dict[str, Any] | None, uid: str = "other", nsp: str = "/") -> dict[str, Any]:
    return M.message(kind, data, uid, nsp)


def test_own_and_other_namespace_messages_are_dropped() -> None:
    a = Recording()
    packet = {"packet": {"type": 2, "data": ["e"]}, "opts": {"rooms": [], "except": [], "flags": {}}}
    a.on_message(_msg(M.BROADCAST, packet, uid=UID))
    a.on_message(_msg(M.BROADCAST, packet, nsp="/admin"))
    assert a.calls == []
    a.on_message(_msg(M.BROADCAST, packet), "1-2")
    ((name, data, opts, offset),) = a.calls
    assert (name, data, opts, offset) == ("broadcast", ["e"], BroadcastOptions(), "1-2")


def test_each_type_reaches_its_handler() -> None:
    a = Recording()
    opts = {"rooms": ["r"], "except": ["x"], "flags": {"volatile": True, "future": 1}}
    expected_opts = BroadcastOptions(rooms=frozenset({"r"}), except_rooms=frozenset({"x"}), volatile=True)
    a.on_message(_msg(M.BROADCAST, {"packet": {"type": 2, "data": ["ask", 1]}, "requestId": "q", "opts": opts}))
    a.on_message(_msg(M.SOCKETS_JOIN, {"opts": opts, "rooms": ["j"]}))
    a.on_message(_msg(M.SOCKETS_LEAVE, {"opts": opts, "rooms": ["j"]}))
    a.on_message(_msg(M.DISCONNECT_SOCKETS, {"opts": opts, "close": True}))
    a.on_message(_msg(M.FETCH_SOCKETS, {"opts": opts, "requestId": "f"}))
    a.on_message(_msg(M.SERVER_SIDE_EMIT, {"packet": ["ev", 1]}))
    a.on_message(_msg(M.SERVER_SIDE_EMIT, {"requestId": "s", "packet": ["ev"]}, uid="emitter"))
    assert a.calls == [
        ("broadcast_with_ack", "other", "q", ["ask", 1], expected_opts),
        ("join", expected_opts, ["j"]),
        ("leave", expected_opts, ["j"]),
        ("disconnect", expected_opts, True),
        ("fetch", "other", "f", expected_opts),
        ("sse", "other", None, ["ev", 1]),
        ("sse", "emitter", "s", ["ev"]),
    ]


def test_responses_through_on_message_and_on_response() -> None:
    a = Recording()
    a.on_message(_msg(M.FETCH_SOCKETS_RESPONSE, {"requestId": "f", "sockets": [{"id": "s"}]}))
    a.on_message(_msg(M.SERVER_SIDE_EMIT_RESPONSE, {"requestId": "s", "packet": {"pong": True}}))
    a.on_response(_msg(M.BROADCAST_CLIENT_COUNT, {"requestId": "b", "clientCount": 3}))
    a.on_response(_msg(M.BROADCAST_ACK, {"requestId": "b", "packet": b"\x01"}, uid=UID))  # own channel: no uid test
    a.on_response(_msg(M.SOCKETS_JOIN, {"opts": {}, "rooms": []}))  # not an answer: ignored
    assert a.calls == [
        ("fetch_response", "f", [{"id": "s"}]),
        ("sse_response", "s", {"pong": True}),
        ("client_count", "b", 3),
        ("ack", "b", b"\x01"),
    ]


def test_heartbeats_are_ignored_and_garbage_never_raises() -> None:
    a = Recording()
    for kind in (M.INITIAL_HEARTBEAT, M.HEARTBEAT, M.ADAPTER_CLOSE):
        a.on_message(_msg(kind, None))
    assert a.calls == [] and a.rejected == [] and a.published == []
    for garbage in (None, 1, "x", [], {"type": 3}, _msg(M.BROADCAST, {"packet": "no"}), _msg(M.SOCKETS_JOIN, {})):
        a.on_message(garbage)
        a.on_response(garbage)
    assert a.calls == []
    assert len(a.rejected) == 14


def test_requests_answer_to_the_requester() -> None:
    a = Recording()
    a._send_fetch_response("them", "f", [{"id": "s", "data": b"\x00"}])
    a._send_client_count("them", "b", 2)
    a._send_broadcast_ack("them", "b", "yes")
    assert [(r, m["type"], m["data"]) for r, m in a.responses] == [
        ("them", M.FETCH_SOCKETS_RESPONSE, {"requestId": "f", "sockets": [{"id": "s", "data": b"\x00"}]}),
        ("them", M.BROADCAST_CLIENT_COUNT, {"requestId": "b", "clientCount": 2}),
        ("them", M.BROADCAST_ACK, {"requestId": "b", "packet": "yes"}),
    ]
    assert M.encode(a.responses[0][1])[:1] != b"{"  # a fetch answer with binary is msgpack
    assert len(a.uid) == 16 and len(a._new_request_id()) == 16
