"""Compression on the wire: gzip/deflate polling bodies and WebSocket permessage-deflate.

Raw clients (tests/_support/eio_client) read the bytes the server writes: the headers, the RSV1
bit and the compressed payloads are checked as they cross the socket, and inflated here with
zlib, not with the code under test.
"""

from __future__ import annotations

import asyncio
import gzip
import struct
import zlib
from typing import Any

import pytest

from _support.eio_client import Harness, attach_echo, raw_ws
from hypersio.engine import PreparedMessage
from hypersio.engine import message as engine_message
from hypersio.engine.ratelog import RateLimitedLog
from hypersio.engine.server.compression import preferred_encoding

TAIL = b"\x00\x00\xff\xff"
BIG = "compress me " * 200  # 2,400 characters: over the 1 KiB threshold


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# ---------------------------------------------------------------- HTTP long-polling


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, None),
        ("", None),
        ("identity", None),
        ("br", None),
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("gzip, deflate, br", "gzip"),
        ("deflate, gzip", "deflate"),  # the client's order breaks a tie (negotiator)
        ("gzip;q=0.5, deflate", "deflate"),
        ("gzip;q=0, deflate;q=0", None),
        ("*", "gzip"),  # a wildcard: the server's order, gzip first
        ("*;q=0.5, deflate", "deflate"),
        ("gzip;q=0, *", "deflate"),  # the exact entry wins over the wildcard
        ("GZIP", "gzip"),
        ("gzip;q=abc, deflate", "deflate"),
    ],
)
def test_encoding_negotiation_is_nodes(accept: str | None, chosen: str | None) -> None:
    assert preferred_encoding(accept) == chosen


async def _poll_with(harness: Harness, message: str, accept: str | None, send: str = "send") -> Any:
    """Open a polling session, queue ``message`` server-side, and GET it with ``accept``."""
    sid = (await harness.handshake())["sid"]
    await settle()
    session = harness.server.sessions[sid]
    getattr(session, send)(message)
    headers = {"Accept-Encoding": accept} if accept is not None else None
    return await harness.get(f"EIO=4&transport=polling&sid={sid}", headers=headers)


async def test_polling_body_gzipped_by_default(make_server: Any) -> None:
    harness = await make_server()
    res = await _poll_with(harness, BIG, "gzip, deflate")
    assert res.status == 200
    assert res.headers["content-encoding"] == "gzip"
    assert res.headers["vary"] == "Accept-Encoding"
    assert int(res.headers["content-length"]) == len(res.body) < len(BIG) // 10
    assert gzip.decompress(res.body).decode() == "4" + BIG


async def test_polling_body_deflated_for_a_deflate_client(make_server: Any) -> None:
    harness = await make_server()
    res = await _poll_with(harness, BIG, "deflate")
    assert res.headers["content-encoding"] == "deflate"
    assert zlib.decompress(res.body).decode() == "4" + BIG  # the zlib format, as Node writes


@pytest.mark.parametrize(
    ("kwargs", "message", "accept"),
    [
        ({}, BIG, None),  # the client accepts no compression
        ({}, "small" * 10, "gzip"),  # under the 1 KiB threshold
        ({"http_compression": False}, BIG, "gzip"),  # turned off
    ],
)
async def test_polling_body_left_alone(make_server: Any, kwargs: dict[str, Any], message: str, accept: str) -> None:
    harness = await make_server(**kwargs)
    res = await _poll_with(harness, message, accept)
    assert "content-encoding" not in res.headers
    assert res.text == "4" + message


async def test_polling_threshold_setting(make_server: Any) -> None:
    harness = await make_server(http_compression={"threshold": 10})
    res = await _poll_with(harness, "just over ten", "gzip")
    assert res.headers["content-encoding"] == "gzip"
    assert gzip.decompress(res.body) == b"4just over ten"


async def test_polling_uncompressed_message_leaves_the_body_alone(make_server: Any) -> None:
    harness = await make_server()
    res = await _poll_with(harness, BIG, "gzip", send="send_uncompressed")
    assert "content-encoding" not in res.headers
    assert res.text == "4" + BIG


def test_bad_compression_settings_are_refused() -> None:
    from hypersio.engine import Server

    with pytest.raises(ValueError, match="threshold"):
        Server(http_compression={"threshold": -1})
    with pytest.raises(ValueError, match="level"):
        Server(per_message_deflate={"level": 9})
    with pytest.raises(ValueError, match="per_message_deflate"):
        Server(per_message_deflate="yes")  # type: ignore[arg-type]


# ---------------------------------------------------------------- WebSocket permessage-deflate


async def deflate_echo(make_server: Any, **kwargs: Any) -> Harness:
    harness: Harness = await make_server(ping_interval=5.0, ping_timeout=5.0, per_message_deflate=True, **kwargs)
    attach_echo(harness)
    return harness


async def test_permessage_deflate_negotiated_and_used_both_ways(make_server: Any) -> None:
    harness = await deflate_echo(make_server)
    ws = await raw_ws(harness)
    assert ws.extensions == "permessage-deflate; server_no_context_takeover"
    compressed, packet = await ws.message()
    assert not compressed and isinstance(packet, str) and packet[0] == "0"  # the open packet is small
    # A compressed message from the client is inflated; the echo (over the threshold) is deflated.
    ws.send(1, ("4" + BIG).encode(), compressed=True)
    b0, raw = await ws.frame()
    assert b0 == 0xC1 and len(raw) < len(BIG) // 10  # FIN + RSV1 + text, and really smaller
    assert zlib.decompressobj(-15).decompress(raw + TAIL).decode() == "4" + BIG
    # Under the threshold: sent as it is, as Node does.
    ws.send(1, b"4short", compressed=True)
    assert await ws.message() == (False, "4short")
    ws.send(2, b"\x07" * 5000)  # binary, uncompressed from the client; compressed back
    assert await ws.message() == (True, b"\x07" * 5000)


async def test_permessage_deflate_threshold_and_client_no_context_takeover(make_server: Any) -> None:
    harness = await deflate_echo(make_server)
    harness.server.options.per_message_deflate = 4  # as {"threshold": 4} would
    ws = await raw_ws(harness, "permessage-deflate; client_no_context_takeover; server_max_window_bits=12")
    assert ws.extensions == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12"
    )
    await ws.message()
    for _ in range(3):  # each client message compressed on its own, each inflated on its own
        ws.send(1, b"4hello", compressed=True)
        assert await ws.message() == (True, "4hello")


async def test_no_compression_without_an_offer_or_when_off(make_server: Any) -> None:
    harness = await deflate_echo(make_server)
    ws = await raw_ws(harness, offer=None)
    assert ws.extensions is None
    await ws.message()
    ws.send(1, ("4" + BIG).encode())
    assert await ws.message() == (False, "4" + BIG)
    # Off (the default): the offer is ignored, and a compressed frame is a protocol error.
    plain = await make_server()
    attach_echo(plain)
    ws = await raw_ws(plain)
    assert ws.extensions is None
    await ws.message()
    ws.send(1, ("4" + BIG).encode(), compressed=True)
    b0, payload = await ws.frame()
    assert b0 == 0x88 and struct.unpack(">H", payload[:2])[0] == 1002


async def test_zip_bomb_closes_that_connection_with_1009(make_server: Any) -> None:
    harness = await deflate_echo(make_server, max_http_buffer_size=100_000)
    victim = await raw_ws(harness)
    await victim.message()
    other = await raw_ws(harness)
    await other.message()
    victim.send(2, b"\x00" * 20_000_000, compressed=True)  # ~20 KB on the wire, 20 MB inflated
    b0, payload = await victim.frame()
    assert b0 == 0x88 and struct.unpack(">H", payload[:2])[0] == 1009
    assert await victim.reader.read() == b""  # and the connection is closed
    await settle()
    assert [reason for _, reason in harness.closes] == ["transport error"]  # type: ignore[attr-defined]
    # The server and the other connection carry on.
    other.send(1, ("4" + BIG).encode(), compressed=True)
    assert await other.message() == (True, "4" + BIG)
    assert len(harness.server.sessions) == 1


async def test_uncompressed_send_and_prepared_messages(make_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    harness = await deflate_echo(make_server)
    clients = [await raw_ws(harness) for _ in range(3)]
    for ws in clients:
        await ws.message()
    await settle()
    sessions = list(harness.server.sessions.values())
    sessions[0].send_uncompressed(BIG)
    assert await clients[0].message() == (False, "4" + BIG)
    # One prepared message for every recipient: deflated once, the same bytes for all.
    calls: list[Any] = []
    real = engine_message.deflated_frame_of
    monkeypatch.setattr(engine_message, "deflated_frame_of", lambda *a: calls.append(a) or real(*a))
    msg = PreparedMessage(BIG)
    for session in sessions:
        session.send_prepared(msg)
    frames = [await ws.frame() for ws in clients]
    assert len(calls) == 1
    assert frames[0][0] == 0xC1 and frames[0] == frames[1] == frames[2]
    # compress=False on the prepared message: plain frames.
    quiet = PreparedMessage(BIG, compress=False)
    for session in sessions:
        session.send_prepared(quiet)
    assert [await ws.message() for ws in clients] == [(False, "4" + BIG)] * 3


async def test_upgrade_from_polling_negotiates_too(make_server: Any) -> None:
    harness = await deflate_echo(make_server)
    sid = (await harness.handshake())["sid"]
    ws = await raw_ws(harness, query=f"EIO=4&transport=websocket&sid={sid}")
    assert ws.extensions == "permessage-deflate; server_no_context_takeover"
    ws.send(1, b"2probe")
    assert await ws.message() == (False, "3probe")
    ws.send(1, b"5")
    await settle()
    ws.send(1, ("4" + BIG).encode(), compressed=True)
    assert await ws.message() == (True, "4" + BIG)


async def test_protocol_errors_are_logged_rate_limited(
    make_server: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hypersio.engine.server import websocket as ws_transport

    limiter = RateLimitedLog(ws_transport.logger, 60.0)
    monkeypatch.setattr(ws_transport, "_protocol_warnings", limiter)
    harness = await deflate_echo(make_server, max_http_buffer_size=10_000)

    async def bomb() -> None:
        ws = await raw_ws(harness)
        await ws.message()
        ws.send(2, b"\x00" * 1_000_000, compressed=True)
        b0, _payload = await ws.frame()
        assert b0 == 0x88

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if "size limit once inflated" in r.getMessage()]

    for _ in range(3):
        await bomb()
    assert len(lines()) == 1  # three bombs, one line
    limiter.interval = 0.0
    await bomb()
    assert len(lines()) == 2 and "2 more like it" in lines()[1]
