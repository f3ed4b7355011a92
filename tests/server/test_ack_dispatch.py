"""The request/response dispatch path: handler shapes computed once, and the one-handler fast path.

An incoming EVENT with an ack id and a single handler skips the generic dispatch (no ack object
unless the handler can hold it, no signature inspection per event); these tests pin that it
behaves exactly like the generic path in every case that path distinguishes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import pytest
from sio_fakes import settle

import hypersio.server.connection
import hypersio.server.socket
from hypersio import _speedups
from hypersio import parser as P
from hypersio.events.acks import AckCallback, handler_shape, takes_extra_arg
from hypersio.events.emitter import EventEmitter


@pytest.fixture(autouse=True, params=["c", "py"])
def dispatch_twin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test here runs on both twins of hypersio.events.dispatch (compiled and pure Python)."""
    if request.param == "c":
        if _speedups.NO_EXTENSIONS:
            pytest.skip("HYPERSIO_NO_EXTENSIONS=1: compiled twins are off in this run")
        try:
            import hypersio.events._dispatch_c as twin
        except ImportError as exc:
            if _speedups.REQUIRE_EXTENSIONS:
                raise
            pytest.skip(f"compiled module hypersio.events._dispatch_c not built: {exc}")
    else:
        import hypersio.events._dispatch_py as twin
    # Connection builds its Router when it is created; sockets call on_event and build
    # SocketAck through their module.
    monkeypatch.setattr(hypersio.server.connection, "Router", twin.Router)
    monkeypatch.setattr(hypersio.server.socket, "on_event", twin.on_event)
    monkeypatch.setattr(hypersio.server.socket, "SocketAck", twin.SocketAck)
    monkeypatch.setattr(hypersio.server.socket, "SocketRoute", twin.SocketRoute)
    return twin


def test_handler_shape_variants() -> None:
    def plain(a, b=1): ...
    def star(a, *rest): ...
    async def coro(a): ...

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        return wrapper

    class K:
        def m(self, a): ...

        async def am(self, a, cb): ...

    class Callable_:
        def __call__(self, a, cb): ...

    assert handler_shape(plain) == (2, False, False)
    assert handler_shape(star) == (1, True, False)
    assert handler_shape(coro) == (1, False, True)
    # functools.wraps: the wrapped signature counts, as inspect.signature reports it
    assert handler_shape(deco(plain)) == (2, False, False)
    assert handler_shape(K().m) == (1, False, False)
    assert handler_shape(K().am) == (2, False, True)
    assert handler_shape(Callable_()) == (2, False, False)
    assert handler_shape(functools.partial(plain, 1)) == (1, False, False)
    assert handler_shape(print)[1]  # no signature: assumed to take anything
    assert takes_extra_arg(deco(plain), 1) and not takes_extra_arg(deco(plain), 2)


async def test_emitter_once_with_ack_and_reregistration() -> None:
    em = EventEmitter()
    sent: list[Any] = []
    em.once("q", lambda a: a * 2)
    em._dispatch_event("q", [2], AckCallback(sent.append))
    em._dispatch_event("q", [3], AckCallback(sent.append))
    assert sent == [[4]]
    assert not em.has_listeners("q")
    em.once("q", lambda a: a * 3)
    em.on("q", lambda a: None)
    em._dispatch_event("q", [1], AckCallback(sent.append))
    em._dispatch_event("q", [1], AckCallback(sent.append))
    assert sent == [[4], [3]]
    assert len(em.listeners("q")) == 1


async def test_ack_from_return_value_variants(sio, connect) -> None:
    @sio.on("connection")
    def on_conn(socket):
        socket.on("value", lambda a: {"echo": a})
        socket.on("tuple", lambda a: (a, a + 1))
        socket.on("none", lambda a: None)
        socket.on("empty_tuple", lambda: ())
        socket.on("false", lambda: False)

        @socket.on("future")
        def returns_future(a):
            fut = asyncio.get_running_loop().create_future()
            fut.set_result(a + 100)
            return fut

        @socket.on("coro")
        async def coro(a):
            await asyncio.sleep(0)
            return [a]

        @socket.on("coro_none")
        async def coro_none(a):
            return None

    s = connect()
    s.packets()
    for i, (event, args) in enumerate(
        [
            ("value", [1]),
            ("tuple", [1]),
            ("none", [1]),
            ("empty_tuple", []),
            ("false", []),
            ("future", [1]),
            ("coro", [7]),
            ("coro_none", [1]),
            ("nobody", [1]),
        ]
    ):
        s.receive_packet(P.EVENT, "/", [event, *args], 100 + i)
    await settle()
    acks = {p.id: p.data for p in s.packets()}
    assert acks == {100: [{"echo": 1}], 101: [1, 2], 103: [], 104: [False], 105: [101], 106: [[7]]}


async def test_ack_callable_and_return_value_send_once(sio, connect, caplog) -> None:
    calls: list[Any] = []

    @sio.on("connection")
    def on_conn(socket):
        @socket.on("both")
        def both(a, ack):
            ack("from callable")
            ack("again")
            return "from return"

        @socket.on("later")
        async def later(a, ack):
            await asyncio.sleep(0)
            ack(a, "late")

        @socket.on("two")
        def first(a):
            calls.append("first")
            return "first"

        @socket.on("two")
        def second(a, ack):
            calls.append("second")
            ack("second")

    s = connect()
    s.packets()
    with caplog.at_level(logging.DEBUG, logger="hypersio"):
        s.receive_packet(P.EVENT, "/", ["both", 1], 1)
        s.receive_packet(P.EVENT, "/", ["later", 2], 2)
        s.receive_packet(P.EVENT, "/", ["two", 3], 3)
        await settle()
    acks = [(p.id, p.data) for p in s.packets()]
    assert sorted(acks) == [(1, ["from callable"]), (2, [2, "late"]), (3, ["first"])]
    assert calls == ["first", "second"]
    assert "ack already sent" in caplog.text


async def test_failing_handlers_send_no_ack(sio, connect, caplog) -> None:
    @sio.on("connection")
    def on_conn(socket):
        socket.on("boom", lambda a: 1 / 0)

        @socket.on("aboom")
        async def aboom(a):
            raise ValueError("async boom")

    s = connect()
    s.packets()
    with caplog.at_level(logging.ERROR, logger="hypersio"):
        s.receive_packet(P.EVENT, "/", ["boom", 1], 1)
        s.receive_packet(P.EVENT, "/", ["aboom", 1], 2)
        await settle()
    assert s.packets() == []
    assert "ZeroDivisionError" in caplog.text and "async boom" in caplog.text
    assert not s.closed


async def test_ack_after_disconnect_is_dropped(sio, connect) -> None:
    held: list[Any] = []

    @sio.on("connection")
    def on_conn(socket):
        socket.on("hold", lambda a, ack: held.append(ack))

        @socket.on("slow")
        async def slow(a):
            await asyncio.sleep(0.01)
            return a

    s = connect()
    s.packets()
    s.receive_packet(P.EVENT, "/", ["hold", 1], 1)
    s.receive_packet(P.EVENT, "/", ["slow", 1], 2)
    s.receive_packet(P.DISCONNECT, "/")
    held[0]("too late")
    await asyncio.sleep(0.05)
    assert [p for p in s.packets() if p.type == P.ACK] == []


async def test_any_listener_and_numeric_event_with_ack(sio, connect) -> None:
    seen: list[Any] = []

    @sio.on("connection")
    def on_conn(socket):
        socket.on("7", lambda a: a + 1)
        socket.on_any(lambda ev, *a: seen.append((ev, a)))
        socket.on("with_any", lambda a: a * 2)

    s = connect()
    s.packets()
    s.receive_packet(P.EVENT, "/", [7, 1], 1)
    s.receive_packet(P.EVENT, "/", ["with_any", 4], 2)
    acks = {p.id: p.data for p in s.packets()}
    assert acks == {1: [2], 2: [8]}
    assert seen == [("7", (1,)), ("with_any", (4,))]


@pytest.mark.parametrize("use_middleware", [False, True])
async def test_packet_middleware_keeps_ack(sio, connect, use_middleware: bool) -> None:
    @sio.on("connection")
    def on_conn(socket):
        if use_middleware:
            socket.use(lambda event: event.append("mw"))
        # *args leaves room for the ack callable: it comes last, after the middleware's argument
        socket.on("echo", lambda *a: a[-1](*a[:-1]))

    s = connect()
    s.packets()
    s.receive_packet(P.EVENT, "/", ["echo", 1], 5)
    await settle()
    expected = [1, "mw"] if use_middleware else [1]
    assert [(p.id, p.data) for p in s.packets()] == [(5, expected)]


async def test_handler_that_disconnects_sends_no_ack(sio, connect) -> None:
    @sio.on("connection")
    def on_conn(socket):
        @socket.on("bye")
        def bye(a):
            socket.disconnect()
            return "answer after disconnect"

    s = connect()
    s.packets()
    s.receive_packet(P.EVENT, "/", ["bye", 1], 9)
    assert [p.type for p in s.packets()] == [P.DISCONNECT]


async def test_plain_events_without_ack(sio, connect) -> None:
    got: list[Any] = []

    @sio.on("connection")
    def on_conn(socket):
        socket.on("sync", lambda a: got.append(("sync", a)) or "ignored")

        @socket.on("coro")
        async def coro(a):
            got.append(("coro", a))

        socket.on("unicode-\u00e9", lambda: got.append("unicode"))

    s = connect()
    s.packets()
    s.receive_packet(P.EVENT, "/", ["sync", 1])
    s.receive_packet(P.EVENT, "/", ["coro", 2])
    s.receive_packet(P.EVENT, "/", ["unicode-\u00e9"])
    s.receive_packet(P.EVENT, "/", ["nobody", 3])
    await settle()
    assert got == [("sync", 1), "unicode", ("coro", 2)]
    assert s.packets() == []


async def test_parse_error_and_unjoined_namespace_close(sio, connect, codec) -> None:
    s = connect()
    s.packets()
    if codec is P:
        s.receive('2["unterminated"')
        assert s.closed and s.close_reason == "parse error"
    s2 = connect()
    s2.receive_packet(P.EVENT, "/elsewhere", ["x"])
    assert s2.closed and s2.close_reason == "parse error"


async def test_socket_ack_object(dispatch_twin: Any) -> None:
    class Sock:
        connected = True
        nsp_name = "/"

        def __init__(self) -> None:
            self.sent: list[Any] = []
            self.session = self

        closed = False

        def encode(self, ptype: int, nsp: str, data: Any, ack_id: int) -> list[Any]:
            return P.encode_packet(ptype, nsp, data, ack_id)

        def send(self, part: Any, volatile: bool) -> None:
            self.sent.append(part)

    sock = Sock()
    ack = dispatch_twin.SocketAck(sock, 4)
    assert not ack.sent and "sent=False" in repr(ack)
    ack.send_result((1, "a"))
    ack(2)
    assert ack.sent and sock.sent == ['34[1,"a"]']
    dispatch_twin.send_ack(sock, 5, [None])
    assert sock.sent[-1] == "35[null]"
    sock.connected = False
    dispatch_twin.send_ack(sock, 6, [1])
    assert len(sock.sent) == 2


async def test_route_follows_handlers_and_middlewares_added_later(sio, connect) -> None:
    sockets: list[Any] = []
    sio.on("connection", sockets.append)
    s = connect()
    s.packets()
    socket = sockets[0]
    s.receive_packet(P.EVENT, "/", ["late", 1], 1)
    socket.on("late", lambda a: a + 1)
    s.receive_packet(P.EVENT, "/", ["late", 1], 2)
    socket.use(lambda event: event.append(10))
    s.receive_packet(P.EVENT, "/", ["late", 1], 3)
    socket.off("late")
    socket.on("late", lambda a, b: a + b + 100)
    s.receive_packet(P.EVENT, "/", ["late", 1], 4)
    await settle()
    assert [(p.id, p.data) for p in s.packets()] == [(2, [2]), (4, [111])]
