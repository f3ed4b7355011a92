"""hypersio.admin: the Admin UI protocol, spoken to a hypersio AsyncClient on /admin.

The dashboard itself is driven in Chromium by test_admin_browser.py; here every event and
command of the protocol is checked on its own: authentication refused and accepted (and the
session id the dashboard keeps), config, all_sockets, server_stats, socket_connected /
socket_disconnected, room_joined / room_left, event_received / event_sent, the commands, and
read_only / production mode refusing what they must.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import hypersio
from hypersio import admin

CREDENTIALS = {"type": "basic", "username": "admin", "password": "s3cret"}


class Recorder:
    """Every event a client receives, with a way to wait for one that matches."""

    def __init__(self, client: hypersio.AsyncClient) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self._changed = asyncio.Event()
        client.on_any(self._record)

    def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, args))
        self._changed.set()

    async def wait_for(self, event: str, match: Any = None, timeout: float = 5.0) -> tuple[Any, ...]:
        """The arguments of the first ``event`` (for which ``match(args)`` holds), waiting if needed."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for name, args in self.events:
                if name == event and (match is None or match(args)):
                    return args
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {event} matching; got {[n for n, _ in self.events]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    def names(self) -> list[str]:
        """The names of the events received so far, in order."""
        return [name for name, _ in self.events]


async def start(**options: Any) -> tuple[hypersio.Server, admin.AdminUI, str]:
    sio = hypersio.Server()

    @sio.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        socket.on("ping_me", lambda value: socket.emit("pong_you", value))

    ui = admin.instrument(sio, stats_interval=0.2, **options)
    await sio.listen("127.0.0.1", 0)
    return sio, ui, f"http://127.0.0.1:{sio.engine.port}"


@pytest.fixture
async def dev_server() -> AsyncIterator[tuple[hypersio.Server, admin.AdminUI, str]]:
    sio, ui, url = await start(auth=CREDENTIALS)
    yield sio, ui, url
    ui.close()
    await sio.close()


async def connect_admin(url: str, auth: Any, **options: Any) -> tuple[hypersio.AsyncClient, Recorder]:
    client = hypersio.AsyncClient(url + "/admin", auth=auth, reconnection=False, **options)
    recorder = Recorder(client)
    await client.connect()
    return client, recorder


async def test_wrong_credentials_are_refused(
    dev_server: tuple[hypersio.Server, admin.AdminUI, str], caplog: pytest.LogCaptureFixture
) -> None:
    _sio, _ui, url = dev_server
    for auth in ({"username": "admin", "password": "nope"}, {"username": "root", "password": "s3cret"}, {}):
        client = hypersio.AsyncClient(url + "/admin", auth=auth, reconnection=False)
        with pytest.raises(hypersio.ConnectError) as info:
            await client.connect()
        assert info.value.message == "invalid credentials"
        await client.disconnect()
    # Logged once a minute at most, whatever a client tries.
    assert len([r for r in caplog.records if "invalid credentials" in r.getMessage()]) <= 1


async def test_login_gives_a_session_id_that_logs_in_again(
    dev_server: tuple[hypersio.Server, admin.AdminUI, str],
) -> None:
    _sio, _ui, url = dev_server
    client, rec = await connect_admin(url, {"username": "admin", "password": "s3cret"})
    (session_id,) = await rec.wait_for("session")
    config = (await rec.wait_for("config"))[0]
    assert config["supportedFeatures"] == [
        "EMIT",
        "JOIN",
        "LEAVE",
        "DISCONNECT",
        "MJOIN",
        "MLEAVE",
        "MDISCONNECT",
        "AGGREGATED_EVENTS",
        "ALL_EVENTS",
    ]
    await client.disconnect()
    again, rec2 = await connect_admin(url, {"sessionId": session_id})
    await rec2.wait_for("config")
    assert "session" not in rec2.names()  # a session id login gets no new one
    await again.disconnect()
    forged = hypersio.AsyncClient(url + "/admin", auth={"sessionId": "0123456789abcdef"}, reconnection=False)
    with pytest.raises(hypersio.ConnectError):
        await forged.connect()
    await forged.disconnect()


async def test_development_mode_reports_sockets_rooms_and_events(
    dev_server: tuple[hypersio.Server, admin.AdminUI, str],
) -> None:
    sio, _ui, url = dev_server
    early = hypersio.AsyncClient(url, transports=("websocket",), reconnection=False)
    await early.connect()
    client, rec = await connect_admin(url, {"username": "admin", "password": "s3cret"})
    (listed,) = await rec.wait_for("all_sockets")
    mine = [s for s in listed if s["nsp"] == "/" and s["id"] == early.id]
    assert len(mine) == 1
    assert mine[0]["transport"] == "websocket"
    assert mine[0]["rooms"] == [early.id]
    assert mine[0]["handshake"]["address"] == "127.0.0.1"
    assert len(mine[0]["clientId"]) == 12
    # The dashboard's own client started on long-polling: its upgrade is reported.
    updated = await rec.wait_for("socket_updated", lambda a: a[0]["id"] == client.id)
    assert updated[0] == {"id": client.id, "nsp": "/admin", "transport": "websocket"}

    late = hypersio.AsyncClient(url, transports=("websocket",), reconnection=False)
    await late.connect()
    connected = await rec.wait_for("socket_connected", lambda a: a[0]["id"] == late.id)
    assert connected[0]["nsp"] == "/"
    assert connected[1].endswith("Z")  # a JS Date as JSON
    socket = sio.of("/").sockets[late.id]
    socket.join("lobby")
    await rec.wait_for("room_joined", lambda a: a[:3] == ("/", "lobby", late.id))
    socket.leave("lobby")
    await rec.wait_for("room_left", lambda a: a[:3] == ("/", "lobby", late.id))

    pong = asyncio.get_running_loop().create_future()
    late.on("pong_you", pong.set_result)
    late.emit("ping_me", {"n": 1})
    assert await asyncio.wait_for(pong, 5) == {"n": 1}
    received = await rec.wait_for("event_received", lambda a: a[1] == late.id)
    assert received[0] == "/"
    assert received[2] == ["ping_me", {"n": 1}]
    sent = await rec.wait_for("event_sent", lambda a: a[1] == late.id)
    assert sent[2] == ["pong_you", {"n": 1}]

    late_id = late.id
    await late.disconnect()
    gone = await rec.wait_for("socket_disconnected", lambda a: a[1] == late_id)
    assert gone[0] == "/"
    assert gone[2] == "client namespace disconnect"
    await early.disconnect()
    await client.disconnect()


async def test_server_stats_count_clients_and_traffic(dev_server: tuple[hypersio.Server, admin.AdminUI, str]) -> None:
    _sio, _ui, url = dev_server
    client, rec = await connect_admin(url, {"username": "admin", "password": "s3cret"})
    first = (await rec.wait_for("server_stats"))[0]
    assert first["pid"] > 0
    assert first["serverId"] == first["hostname"]
    assert first["clientsCount"] == 1  # the dashboard itself
    names = {n["name"]: n["socketsCount"] for n in first["namespaces"]}
    assert names == {"/": 0, "/admin": 1}
    polling = hypersio.AsyncClient(url, transports=("polling",), reconnection=False)
    await polling.connect()
    polling.emit("ping_me", 1)

    def sees_polling(args: tuple[Any, ...]) -> bool:
        stats = args[0]
        return stats["pollingClientsCount"] == 1 and stats["clientsCount"] == 2

    await rec.wait_for("server_stats", sees_polling)
    aggregated: dict[str, int] = {}

    def has_traffic(args: tuple[Any, ...]) -> bool:
        for entry in args[0]["aggregatedEvents"]:
            aggregated[entry["type"]] = aggregated.get(entry["type"], 0) + entry["count"]
        return {"rawConnection", "packetsIn", "bytesIn", "bytesOut"} <= set(aggregated)

    await rec.wait_for("server_stats", has_traffic)
    assert aggregated["packetsIn"] >= 1
    await polling.disconnect()
    await rec.wait_for("server_stats", lambda a: any(e["type"] == "rawDisconnection" for e in a[0]["aggregatedEvents"]))
    await client.disconnect()


async def test_commands_join_leave_emit_disconnect(dev_server: tuple[hypersio.Server, admin.AdminUI, str]) -> None:
    sio, _ui, url = dev_server
    client, rec = await connect_admin(url, {"username": "admin", "password": "s3cret"})
    await rec.wait_for("config")
    user = hypersio.AsyncClient(url, transports=("websocket",), reconnection=False)
    got = asyncio.get_running_loop().create_future()
    user.on("announce", lambda *args: got.set_result(args))
    await user.connect()
    client.emit("join", "/", "vip", None)
    await rec.wait_for("room_joined", lambda a: a[:3] == ("/", "vip", user.id))
    assert "vip" in sio.of("/").sockets[user.id].rooms
    client.emit("emit", "/", "vip", "announce", "hello", 2)
    assert await asyncio.wait_for(got, 5) == ("hello", 2)
    client.emit("leave", "/", "vip", user.id)
    await rec.wait_for("room_left", lambda a: a[:3] == ("/", "vip", user.id))
    # Invalid arguments are logged and ignored, the dashboard stays connected.
    client.emit("emit", 42, None, "announce")
    client.emit("join", "/", 17)
    gone = asyncio.get_running_loop().create_future()
    user.on("disconnect", lambda reason, *rest: gone.done() or gone.set_result(reason))
    client.emit("_disconnect", "/", False, None)
    assert await asyncio.wait_for(gone, 5) == "io server disconnect"
    assert client.connected
    await client.disconnect()


async def test_read_only_refuses_commands_and_production_stays_quiet() -> None:
    sio, ui, url = await start(auth=None, read_only=True, mode="production")
    try:
        user = hypersio.AsyncClient(url, transports=("websocket",), reconnection=False)
        await user.connect()
        client, rec = await connect_admin(url, None)
        config = (await rec.wait_for("config"))[0]
        assert config["supportedFeatures"] == ["AGGREGATED_EVENTS"]
        await rec.wait_for("server_stats")
        client.emit("_disconnect", "/", True, None)
        client.emit("join", "/", "vip", None)
        user.emit("ping_me", 1)
        await asyncio.sleep(0.5)
        assert user.connected
        assert "vip" not in sio.of("/").sockets[user.id].rooms
        # Production mode: statistics only, no live view.
        assert set(rec.names()) == {"config", "server_stats"}
        await user.disconnect()
        await client.disconnect()
    finally:
        ui.close()
        await sio.close()


def test_bad_settings_fail_at_startup() -> None:
    sio = hypersio.Server()
    with pytest.raises(ValueError, match="auth must be"):
        admin.instrument(sio, auth={"type": "digest"})
    with pytest.raises(ValueError, match="password"):
        admin.instrument(sio, auth={"type": "basic", "username": "a", "password": ""})
    with pytest.raises(ValueError, match="mode"):
        admin.instrument(sio, mode="staging")  # type: ignore[arg-type]
