"""Unit tests of Server/Namespace/Socket/BroadcastOperator over fake Engine.IO sessions."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest
from sio_fakes import FakeSession, settle

import hypersio
from hypersio import parser as P
from hypersio.adapters.memory import InMemoryAdapter


async def test_connect_reply_and_connection_handler(sio, connect) -> None:
    seen = []
    sio.on("connection", lambda s: seen.append(s))
    s = connect()
    pkts = s.packets()
    assert len(pkts) == 1 and pkts[0].type == P.CONNECT and pkts[0].nsp == "/"
    sock = seen[0]
    assert pkts[0].data == {"sid": sock.id}
    assert sock.connected and sock.rooms == {sock.id}
    assert sock.handshake.auth == {} and sock.handshake.address == "127.0.0.1"
    assert sock.handshake["query"]["EIO"] == "4"
    assert isinstance(sock, hypersio.Socket)


async def test_connect_alias_and_auth(sio, connect) -> None:
    seen = []
    sio.on("connect", lambda s: seen.append(s.handshake.auth))
    connect(auth={"token": "123"})
    assert seen == [{"token": "123"}]


async def test_unknown_namespace_refused(sio, connect) -> None:
    s = connect("/random")
    (pkt,) = s.packets()
    assert pkt.type == P.CONNECT_ERROR and pkt.nsp == "/random"
    assert pkt.data == {"message": "Invalid namespace"}
    assert not s.closed


async def test_second_namespace_and_emit(sio, connect) -> None:
    admin = sio.of("admin")
    assert admin is sio.of("/admin")
    got = []

    @admin.on("connection")
    def on_conn(socket):
        socket.emit("hello", "admin")
        socket.on("ping", lambda x: got.append(x))

    s = connect()
    connect("/admin", session=s)
    pkts = s.packets()
    assert [p.type for p in pkts] == [P.CONNECT, P.CONNECT, P.EVENT]
    assert pkts[2].nsp == "/admin" and pkts[2].data == ["hello", "admin"]
    s.receive_packet(P.EVENT, "/admin", ["ping", 7])
    assert got == [7]


async def test_middleware_sync_async_and_refusal(sio, connect) -> None:
    order = []

    def mw1(socket):
        order.append("mw1")
        socket.data["user"] = socket.handshake.auth.get("user")

    async def mw2(socket):
        await asyncio.sleep(0)
        order.append("mw2")
        if socket.data["user"] != "ok":
            raise hypersio.ConnectError("Not authorized", {"code": 42})

    sio.use(mw1)
    sio.use(mw2)
    sio.on("connection", lambda s: order.append(("conn", s.data["user"])))
    bad = connect(auth={"user": "bad"})
    good = connect(auth={"user": "ok"})
    await settle()
    (refusal,) = bad.packets()
    assert refusal.type == P.CONNECT_ERROR
    assert refusal.data == {"message": "Not authorized", "data": {"code": 42}}
    assert [p.type for p in good.packets()] == [P.CONNECT]
    assert order.count(("conn", "ok")) == 1 and ("conn", "bad") not in order


async def test_middleware_crash_refuses_with_message(sio, connect, caplog) -> None:
    def mw(socket):
        raise RuntimeError("db down")

    sio.use(mw)
    with caplog.at_level(logging.ERROR, logger="hypersio"):
        s = connect()
        await settle()
    (pkt,) = s.packets()
    assert pkt.type == P.CONNECT_ERROR and pkt.data == {"message": "db down"}
    assert "db down" in caplog.text


async def test_incoming_ack_callback_and_return(sio, connect) -> None:
    @sio.on("connection")
    def on_conn(socket):
        @socket.on("request")
        def on_request(a, b, callback):
            callback({"status": "ok", "a": a})

        @socket.on("request2")
        async def on_request2(a, b):
            return {"status": "ok2"}

        socket.on("multi", lambda: (1, "two", b"\x03"))
        socket.on("noack", lambda: "ignored")

    s = connect()
    s.packets()
    s.receive_packet(P.EVENT, "/", ["request", 1, 2], 12)
    s.receive_packet(P.EVENT, "/", ["request2", 1, 2], 13)
    s.receive_packet(P.EVENT, "/", ["multi"], 14)
    s.receive_packet(P.EVENT, "/", ["noack"])
    await settle()
    acks = {p.id: p.data for p in s.packets()}
    assert acks[12] == [{"status": "ok", "a": 1}]
    assert acks[13] == [{"status": "ok2"}]
    assert acks[14] == [1, "two", b"\x03"]
    assert len(acks) == 3


async def test_binary_event_roundtrip(sio, connect) -> None:
    got = []

    @sio.on("connection")
    def on_conn(socket):
        socket.on("bin", lambda *args: got.append(args))
        socket.emit("hello", 1, "2", {"3": "4", "5": b"\x06"})

    s = connect()
    assert s.events() == [["hello", 1, "2", {"3": "4", "5": b"\x06"}]]
    s.receive_packet(P.EVENT, "/", ["bin", {"x": b"\x00\x01"}, [b"z"]])
    assert got == [({"x": b"\x00\x01"}, [b"z"])]


async def test_server_to_client_acks_and_timeouts(sio, connect) -> None:
    sockets = []
    sio.on("connection", sockets.append)
    s = connect()
    s.packets()
    sock = sockets[0]
    plain, timed = [], []
    sock.emit("q1", {"foo": "bar"}, lambda *r: plain.append(r))
    sock.timeout(5).emit("q2", lambda err, *r: timed.append((err, r)))
    fut = asyncio.ensure_future(sock.timeout(5).emit_with_ack("q3", "baz"))
    fut_multi = asyncio.ensure_future(sock.emit_with_ack("q4"))
    late = asyncio.ensure_future(sock.timeout(0.05).emit_with_ack("q5"))
    late_cb = []
    sock.timeout(0.05).emit("q6", lambda err, *r: late_cb.append(err))
    await settle()
    ids = {p.data[0]: p.id for p in s.packets()}
    assert set(ids) == {"q1", "q2", "q3", "q4", "q5", "q6"}
    assert len(set(ids.values())) == 6
    s.receive_packet(P.ACK, "/", ["r1", 2], ids["q1"])
    s.receive_packet(P.ACK, "/", ["r2"], ids["q2"])
    s.receive_packet(P.ACK, "/", [{"v": 3}], ids["q3"])
    s.receive_packet(P.ACK, "/", [1, 2], ids["q4"])
    assert plain == [("r1", 2)]
    assert timed == [(None, ("r2",))]
    assert await fut == {"v": 3}
    assert await fut_multi == (1, 2)
    with pytest.raises(hypersio.AckTimeoutError):
        await late
    assert isinstance(late_cb[0], hypersio.AckTimeoutError)


async def test_emit_with_ack_fails_on_disconnect(sio, connect) -> None:
    sockets = []
    sio.on("connection", sockets.append)
    s = connect()
    fut = asyncio.ensure_future(sockets[0].emit_with_ack("q"))
    await settle()
    s.close("transport close")
    with pytest.raises(hypersio.DisconnectedError):
        await fut
    with pytest.raises(hypersio.DisconnectedError):
        await sockets[0].emit_with_ack("again")


async def test_reserved_event_names_rejected(sio, connect) -> None:
    sockets = []
    sio.on("connection", sockets.append)
    connect()
    for name in ("connect", "disconnect", "disconnecting", "connect_error"):
        with pytest.raises(ValueError):
            sockets[0].emit(name)
        with pytest.raises(ValueError):
            sio.emit(name)


async def test_rooms_to_except_and_socket_broadcast(sio, connect) -> None:
    socks: list[Any] = []
    sio.on("connection", socks.append)
    sessions = [connect() for _ in range(4)]
    for s in sessions:
        s.packets()
    a, b, c, d = socks
    a.join("r1")
    b.join(["r1", "r2"])
    c.join("r2")
    sio.to("r1").emit("to_r1")
    sio.to("r1").to("r2").emit("to_r1_r2")
    sio.except_("r1").emit("not_r1")
    sio.to("r2").except_("r1").emit("r2_not_r1")
    a.to("r1").emit("a_to_r1")
    a.broadcast.emit("a_bcast")
    sio.emit("all")
    sio.to(d.id).emit("direct")
    got = [[e[0] for e in s.events()] for s in sessions]
    assert got[0] == ["to_r1", "to_r1_r2", "all"]
    assert got[1] == ["to_r1", "to_r1_r2", "a_to_r1", "a_bcast", "all"]
    assert got[2] == ["to_r1_r2", "not_r1", "r2_not_r1", "a_bcast", "all"]
    assert got[3] == ["not_r1", "a_bcast", "all", "direct"]
    b.leave("r1")
    sio.to("r1").emit("after_leave")
    assert [e[0] for e in sessions[1].events()] == []
    assert b.rooms == {b.id, "r2"}


async def test_broadcast_encodes_once(sio, connect, monkeypatch, codec) -> None:
    socks: list[Any] = []
    sio.on("connection", socks.append)
    sessions = [connect() for _ in range(5)]
    for sock in socks:
        sock.join("room")
    calls = []
    real = sio.parser.encode_packet

    def counting(*a):
        calls.append(a)
        return real(*a)

    monkeypatch.setattr(sio.parser, "encode_packet", counting)
    made = []
    real_prepare = sio.prepare_message
    monkeypatch.setattr(sio, "prepare_message", lambda d: made.append(d) or real_prepare(d))
    sio.to("room").emit("x", {"b": b"\x01\x02"})
    assert len(calls) == 1
    assert len(made) == (2 if codec is P else 1)
    for s in sessions:
        assert s.events()[-1] == ["x", {"b": b"\x01\x02"}]


async def test_operator_is_immutable() -> None:
    sio = hypersio.Server()
    base = sio.to("a")
    chained = base.to("b").except_("c").volatile.timeout(3).local.compress(False)
    assert base._opts.rooms == frozenset({"a"})
    assert not base._opts.volatile and base._opts.timeout is None and not base._opts.except_rooms
    o = chained._opts
    assert o.rooms == {"a", "b"} and o.except_rooms == {"c"} and o.volatile and o.local
    assert o.timeout == 3.0 and not o.compress
    assert isinstance(base, hypersio.BroadcastOperator)


def test_broadcast_options_copy_compare_and_refuse_unknown_fields() -> None:
    from hypersio.adapters.memory import BroadcastOptions

    a = BroadcastOptions(rooms=frozenset({"r"}), extra={"k": 1})
    b = a.replace(volatile=True, timeout=2.0)
    assert (a.volatile, a.timeout) == (False, None) and (b.volatile, b.timeout) == (True, 2.0)
    assert b.rooms == a.rooms and b.extra is a.extra
    assert a == BroadcastOptions(rooms=frozenset({"r"})) and hash(a) == hash(BroadcastOptions(rooms=frozenset({"r"})))
    assert a != b and "volatile=True" in repr(b)
    with pytest.raises(TypeError):
        a.replace(room=frozenset())


async def test_broadcast_acks_collect_and_timeout(sio, connect) -> None:
    socks: list[Any] = []
    sio.on("connection", socks.append)
    sessions = [connect() for _ in range(3)]
    for s in sessions:
        s.packets()
    fut = asyncio.ensure_future(sio.timeout(1).emit_with_ack("q", 1))
    await settle()
    pkts = [s.packets()[0] for s in sessions]
    assert len({p.id for p in pkts}) == 1
    for i, (s, p) in enumerate(zip(sessions, pkts)):
        s.receive_packet(P.ACK, "/", [i], p.id)
    assert sorted(await fut) == [0, 1, 2]

    results = []
    sio.timeout(0.05).emit("q2", lambda err, res: results.append((err, res)))
    await settle()
    pkts = [s.packets()[0] for s in sessions]
    sessions[0].receive_packet(P.ACK, "/", ["only"], pkts[0].id)
    await asyncio.sleep(0.1)
    ((err, res),) = results
    assert isinstance(err, hypersio.AckTimeoutError) and res == ["only"]
    with pytest.raises(hypersio.AckTimeoutError):
        await sio.timeout(0.02).emit_with_ack("q3")


async def test_broadcast_ack_without_clients_completes(sio) -> None:
    assert await sio.timeout(1).emit_with_ack("nobody") == []


async def test_fetch_join_leave_disconnect_sockets(sio, connect) -> None:
    socks: list[Any] = []
    sio.on("connection", socks.append)
    sessions = [connect() for _ in range(3)]
    socks[0].join("vip")
    assert {s.id for s in await sio.fetch_sockets()} == {s.id for s in socks}
    assert [s.id for s in await sio.in_("vip").fetch_sockets()] == [socks[0].id]
    sio.except_("vip").sockets_join("plebs")
    assert {s.id for s in await sio.to("plebs").fetch_sockets()} == {socks[1].id, socks[2].id}
    sio.sockets_leave("plebs")
    assert await sio.to("plebs").fetch_sockets() == []
    reasons = []
    for sock in socks:
        sock.on("disconnect", lambda reason, desc: reasons.append(reason))
    sio.to("vip").disconnect_sockets()
    assert reasons == ["server namespace disconnect"]
    assert [p.type for p in sessions[0].packets()][-1] == P.DISCONNECT
    assert not sessions[0].closed
    sio.disconnect_sockets(close=True)
    assert sessions[1].closed and sessions[2].closed
    assert reasons.count("server namespace disconnect") == 3
    assert sio.sockets.sockets == {} and sio.sockets.adapter.rooms == {}


async def test_disconnect_reasons(sio, connect) -> None:
    events = []
    socks: list[Any] = []

    @sio.on("connection")
    def on_conn(socket):
        socks.append(socket)
        socket.on("disconnecting", lambda r, d: events.append(("disconnecting", r, set(socket.rooms))))
        socket.on("disconnect", lambda r, d: events.append(("disconnect", r, set(socket.rooms))))
        socket.join("x")

    s1, s2 = connect(), connect()
    s1.receive_packet(P.DISCONNECT, "/")
    assert events[0] == ("disconnecting", "client namespace disconnect", {socks[0].id, "x"})
    assert events[1] == ("disconnect", "client namespace disconnect", set())
    assert not socks[0].connected and not s1.closed
    s2.close("ping timeout")
    assert events[3] == ("disconnect", "ping timeout", set())
    s3 = connect()
    socks[2].disconnect()
    assert events[-1][:2] == ("disconnect", "server namespace disconnect")
    assert s3.packets()[-1].type == P.DISCONNECT


async def test_server_close_reason(sio, connect) -> None:
    reasons = []
    sio.on("connection", lambda s: s.on("disconnect", lambda r, d: reasons.append(r)))
    sessions = [connect(), connect()]
    await sio.close()
    assert reasons == ["server shutting down"] * 2
    assert all(s.closed for s in sessions)


async def test_handler_exception_is_logged_connection_survives(sio, connect, caplog) -> None:
    got = []

    @sio.on("connection")
    def on_conn(socket):
        socket.on("boom", lambda: 1 / 0)
        socket.on("ok", lambda: got.append("ok"))

    s = connect()
    with caplog.at_level(logging.ERROR, logger="hypersio"):
        s.receive_packet(P.EVENT, "/", ["boom"])
    s.receive_packet(P.EVENT, "/", ["ok"])
    assert "ZeroDivisionError" in caplog.text
    assert got == ["ok"] and not s.closed


async def test_parse_error_closes_only_that_client(sio, connect, caplog, codec) -> None:
    reasons = []
    sio.on("connection", lambda s: s.on("disconnect", lambda r, d: reasons.append(r)))
    bad, good = connect(), connect()
    with caplog.at_level(logging.WARNING, logger="hypersio"):
        bad.receive("2{}" if codec is P else b"\xc1garbage")
    assert bad.closed and bad.close_reason == "parse error"
    assert reasons == ["parse error"]
    assert "invalid packet" in caplog.text
    assert not good.closed
    sio.emit("still")
    assert good.events() == [["still"]]


async def test_event_before_connect_closes(sio, codec) -> None:
    s = FakeSession(codec)
    sio._on_engine_connection(s)
    s.receive_packet(P.EVENT, "/", ["x"])
    assert s.closed


async def test_connect_timeout_closes_idle_session(codec) -> None:
    sio = hypersio.Server(parser="json" if codec is P else "msgpack", connect_timeout=0.05)
    s = FakeSession(codec)
    s2 = FakeSession(codec)
    sio._on_engine_connection(s)
    sio._on_engine_connection(s2)
    s2.receive_packet(P.CONNECT, "/", None)
    await asyncio.sleep(0.1)
    assert s.closed and not s2.closed


async def test_dynamic_namespaces(sio, connect) -> None:
    teams = sio.of(re.compile(r"^/team-\d+$"))
    joined = []
    teams.on("connection", lambda s: joined.append(s.nsp.name))
    checker = sio.of(lambda name, auth: name.startswith("/user-") and auth.get("ok"))
    checker.on("connection", lambda s: joined.append(s.nsp.name))
    s = connect()
    connect("/team-1", session=s)
    connect("/team-x", session=s)
    connect("/user-9", auth={"ok": True}, session=s)
    connect("/user-10", auth={"ok": False}, session=s)
    await settle()
    by_nsp = {p.nsp: p for p in s.packets()}
    assert by_nsp["/team-1"].type == P.CONNECT
    assert by_nsp["/team-x"].type == P.CONNECT_ERROR
    assert by_nsp["/user-9"].type == P.CONNECT
    assert by_nsp["/user-10"].type == P.CONNECT_ERROR
    assert sorted(joined) == ["/team-1", "/user-9"]
    teams.emit("hi-teams")
    assert [p.nsp for p in s.packets()] == ["/team-1"]


async def test_on_any_and_outgoing(sio, connect) -> None:
    seen_in, seen_out, seen_other = [], [], []
    socks: list[Any] = []

    @sio.on("connection")
    def on_conn(socket):
        socks.append(socket)
        socket.on_any(lambda ev, *a: seen_in.append((ev, a)))
        target = seen_out if len(socks) == 1 else seen_other
        socket.on_any_outgoing(lambda ev, *a: target.append((ev, a)))

    s1, _s2 = connect(), connect()
    s1.receive_packet(P.EVENT, "/", ["foo", 1])
    socks[0].emit("bar", 2, lambda *a: None)
    socks[0].broadcast.emit("bc", 3)
    sio.emit("everyone")
    assert seen_in == [("foo", (1,))]
    assert seen_out == [("bar", (2,)), ("everyone", ())]
    assert seen_other == [("bc", (3,)), ("everyone", ())]


async def test_volatile_flag_passed_to_session(sio, connect) -> None:
    socks: list[Any] = []
    sio.on("connection", socks.append)
    s = connect()
    socks[0].volatile.emit("v")
    sio.volatile.emit("bv")
    assert [v for _, v in s.sent[-2:]] == [True, True]


async def test_custom_adapter_factory(codec) -> None:
    made = []

    class MyAdapter(InMemoryAdapter):
        def __init__(self, nsp):
            super().__init__(nsp)
            made.append(nsp.name)

    sio = hypersio.Server(adapter=MyAdapter)
    sio.of("/x")
    assert made == ["/", "/x"]
    assert isinstance(sio.of("/x").adapter, MyAdapter)


async def test_js_style_next_middleware(sio, connect) -> None:
    def mw(socket, next):
        if socket.handshake.auth.get("ok"):
            next()
        else:
            next(hypersio.ConnectError("nope", [1]))

    sio.use(mw)
    good, bad = connect(auth={"ok": True}), connect()
    await settle()
    assert good.packets()[0].type == P.CONNECT
    (pkt,) = bad.packets()
    assert pkt.type == P.CONNECT_ERROR and pkt.data == {"message": "nope", "data": [1]}


async def test_emit_after_namespace_disconnect_is_dropped(sio, connect) -> None:
    socks: list[Any] = []
    sio.on("connection", socks.append)
    s = connect()
    socks[0].disconnect()
    s.packets()
    socks[0].emit("late")
    assert s.packets() == []


async def test_dynamic_parent_broadcasts_to_children(sio, connect) -> None:
    parent = sio.of(re.compile(r"^/game-\d+$"))
    socks: list[Any] = []
    parent.on("connection", socks.append)
    s = connect()
    connect("/game-1", session=s)
    connect("/game-2", session=s)
    await settle()
    s.packets()
    socks[0].join("red")
    parent.to("red").emit("red-team")
    parent.emit("all-games")
    got = [(p.nsp, p.data[0]) for p in s.packets()]
    assert sorted(got) == [("/game-1", "all-games"), ("/game-1", "red-team"), ("/game-2", "all-games")]
    assert {x.nsp.name for x in await parent.fetch_sockets()} == {"/game-1", "/game-2"}
    parent.disconnect_sockets()
    assert not any(x.connected for x in socks)


async def test_join_inside_outgoing_listener_during_broadcast(sio, connect) -> None:
    socks: list[Any] = []

    @sio.on("connection")
    def on_conn(socket):
        socks.append(socket)
        socket.on_any_outgoing(lambda ev, *a: socket.join(f"got-{ev}"))

    sessions = [connect() for _ in range(3)]
    for sock in socks:
        sock.join("r")
    sio.to("r").emit("x")
    assert all("got-x" in sock.rooms for sock in socks)
    assert all(s.events()[-1] == ["x"] for s in sessions)


async def test_numeric_event_name(sio, connect) -> None:
    got = []
    sio.on("connection", lambda s: s.on("42", lambda *a: got.append(a)))
    s = connect()
    s.receive_packet(P.EVENT, "/", [42, "x"])
    assert got == [("x",)]


async def test_volatile_packets_with_attachments_are_sent_whole(sio, connect, codec) -> None:
    socks: list[Any] = []
    sio.on("connection", socks.append)
    s = connect()
    before = len(s.sent)
    socks[0].volatile.emit("bin", b"\x01")
    sio.volatile.emit("bin", b"\x02")
    flags = [v for _, v in s.sent[before:]]
    if codec is P:  # text packet + attachment: both must go, so neither is volatile
        assert flags == [False, False, False, False]
    else:  # msgpack carries binary inline: one message, volatile is safe
        assert flags == [True, True]


async def test_unencodable_arguments_raise_and_leave_no_pending_ack(sio, connect) -> None:
    socks: list[Any] = []
    sio.on("connection", socks.append)
    connect()
    sock = socks[0]
    with pytest.raises(TypeError):
        sock.timeout(0.01).emit("x", object(), lambda err, *a: pytest.fail("callback must not run"))
    with pytest.raises(TypeError):
        await sock.emit_with_ack("x", object())
    assert len(sock.acks) == 0
    called = []
    with pytest.raises(TypeError):
        sio.timeout(0.01).emit("x", object(), lambda err, res: called.append(err))
    await asyncio.sleep(0.05)
    assert called == []


async def test_no_state_left_after_clients_go(sio, connect) -> None:
    admin = sio.of("/admin")
    socks: list[Any] = []
    for nsp in (sio.sockets, admin):
        nsp.on("connection", lambda s: (socks.append(s), s.join(["a", "b"])))
    sessions = []
    for i in range(20):
        s = connect()
        connect("/admin", session=s)
        sessions.append(s)
    assert len(sio._connections) == 20 and len(admin.sockets) == 20
    for i, s in enumerate(sessions):
        if i % 3 == 0:
            s.receive_packet(P.DISCONNECT, "/admin")
        s.close("transport close" if i % 2 else "ping timeout")
    assert sio._connections == {}
    for nsp in (sio.sockets, admin):
        assert nsp.sockets == {} and nsp.adapter.rooms == {} and nsp.adapter.sids == {}
    assert not any(s.connected for s in socks) and all(len(s.acks) == 0 for s in socks)


async def test_socket_use_packet_middlewares(sio, connect) -> None:
    got, errors, seen_any = [], [], []

    @sio.on("connection")
    def on_conn(socket):
        socket.on_any(lambda ev, *a: seen_any.append(ev))

        @socket.use
        def upper(event):
            if event[0] == "forbidden":
                raise ValueError("not allowed")
            event[1:] = [str(a).upper() for a in event[1:]]

        @socket.use
        async def slow(event):
            await asyncio.sleep(0)
            if event[0] == "late-refusal":
                raise hypersio.ConnectError("refused late")

        def js_style(event, next):
            next(RuntimeError("js says no") if event[0] == "js-refusal" else None)

        socket.use(js_style)
        socket.on("shout", lambda text: got.append(text) or "ok")
        socket.on("forbidden", lambda *a: got.append("must not run"))
        socket.on("error", lambda exc: errors.append(str(exc)))

    s = connect()
    s.packets()
    s.receive_packet(P.EVENT, "/", ["shout", "hi"], 5)
    s.receive_packet(P.EVENT, "/", ["forbidden", "x"])
    s.receive_packet(P.EVENT, "/", ["late-refusal"])
    s.receive_packet(P.EVENT, "/", ["js-refusal"])
    await settle(10)
    assert got == ["HI"]
    assert errors == ["not allowed", "refused late", "js says no"]
    assert seen_any == ["shout", "forbidden", "late-refusal", "js-refusal"]
    (ack,) = s.packets()
    assert ack.type == P.ACK and ack.id == 5 and ack.data == ["ok"]
