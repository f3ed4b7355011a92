"""Connection state recovery (hypersio.Recovery) over fake sessions."""

from __future__ import annotations

from typing import Any

import pytest
from sio_fakes import FakePrepared, FakeSession, settle

import hypersio
from hypersio import parser as P


@pytest.fixture
def rsio(parser_name: str) -> hypersio.Server:
    sio = hypersio.Server(
        parser=parser_name, connection_state_recovery=hypersio.Recovery(max_disconnection_duration=60)
    )
    sio._prepared_cls = FakePrepared
    return sio


def _connect(sio: hypersio.Server, codec: Any, auth: Any = None) -> FakeSession:
    s = FakeSession(codec)
    sio._on_engine_connection(s)
    s.receive_packet(P.CONNECT, "/", auth)
    return s


async def test_recovery_restores_sid_rooms_data_and_missed(rsio, codec) -> None:
    socks: list[Any] = []
    mw_calls = []
    rsio.use(lambda s: mw_calls.append(s.id))
    rsio.on("connection", socks.append)
    s1 = _connect(rsio, codec)
    await settle()
    (reply,) = s1.packets()
    sid, pid = reply.data["sid"], reply.data["pid"]
    sock = socks[0]
    sock.join("news")
    sock.data = {"user": "bob"}
    sock.emit("first", 1)
    (ev,) = s1.events()
    offset = ev[-1]
    assert ev[:2] == ["first", 1] and isinstance(offset, str)
    s1.close("transport close")
    rsio.to("news").emit("missed-room", 2)
    rsio.except_("news").emit("not-for-me")
    rsio.emit("missed-all")
    rsio.volatile.emit("volatile-not-kept")

    s2 = _connect(rsio, codec, {"pid": pid, "offset": offset, "token": "x"})
    await settle()
    pkts = s2.packets()
    assert [p.type for p in pkts] == [P.EVENT, P.EVENT, P.CONNECT]
    assert [p.data[0] for p in pkts[:2]] == ["missed-room", "missed-all"]
    assert pkts[2].data == {"sid": sid, "pid": pid}
    new = socks[-1]
    assert new.recovered and new.id == sid and new.data == {"user": "bob"}
    assert new.rooms == {sid, "news"}
    assert mw_calls == [sid]  # skip_middlewares: not run again for the recovered socket


async def test_recovery_refused_for_unknown_offset_or_pid(rsio, codec) -> None:
    socks: list[Any] = []
    rsio.on("connection", socks.append)
    s1 = _connect(rsio, codec)
    pid = s1.packets()[0].data["pid"]
    s1.close("ping timeout")
    s2 = _connect(rsio, codec, {"pid": pid, "offset": "bogus"})
    reply = s2.packets()[-1]
    assert reply.type == P.CONNECT and reply.data["sid"] != socks[0].id
    assert not socks[-1].recovered
    s3 = _connect(rsio, codec, {"pid": "nope", "offset": "bogus"})
    assert not socks[-1].recovered and s3.packets()[-1].data["pid"] != pid


async def test_client_namespace_disconnect_is_not_recoverable(rsio, codec) -> None:
    socks: list[Any] = []
    rsio.on("connection", socks.append)
    s1 = _connect(rsio, codec)
    pid = s1.packets()[0].data["pid"]
    socks[0].emit("e")
    offset = s1.events()[0][-1]
    s1.receive_packet(P.DISCONNECT, "/")
    _connect(rsio, codec, {"pid": pid, "offset": offset})
    assert not socks[-1].recovered


async def test_no_offsets_without_recovery(sio, connect) -> None:
    socks: list[Any] = []
    sio.on("connection", socks.append)
    s = connect()
    assert "pid" not in s.packets()[0].data
    socks[0].emit("e", 1)
    sio.emit("b", 2)
    assert s.events() == [["e", 1], ["b", 2]]
