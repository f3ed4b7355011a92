"""The client scenarios: the Socket.IO API overview, client side, as test functions.

They take a ``server`` fixture (the scenarios of tests/js/node_server.js) and a ``transports``
fixture; tests/interop/test_client_vs_socketio_server.py runs them against the official Node
server, tests/client/test_client_pyserver.py against hypersio's own Server. Every scenario runs
over websocket, polling and polling→websocket upgrade, with the JSON and the msgpack parser.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import hypersio
from _support.client_node import NodeServer


async def make_client(
    server: NodeServer, transports: tuple[str, ...], nsp: str = "", **options: Any
) -> hypersio.AsyncClient:
    client = hypersio.AsyncClient(server.url + nsp, transports=transports, parser=server.parser, **options)
    await asyncio.wait_for(client.connect(), 5)
    return client


class Inbox:
    """Collects the arguments of one event; ``await inbox.get()`` returns the next arrival."""

    def __init__(self, client: hypersio.AsyncClient, event: str) -> None:
        self.queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.on(event, lambda *args: self.queue.put_nowait(args))

    async def get(self, timeout: float = 3.0) -> tuple[Any, ...]:
        return await asyncio.wait_for(self.queue.get(), timeout)


async def test_connect_and_transport(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    try:
        assert client.connected
        info = await client.timeout(3).emit_with_ack("whoami")
        assert info["id"] == client.id
        assert info["nsp"] == "/"
        if transports == ("polling", "websocket"):
            # The upgrade completes shortly after the connection; the server then sees websocket.
            for _ in range(50):
                if client.transport == "websocket":
                    break
                await asyncio.sleep(0.05)
            info = await client.timeout(3).emit_with_ack("whoami")
        assert info["transport"] == transports[-1]
        assert client.transport == transports[-1]
    finally:
        await client.disconnect()
    assert not client.connected


async def test_emit_several_args_with_binary(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    try:
        echo = Inbox(client, "echo-back")
        client.emit("echo", "world")
        assert await echo.get() == ("world",)
        client.emit("echo", 1, "2", {"3": "4", "5": b"\x06"}, [b"\x00\xff", {"deep": bytearray(b"x")}])
        assert await echo.get() == (1, "2", {"3": "4", "5": b"\x06"}, [b"\x00\xff", {"deep": b"x"}])
    finally:
        await client.disconnect()


async def test_ack_with_callback_and_timeout(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    try:
        loop = asyncio.get_running_loop()
        plain: asyncio.Future[tuple[Any, ...]] = loop.create_future()
        client.emit("ack", {"foo": "bar"}, "baz", lambda *args: plain.set_result(args))
        assert await asyncio.wait_for(plain, 3) == ({"foo": "bar"}, "baz")

        with_timeout: asyncio.Future[tuple[Any, ...]] = loop.create_future()
        client.timeout(3).emit("ack", b"\x01", lambda err, *args: with_timeout.set_result((err, *args)))
        assert await asyncio.wait_for(with_timeout, 4) == (None, b"\x01")

        timed_out: asyncio.Future[tuple[Any, ...]] = loop.create_future()
        client.timeout(0.2).emit("no-ack", 1, lambda err, *args: timed_out.set_result((err, *args)))
        result = await asyncio.wait_for(timed_out, 3)
        assert isinstance(result[0], hypersio.AckTimeoutError) and result[1:] == ()
    finally:
        await client.disconnect()


async def test_emit_with_ack(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    try:
        assert await client.timeout(3).emit_with_ack("ack", {"foo": "bar"}) == {"foo": "bar"}
        assert await client.timeout(3).emit_with_ack("ack", "a", 2) == ("a", 2)
        assert await client.emit_with_ack("ack-multi") == (1, "two", b"\x03\x04")
        with pytest.raises(hypersio.AckTimeoutError):
            await client.timeout(0.2).emit_with_ack("no-ack")
    finally:
        await client.disconnect()


async def test_ack_timeout_option(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports, ack_timeout=0.2)
    try:
        with pytest.raises(hypersio.AckTimeoutError):
            await client.emit_with_ack("no-ack")
        assert await client.emit_with_ack("ack", 5) == 5
    finally:
        await client.disconnect()


async def test_server_to_client_acks(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    try:

        @client.on("by-callback")
        def by_callback(a: Any, b: Any, callback: Any) -> None:
            callback({"sum": a + b})

        @client.on("by-return")
        async def by_return(value: bytes) -> tuple[Any, ...]:
            await asyncio.sleep(0)
            return value + b"!", "two"

        answer = await client.timeout(3).emit_with_ack("ask", "by-callback", 2, 3)
        assert answer == {"ok": True, "response": {"sum": 5}}
        answer = await client.timeout(3).emit_with_ack("ask", "by-return", b"hi")
        assert answer == {"ok": True, "response": [b"hi!", "two"]} or answer == {
            "ok": True,
            "response": b"hi!",
        }
        # A handler without room for the callable and without a return value: no ack, so the
        # server's own timeout fires.
        client.on("silent", lambda: None)
        answer = await client.timeout(4).emit_with_ack("ask", "silent")
        assert answer["ok"] is False
    finally:
        await client.disconnect()


async def test_on_any_and_outgoing(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    try:
        incoming: list[tuple[Any, ...]] = []
        outgoing: list[tuple[Any, ...]] = []
        client.on_any(lambda event, *args: incoming.append((event, *args)))
        client.on_any_outgoing(lambda event, *args: outgoing.append((event, *args)))
        echo = Inbox(client, "echo-back")
        client.emit("echo", 1, b"2")
        await echo.get()
        assert outgoing == [("echo", 1, b"2")]
        assert incoming == [("echo-back", 1, b"2")]
        client.off_any()
        client.off_any_outgoing()
        client.emit("echo", 3)
        await echo.get()
        assert len(incoming) == 1 and len(outgoing) == 1
    finally:
        await client.disconnect()


async def test_once_and_off(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    try:
        once: list[Any] = []
        always: list[Any] = []
        client.once("echo-back", once.append)
        handler = client.on("echo-back", always.append)
        echo = Inbox(client, "echo-back")
        client.emit("echo", 1)
        await echo.get()
        client.off("echo-back", handler)
        client.emit("echo", 2)
        await echo.get()
        assert once == [1] and always == [1]
    finally:
        await client.disconnect()


async def test_rooms_and_broadcast_seen_by_two_clients(server: NodeServer, transports: tuple[str, ...]) -> None:
    a = await make_client(server, transports)
    b = await make_client(server, transports)
    try:
        room = f"room-{a.id}"
        assert room in await a.timeout(3).emit_with_ack("join", room)
        a_news, b_news = Inbox(a, "news"), Inbox(b, "news")
        b.emit("to-room", room, "news", "for the room", b"\x07")
        assert await a_news.get() == ("for the room", b"\x07")
        a.emit("broadcast", "news", "from a")
        assert await b_news.get() == ("from a",)
        assert b_news.queue.empty() and a_news.queue.empty()
        # b is not in the room; a's broadcast did not come back to a.
        await asyncio.sleep(0.1)
        assert a_news.queue.empty() and b_news.queue.empty()
    finally:
        await a.disconnect()
        await b.disconnect()


async def test_second_namespace_multiplexed(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    admin = client.manager.socket("/admin")
    try:
        await asyncio.wait_for(admin.connect(), 5)
        assert admin.connected and admin.id and admin.id != client.id
        assert admin.manager is client.manager
        info = await admin.timeout(3).emit_with_ack("whoami")
        assert info["nsp"] == "/admin"
        echo = Inbox(admin, "echo-back")
        root_echo = Inbox(client, "echo-back")
        admin.emit("echo", "on admin")
        assert await echo.get() == ("on admin",)
        assert root_echo.queue.empty()
        # Leaving one namespace keeps the shared connection for the other.
        await admin.disconnect()
        assert client.connected
        assert await client.timeout(3).emit_with_ack("ack", 1) == 1
    finally:
        await admin.disconnect()
        await client.disconnect()


async def test_namespace_in_url(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports, nsp="/admin")
    try:
        assert client.nsp == "/admin"
        assert (await client.timeout(3).emit_with_ack("whoami"))["nsp"] == "/admin"
    finally:
        await client.disconnect()


async def test_unknown_namespace_raises(server: NodeServer, transports: tuple[str, ...]) -> None:
    errors: list[Any] = []
    client = hypersio.AsyncClient(server.url + "/nope", transports=transports, parser=server.parser)
    client.on("connect_error", errors.append)
    with pytest.raises(hypersio.ConnectError) as info:
        await asyncio.wait_for(client.connect(), 5)
    assert info.value.message == "Invalid namespace"
    assert not client.connected
    assert len(errors) == 1 and errors[0].message == "Invalid namespace"
    assert client.manager.engine is None  # nothing else used the connection: it was closed


async def test_auth_refused_and_accepted(server: NodeServer, transports: tuple[str, ...]) -> None:
    with pytest.raises(hypersio.ConnectError) as info:
        await make_client(server, transports, nsp="/auth")
    assert info.value.message == "not authorized"
    assert info.value.data == {"code": 42}

    calls: list[int] = []

    async def auth() -> dict[str, Any]:
        calls.append(1)
        return {"token": "secret"}

    client = await make_client(server, transports, nsp="/auth", auth=auth)
    try:
        assert calls == [1]
        info2 = await client.timeout(3).emit_with_ack("whoami")
        assert info2["auth"] == {"token": "secret"}
    finally:
        await client.disconnect()


async def test_headers_and_query(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports, nsp="?from=url", headers={"X-Custom": "yes"}, query={"token": "abc"})
    try:
        info = await client.timeout(3).emit_with_ack("whoami")
        assert info["query"]["token"] == "abc"
        assert info["query"]["from"] == "url"
        assert info["query"]["EIO"] == "4"
        assert info["headers"]["x-custom"] == "yes"
    finally:
        await client.disconnect()


async def test_disconnect_reasons(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    sid = client.id
    reasons: list[tuple[Any, ...]] = []
    client.on("disconnect", lambda *args: reasons.append(args))
    await client.disconnect()
    assert reasons and reasons[0][0] == "io client disconnect"
    assert client.manager.engine is None
    async with hypersio.AsyncClient(server.url, transports=transports, parser=server.parser) as other:
        assert await other.timeout(3).emit_with_ack("reason-of", sid) == "client namespace disconnect"

        # The server ends the namespace: "io server disconnect", and no reconnection.
        gone = asyncio.get_running_loop().create_future()
        other.on("disconnect", lambda reason, description: gone.set_result(reason))
        other.emit("disconnect-me")
        assert await asyncio.wait_for(gone, 3) == "io server disconnect"
        await asyncio.sleep(0.2)
        assert not other.connected and not other.active


async def test_buffered_emits_before_connect_and_volatile(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = hypersio.AsyncClient(server.url, transports=transports, parser=server.parser)
    echo = Inbox(client, "echo-back")
    client.emit("echo", "buffered", b"\x01")
    client.volatile.emit("echo", "volatile, dropped")
    answer = asyncio.ensure_future(client.timeout(3).emit_with_ack("ack", "acked later"))
    await asyncio.wait_for(client.connect(), 5)
    try:
        assert await echo.get() == ("buffered", b"\x01")
        assert await answer == "acked later"
        await asyncio.sleep(0.1)
        assert echo.queue.empty()
    finally:
        await client.disconnect()


async def test_connect_shortcut_and_context_manager(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await hypersio.connect(server.url, transports=transports, parser=server.parser)
    try:
        assert client.connected
    finally:
        await client.disconnect()
    async with hypersio.AsyncClient(server.url, transports=transports, parser=server.parser) as c:
        assert c.connected
        assert await c.timeout(3).emit_with_ack("ack", "ctx") == "ctx"
    assert not c.connected


async def test_retries_deliver_at_least_once(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports, ack_timeout=0.2, retries=2)
    try:
        outgoing: list[Any] = []
        client.on_any_outgoing(lambda event, *args: outgoing.append(event))
        # Never acknowledged: sent 1 + 2 times, then fails.
        with pytest.raises(hypersio.AckTimeoutError):
            await client.emit_with_ack("no-ack", "x")
        assert outgoing == ["no-ack"] * 3
        # Packets are sent one at a time, in order.
        results: list[Any] = []
        done = asyncio.get_running_loop().create_future()

        def record(err: Any, value: Any = None) -> None:
            results.append((err, value))
            if len(results) == 3:
                done.set_result(None)

        for i in range(3):
            client.emit("ack", i, record)
        await asyncio.wait_for(done, 3)
        assert results == [(None, 0), (None, 1), (None, 2)]
    finally:
        await client.disconnect()


async def test_reserved_event_names_refused(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = hypersio.AsyncClient(server.url, transports=transports, parser=server.parser)
    for name in ("connect", "connect_error", "disconnect", "disconnecting"):
        with pytest.raises(ValueError):
            client.emit(name)


async def test_buffered_emit_that_timed_out_is_never_sent(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = hypersio.AsyncClient(server.url, transports=transports, parser=server.parser)
    outgoing: list[Any] = []
    client.on_any_outgoing(lambda event, *args: outgoing.append((event, *args)))
    results: list[Any] = []
    client.timeout(0.1).emit("echo", "too late", lambda err, *args: results.append(err))
    client.emit("echo", "in time")
    await asyncio.sleep(0.25)
    assert len(results) == 1 and isinstance(results[0], hypersio.AckTimeoutError)
    echo = Inbox(client, "echo-back")
    await asyncio.wait_for(client.connect(), 5)
    try:
        assert await echo.get() == ("in time",)
        assert outgoing == [("echo", "in time")]
    finally:
        await client.disconnect()


async def test_send_is_emit_message(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    try:
        outgoing: list[Any] = []
        client.on_any_outgoing(lambda event, *args: outgoing.append((event, *args)))
        client.send("hi", 1)
        assert outgoing == [("message", "hi", 1)]
    finally:
        await client.disconnect()


async def test_volatile_dropped_while_polling_post_in_flight(server: NodeServer, transports: tuple[str, ...]) -> None:
    if transports != ("polling",):
        pytest.skip("a busy transport is observable on long-polling (one POST at a time)")
    client = await make_client(server, transports)
    try:
        echo = Inbox(client, "echo-back")
        client.emit("echo", "x" * 100_000)
        await asyncio.sleep(0)  # the POST is now in flight
        client.volatile.emit("echo", "dropped")
        assert (await echo.get())[0] == "x" * 100_000
        for _ in range(100):  # the POST's "ok" may trail the echo by a moment
            if client.manager.can_send_now():
                break
            await asyncio.sleep(0.01)
        client.volatile.emit("echo", "sent")  # the transport is idle again
        assert await echo.get() == ("sent",)
    finally:
        await client.disconnect()


async def test_order_kept_across_the_upgrade(server: NodeServer, transports: tuple[str, ...]) -> None:
    if transports != ("polling", "websocket"):
        pytest.skip("only the upgrade moves messages between transports")
    client = await make_client(server, transports)
    try:
        echo = Inbox(client, "echo-back")
        count = 0
        for _ in range(40):  # emit in bursts across the whole upgrade window
            for _ in range(5):
                client.emit("echo", count, b"%d" % count)
                count += 1
            await asyncio.sleep(0.005)
        assert client.transport == "websocket"
        received = [await echo.get() for _ in range(count)]
        assert received == [(i, b"%d" % i) for i in range(count)]
    finally:
        await client.disconnect()


async def test_flags_chain(server: NodeServer, transports: tuple[str, ...]) -> None:
    client = await make_client(server, transports)
    try:
        assert await client.compress(False).timeout(3).emit_with_ack("ack", 1) == 1
        assert await client.timeout(3).compress(True).emit_with_ack("ack", b"2") == b"2"
        echo = Inbox(client, "echo-back")
        client.compress(False).emit("echo", "compressed or not")
        assert await echo.get() == ("compressed or not",)
        with pytest.raises(hypersio.AckTimeoutError):
            await client.volatile.timeout(0.2).emit_with_ack("no-ack")
    finally:
        await client.disconnect()
