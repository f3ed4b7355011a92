"""WebSocket transport: direct sessions, frames, control frames, errors, upgrade from polling."""

from __future__ import annotations

import asyncio
import base64

import pytest

from _support.eio_client import Harness, WsClient, attach_echo, read_response
from hypersio import wsframe


async def test_direct_websocket_session(echo: Harness) -> None:
    client, fields = await echo.ws_session()
    assert fields["upgrades"] == []
    assert fields["pingInterval"] == 5000
    session = echo.server.sessions[fields["sid"]]
    assert session.transport == "websocket"
    client.send_text("4hello")
    assert await client.recv() == (wsframe.OP_TEXT, "4hello")
    client.send_binary(b"\x00\xffbin")
    assert await client.recv() == (wsframe.OP_BINARY, b"\x00\xffbin")
    # several sends in one loop turn: one frame each, in order
    session.send("a")
    session.send(b"b")
    session.send("c")
    assert [await client.recv() for _ in range(3)] == [(1, "4a"), (2, b"b"), (1, "4c")]


class CountingTransport:
    """Wraps a transport and records every write (uvloop transports cannot be patched)."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.real.write(data)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


async def test_sends_in_one_turn_are_one_write(echo: Harness) -> None:
    client, fields = await echo.ws_session()
    session = echo.server.sessions[fields["sid"]]
    conn = session.carrier.conn
    counting = CountingTransport(conn.transport)
    conn.transport = counting
    for i in range(100):
        session.send(f"m{i}")
    await asyncio.sleep(0.05)
    conn.transport = counting.real
    assert len(counting.writes) == 1
    received = [await client.recv_packet() for _ in range(100)]
    assert received == [f"4m{i}" for i in range(100)]


async def test_prepared_message_reaches_both_transports(echo: Harness) -> None:
    from hypersio.engine import PreparedMessage

    ws_client, _fields = await echo.ws_session()
    poll_sid = (await echo.handshake())["sid"]
    text = PreparedMessage("broadcast")
    binary = PreparedMessage(b"\x01\x02")
    for session in list(echo.server.sessions.values()):
        session.send_prepared(text)
        session.send_prepared(binary)
    assert await ws_client.recv() == (1, "4broadcast")
    assert await ws_client.recv() == (2, b"\x01\x02")
    res = await echo.get(f"EIO=4&transport=polling&sid={poll_sid}")
    assert res.text == "4broadcast\x1eb" + base64.b64encode(b"\x01\x02").decode()
    assert text.ws_frame == wsframe.build_frame(wsframe.OP_TEXT, "4broadcast")


async def test_websocket_ping_frame_is_answered_with_pong(echo: Harness) -> None:
    client, _ = await echo.ws_session()
    client.send_frame(wsframe.OP_PING, b"are you there")
    assert await client.recv() == (wsframe.OP_PONG, b"are you there")


async def test_client_close_frame(echo: Harness) -> None:
    client, fields = await echo.ws_session()
    client.send_frame(wsframe.OP_CLOSE, wsframe.build_close_payload(1000, "bye"))
    assert await client.closed() == (1000, "")
    assert echo.closes == [(fields["sid"], "transport close")]
    assert fields["sid"] not in echo.server.sessions


async def test_close_packet_over_websocket(echo: Harness) -> None:
    client, fields = await echo.ws_session()
    client.send_text("1")
    assert await client.closed() == (1000, "")
    assert echo.closes == [(fields["sid"], "transport close")]


async def test_tcp_drop_closes_session(echo: Harness) -> None:
    client, fields = await echo.ws_session()
    client.close()
    for _ in range(100):
        if echo.closes:
            break
        await asyncio.sleep(0.01)
    assert echo.closes == [(fields["sid"], "transport close")]


async def test_server_close_of_websocket_session(echo: Harness) -> None:
    client, fields = await echo.ws_session()
    session = echo.server.sessions[fields["sid"]]
    session.send("last words")
    session.close()
    assert await client.recv() == (1, "4last words")
    assert await client.closed() == (1000, "")
    assert echo.closes == [(fields["sid"], "forced close")]


async def test_oversize_frame_closes_with_1009(make_server) -> None:
    harness = await make_server(max_http_buffer_size=1000)
    attach_echo(harness)
    client, fields = await harness.ws_session()
    client.send_text("4" + "x" * 1000)
    assert await client.closed() == (1009, "")
    assert harness.closes == [(fields["sid"], "transport error")]


async def test_unmasked_frame_closes_with_1002(echo: Harness) -> None:
    client, fields = await echo.ws_session()
    client.writer.write(wsframe.build_frame(wsframe.OP_TEXT, "4hi"))  # a client must mask
    assert await client.closed() == (1002, "")
    assert echo.closes == [(fields["sid"], "transport error")]


@pytest.mark.parametrize("packet", ["", "9", "bnot-base64!"])
async def test_bad_engine_packet_is_a_parse_error(echo: Harness, packet: str) -> None:
    client, fields = await echo.ws_session()
    client.send_text(packet)
    assert await client.closed() == (1000, "")
    assert echo.closes == [(fields["sid"], "parse error")]


async def test_client_ping_packet_is_a_protocol_error(echo: Harness) -> None:
    client, fields = await echo.ws_session()
    client.send_text("2")
    await client.closed()
    assert echo.closes == [(fields["sid"], "transport error")]


async def test_bad_handshake_gets_400_and_a_wrong_version_426(echo: Harness) -> None:
    # RFC 6455 4.4: an unsupported version gets 426 naming the one this server speaks
    reader, _writer, _ = await echo.ws_upgrade_request("EIO=4&transport=websocket", {"Sec-WebSocket-Version": "8"})
    res = await read_response(reader)
    assert res.status == 426
    assert await reader.read() == b""
    reader, _writer, _ = await echo.ws_upgrade_request("EIO=4&transport=websocket", {"Sec-WebSocket-Key": "short"})
    assert (await read_response(reader)).status == 400


async def test_websocket_handshake_errors_are_engine_errors(echo: Harness) -> None:
    reader, _, _ = await echo.ws_upgrade_request("EIO=3&transport=websocket")
    res = await read_response(reader)
    assert res.status == 400 and res.json()["code"] == 5
    reader, _, _ = await echo.ws_upgrade_request("EIO=4&transport=websocket&sid=unknown")
    res = await read_response(reader)
    assert res.status == 400 and res.json()["code"] == 1


async def test_websocket_disabled(make_server) -> None:
    harness = await make_server(transports=("polling",))
    reader, _, _ = await harness.ws_upgrade_request("EIO=4&transport=websocket")
    res = await read_response(reader)
    assert res.status == 400 and res.json()["code"] == 0


async def test_frames_sent_with_the_handshake_are_not_lost(echo: Harness) -> None:
    reader, writer, _ = await echo.ws_upgrade_request("EIO=4&transport=websocket")
    writer.write(wsframe.build_frame(wsframe.OP_TEXT, "4early", mask=True))
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    client = WsClient(reader, writer, b"")
    assert (await client.recv_packet())[0] == "0"
    assert await client.recv_packet() == "4early"


async def upgrade(harness: Harness, sid: str) -> WsClient:
    client = await harness.ws(f"EIO=4&transport=websocket&sid={sid}")
    client.send_text("2probe")
    assert await client.recv() == (1, "3probe")
    return client


async def test_upgrade_from_polling(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    session = echo.server.sessions[sid]
    poll = asyncio.ensure_future(echo.get(f"EIO=4&transport=polling&sid={sid}"))
    await asyncio.sleep(0.05)
    client = await upgrade(echo, sid)
    assert (await poll).text == "6"  # the pending GET is released with a noop
    assert session.transport == "polling"
    session.send("queued during upgrade")
    session.send(b"\x07")
    client.send_text("5")
    assert await client.recv() == (1, "4queued during upgrade")
    assert await client.recv() == (2, b"\x07")
    assert session.transport == "websocket"
    client.send_text("4over ws")
    assert await client.recv() == (1, "4over ws")
    # polling is gone for this sid; the session is not
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert res.status == 400 and res.json()["code"] == 3
    res = await echo.post(f"EIO=4&transport=polling&sid={sid}", "4x")
    assert res.status == 400
    assert not echo.closes


async def test_second_websocket_for_upgraded_sid_is_closed(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    first = await upgrade(echo, sid)
    first.send_text("5")
    await asyncio.sleep(0.05)
    second = await echo.ws(f"EIO=4&transport=websocket&sid={sid}")
    assert await second.closed() == (1000, "")
    first.send_text("4still here")
    assert await first.recv() == (1, "4still here")
    assert not echo.closes


async def test_probe_websocket_closed_keeps_polling_session(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    client = await upgrade(echo, sid)
    client.close()
    await asyncio.sleep(0.05)
    session = echo.server.sessions[sid]
    assert session.transport == "polling" and not session.closed
    poll = asyncio.ensure_future(echo.get(f"EIO=4&transport=polling&sid={sid}"))
    await asyncio.sleep(0.05)
    assert not poll.done()  # no more fast noop answers once the probe is gone
    session.send("still polling")
    assert (await poll).text == "4still polling"


async def test_upgrade_timeout(make_server) -> None:
    harness = await make_server(upgrade_timeout=0.2)
    attach_echo(harness)
    sid = (await harness.handshake())["sid"]
    client = await upgrade(harness, sid)
    assert await client.closed() == (1000, "")
    assert harness.server.sessions[sid].transport == "polling"


async def test_allow_request_applies_to_websocket(make_server) -> None:
    async def allow(request) -> bool:
        await asyncio.sleep(0.01)
        return request.query.get("token") == "yes"

    harness = await make_server(allow_request=allow)
    reader, _, _ = await harness.ws_upgrade_request("EIO=4&transport=websocket&token=no")
    res = await read_response(reader)
    assert res.status == 403 and res.json() == {"code": 4, "message": "Forbidden"}
    # frames sent while the verdict is pending are kept for the session
    reader, writer, _ = await harness.ws_upgrade_request("EIO=4&transport=websocket&token=yes")
    writer.write(wsframe.build_frame(wsframe.OP_TEXT, "4early", mask=True))
    received = []
    harness.server.on("connection", lambda session: session.on("message", received.append))
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    client = WsClient(reader, writer, b"")
    assert (await client.recv_packet())[0] == "0"
    for _ in range(50):
        if received:
            break
        await asyncio.sleep(0.01)
    assert received == ["early"]


async def test_bytes_like_messages(echo: Harness) -> None:
    client, fields = await echo.ws_session()
    poll_sid = (await echo.handshake())["sid"]
    for sid in (fields["sid"], poll_sid):
        session = echo.server.sessions[sid]
        session.send(bytearray(b"\x01\x02"))
        session.send(memoryview(b"\x03"))
    assert await client.recv() == (2, b"\x01\x02")
    assert await client.recv() == (2, b"\x03")
    res = await echo.get(f"EIO=4&transport=polling&sid={poll_sid}")
    assert res.text == "bAQI=\x1ebAw=="


async def test_websocket_only_server(make_server) -> None:
    harness = await make_server(transports=("websocket",))
    res = await harness.get("EIO=4&transport=polling")
    assert res.status == 400 and res.json()["code"] == 0
    client, fields = await harness.ws_session()
    assert fields["upgrades"] == []
    client.close()


async def test_reads_after_the_handshake_bypass_the_http_connection(echo: Harness) -> None:
    # After the 101 the event loop hands received bytes to the WebSocket parser directly; the
    # HTTP connection still hears about the connection's end (the session closes).
    from hypersio.engine.server.http import WebSocketReader

    client, fields = await echo.ws_session()
    session = echo.server.sessions[fields["sid"]]
    conn = session.carrier.conn
    reader = conn.transport.get_protocol()
    assert isinstance(reader, WebSocketReader)
    assert reader.data_received == session.carrier.feed
    client.send_text("4via reader")
    assert await client.recv() == (wsframe.OP_TEXT, "4via reader")
    client.close()
    for _ in range(100):
        if session.closed:
            break
        await asyncio.sleep(0.01)
    assert session.closed and session.close_reason == "transport close"
    assert conn not in echo.server.connections


async def test_message_handlers_failing_or_async_on_the_websocket_path(
    make_server, caplog: pytest.LogCaptureFixture
) -> None:
    # Messages on an open WebSocket session skip Session.handle_packet; what a handler does there
    # must still be what it does on the general path: a failure is logged and the next handler
    # and the next message still run, a coroutine handler runs as a task of the session.
    harness = await make_server()
    got: list[str] = []
    done = asyncio.Event()

    def failing(data: str) -> None:
        raise RuntimeError(f"boom on {data}")

    async def later(data: str) -> None:
        await asyncio.sleep(0)
        got.append(f"async {data}")
        if data == "second":
            done.set()

    def on_connection(session) -> None:
        session.on("message", failing)
        session.on("message", lambda data: got.append(f"sync {data}"))
        session.on("message", later)

    harness.server.on("connection", on_connection)
    client, _fields = await harness.ws_session()
    client.send_text("4first")
    client.send_text("4second")
    await asyncio.wait_for(done.wait(), 5)
    assert got[:2] == ["sync first", "sync second"]
    assert sorted(got[2:]) == ["async first", "async second"]
    failures = [r for r in caplog.records if r.levelname == "ERROR" and "error in a handler" in r.getMessage()]
    assert len(failures) == 2 and "boom on first" in str(failures[0].exc_info[1])
