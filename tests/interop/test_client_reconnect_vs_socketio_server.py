"""Reconnection: the official Node server is stopped and started again on the same port."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import hypersio
from _support.client_node import NodeServer
from _support.fixtures import TRANSPORTS

pytestmark = [pytest.mark.interop, pytest.mark.timeout(15)]


@pytest.fixture
def restartable(node_env: dict[str, str]) -> Iterator[NodeServer]:
    server = NodeServer(node_env, "json")
    server.start()
    yield server
    server.stop()


async def wait_for_event(client: hypersio.AsyncClient, event: str, timeout: float = 5.0) -> tuple[Any, ...]:
    fut = asyncio.get_running_loop().create_future()

    def handler(*args: Any) -> None:
        if not fut.done():
            fut.set_result(args)

    client.once(event, handler)
    return await asyncio.wait_for(fut, timeout)


@pytest.mark.parametrize("kind", list(TRANSPORTS))
async def test_reconnects_rejoins_and_flushes_buffer(restartable: NodeServer, kind: str) -> None:
    auth_calls: list[int] = []

    def auth() -> dict[str, Any]:
        auth_calls.append(1)
        return {"token": "secret", "n": len(auth_calls)}

    client = hypersio.AsyncClient(
        restartable.url,
        transports=TRANSPORTS[kind],
        auth=auth,
        reconnection_delay=0.1,
        reconnection_delay_max=0.3,
    )
    attempts: list[Any] = []
    client.manager.on("reconnect_attempt", attempts.append)
    await asyncio.wait_for(client.connect(), 5)
    admin = client.manager.socket("/admin")
    await asyncio.wait_for(admin.connect(), 5)
    first_id = client.id
    try:
        echo: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.on("echo-back", lambda *args: echo.put_nowait(args))
        lost = asyncio.ensure_future(wait_for_event(client, "disconnect"))
        await asyncio.sleep(0)
        restartable.stop()
        reason = (await lost)[0]
        assert reason in ("transport close", "transport error")
        assert not client.connected and client.active

        # Emitted while the server is down: buffered, delivered after the reconnection.
        client.emit("echo", "sent while down", b"\x09")
        answer = asyncio.ensure_future(client.timeout(8).emit_with_ack("ack", "ack while down"))
        await asyncio.sleep(0.4)  # let a few reconnection attempts fail
        back = asyncio.ensure_future(wait_for_event(client, "connect", 8))
        admin_back = asyncio.ensure_future(wait_for_event(admin, "connect", 8))
        restartable.restart()
        await back
        await admin_back
        assert client.connected and admin.connected
        assert client.id != first_id
        assert attempts, "the manager reported no reconnection attempt"
        assert await asyncio.wait_for(echo.get(), 3) == ("sent while down", b"\x09")
        assert await answer == "ack while down"
        # auth ran again for the new connection
        info = await client.timeout(3).emit_with_ack("whoami")
        assert info["auth"]["n"] == len(auth_calls) and len(auth_calls) >= 2
        assert (await admin.timeout(3).emit_with_ack("whoami"))["nsp"] == "/admin"
    finally:
        await admin.disconnect()
        await client.disconnect()


async def test_server_closing_transport_triggers_reconnect(restartable: NodeServer) -> None:
    client = hypersio.AsyncClient(
        restartable.url, transports=("websocket",), reconnection_delay=0.05, reconnection_delay_max=0.1
    )
    await asyncio.wait_for(client.connect(), 5)
    try:
        reasons: list[str] = []
        client.on("disconnect", lambda reason, description: reasons.append(reason))
        back = asyncio.ensure_future(wait_for_event(client, "connect"))
        await asyncio.sleep(0)
        client.emit("close-transport")
        await back
        assert reasons == ["transport close"]
        assert client.connected
    finally:
        await client.disconnect()


async def test_reconnection_disabled(restartable: NodeServer) -> None:
    client = hypersio.AsyncClient(restartable.url, transports=("websocket",), reconnection=False)
    await asyncio.wait_for(client.connect(), 5)
    lost = asyncio.ensure_future(wait_for_event(client, "disconnect"))
    await asyncio.sleep(0)
    client.emit("close-transport")
    await lost
    await asyncio.sleep(0.3)
    assert not client.connected
    assert client.manager.engine is None
    await client.disconnect()


async def test_reconnection_attempts_exhausted(restartable: NodeServer) -> None:
    client = hypersio.AsyncClient(
        restartable.url,
        transports=("websocket",),
        reconnection_attempts=2,
        reconnection_delay=0.05,
        reconnection_delay_max=0.05,
    )
    await asyncio.wait_for(client.connect(), 5)
    errors: list[Any] = []
    client.on("connect_error", errors.append)
    failed = asyncio.get_running_loop().create_future()
    client.manager.on("reconnect_failed", lambda: failed.set_result(None))
    restartable.stop()
    await asyncio.wait_for(failed, 5)
    # one connect_error per failed attempt, and a final one when giving up
    assert len(errors) == 3 and all(isinstance(e, hypersio.ConnectError) for e in errors)
    assert not client.active
    await client.disconnect()


async def test_connect_to_nothing_raises() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = hypersio.AsyncClient(f"http://127.0.0.1:{port}", transports=("websocket",), reconnection=False)
    with pytest.raises(hypersio.ConnectError):
        await asyncio.wait_for(client.connect(), 5)
    assert not client.active and client.manager.engine is None
    client2 = hypersio.AsyncClient(f"http://127.0.0.1:{port}", transports=("polling",), reconnection=False)
    with pytest.raises(hypersio.ConnectError):
        await asyncio.wait_for(client2.connect(), 5)


async def test_first_connect_retries_in_the_background(node_env: dict[str, str]) -> None:
    # As the JS client: connect() reports the failure, and the client keeps trying until the
    # server is there
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = hypersio.AsyncClient(
        f"http://127.0.0.1:{port}", transports=("websocket",), reconnection_delay=0.1, reconnection_delay_max=0.2
    )
    errors: list[Any] = []
    connected = asyncio.Event()
    client.on("connect_error", errors.append)
    client.on("connect", lambda: connected.set())
    with pytest.raises(hypersio.ConnectError):
        await asyncio.wait_for(client.connect(), 5)
    assert client.active and errors
    server = NodeServer(node_env)
    server.port = port
    server.start()
    try:
        await asyncio.wait_for(connected.wait(), 10)
        assert client.connected
    finally:
        await client.disconnect()
        server.stop()


async def test_connection_state_recovery(node_env: dict[str, str]) -> None:
    server = NodeServer(node_env, extra_env={"HYPERSIO_RECOVERY": "1"})
    server.start()
    options: dict[str, Any] = {
        "transports": ("websocket",),
        "reconnection_delay": 0.3,
        "reconnection_delay_max": 0.3,
        "randomization_factor": 0,
    }
    client = hypersio.AsyncClient(server.url, **options)
    other = hypersio.AsyncClient(server.url, **options)
    try:
        await asyncio.wait_for(client.connect(), 5)
        await asyncio.wait_for(other.connect(), 5)
        assert not client.recovered
        first_id = client.id
        news: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.on("news", lambda *args: news.put_nowait(args))
        other.emit("broadcast", "news", "before")
        got = await asyncio.wait_for(news.get(), 3)
        assert got[0] == "before" and isinstance(got[-1], str)  # the offset rides last

        lost = asyncio.ensure_future(wait_for_event(client, "disconnect"))
        back = asyncio.ensure_future(wait_for_event(client, "connect"))
        await asyncio.sleep(0)
        client.emit("close-transport")
        await lost
        other.emit("broadcast", "news", "missed")  # while the client is away
        await back
        assert client.recovered and client.id == first_id
        assert await client.timeout(3).emit_with_ack("recovered") is True
        got = await asyncio.wait_for(news.get(), 3)
        assert got[0] == "missed"
    finally:
        await client.disconnect()
        await other.disconnect()
        server.stop()


async def test_pending_acks_fail_on_disconnect_and_retries_resend(restartable: NodeServer) -> None:
    client = hypersio.AsyncClient(
        restartable.url, transports=("websocket",), reconnection_delay=0.1, reconnection_delay_max=0.1
    )
    await asyncio.wait_for(client.connect(), 5)
    try:
        waiting = asyncio.ensure_future(client.emit_with_ack("no-ack"))
        timed = asyncio.ensure_future(client.timeout(5).emit_with_ack("no-ack"))
        await asyncio.sleep(0.1)
        client.emit("close-transport")
        with pytest.raises(hypersio.DisconnectedError):
            await asyncio.wait_for(waiting, 3)
        with pytest.raises(hypersio.DisconnectedError):
            await asyncio.wait_for(timed, 3)
        await wait_for_event(client, "connect")
    finally:
        await client.disconnect()

    # With retries, a packet lost with the connection is sent again after the reconnection.
    retrying = hypersio.AsyncClient(
        restartable.url,
        transports=("websocket",),
        reconnection_delay=0.1,
        reconnection_delay_max=0.1,
        ack_timeout=3,
        retries=3,
    )
    await asyncio.wait_for(retrying.connect(), 5)
    try:
        sent: list[Any] = []
        retrying.on_any_outgoing(lambda event, *args: sent.append(event))
        retrying.emit("close-transport")  # queued first: its ack never comes, the link drops
        answer = asyncio.ensure_future(retrying.emit_with_ack("ack", "after"))
        await wait_for_event(retrying, "disconnect")
        assert await asyncio.wait_for(answer, 8) == "after"
        assert sent.count("close-transport") >= 1 and sent[-1] == "ack"
    finally:
        await retrying.disconnect()


async def test_wait_returns_when_the_client_stops(restartable: NodeServer) -> None:
    client = hypersio.AsyncClient(restartable.url, transports=("websocket",))
    await asyncio.wait_for(client.connect(), 5)
    waiter = asyncio.ensure_future(client.wait())
    await asyncio.sleep(0.1)
    assert not waiter.done()
    client.emit("disconnect-me")  # "io server disconnect": no reconnection
    await asyncio.wait_for(waiter, 3)

    giving_up = hypersio.AsyncClient(
        restartable.url,
        transports=("websocket",),
        reconnection_attempts=1,
        reconnection_delay=0.05,
        reconnection_delay_max=0.05,
    )
    await asyncio.wait_for(giving_up.connect(), 5)
    waiter = asyncio.ensure_future(giving_up.wait())
    restartable.stop()
    await asyncio.wait_for(waiter, 5)
    assert not giving_up.active
