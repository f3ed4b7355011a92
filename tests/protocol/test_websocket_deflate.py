"""permessage-deflate (RFC 7692) in the frame codec, both twins, and the server's negotiation.

Compressed input is made with zlib directly (not with the code under test), so a test that
passes shows the codec reads what any RFC 7692 peer writes.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from types import ModuleType

import pytest

from hypersio.exceptions import WebSocketError
from hypersio.protocol.websocket import deflate as pmd

KEY = b"\x11\x22\x33\x44"
TAIL = b"\x00\x00\xff\xff"


def raw_frame(b0: int, payload: bytes, key: bytes | None = KEY) -> bytes:
    """A frame built by hand: any first byte, masked with ``key`` when given."""
    n = len(payload)
    mbit = 0x80 if key is not None else 0
    if n > 0xFFFF:
        header = struct.pack(">BBQ", b0, mbit | 127, n)
    elif n > 125:
        header = struct.pack(">BBH", b0, mbit | 126, n)
    else:
        header = struct.pack(">BB", b0, mbit | n)
    if key is None:
        return header + payload
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def deflated(data: bytes, wbits: int = 15) -> bytes:
    """``data`` as one permessage-deflate message, compressed by zlib on its own."""
    c = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def parser(w: ModuleType, limit: int = 1_000_000, **kwargs: bool) -> object:
    return w.FrameParser(limit, True, True, **kwargs)


# ---------------------------------------------------------------- receiving


def test_compressed_text_and_binary_are_inflated(websocket_twin: ModuleType) -> None:
    p = parser(websocket_twin)
    text = "4" + "héllo wörld " * 200
    stream = raw_frame(0xC1, deflated(text.encode())) + raw_frame(0xC2, deflated(b"\x00\x01" * 3000))
    assert p.feed(stream) == [(1, text), (2, b"\x00\x01" * 3000)]  # type: ignore[attr-defined]
    # An uncompressed message on the same connection (RSV1 clear) goes through as it is.
    assert p.feed(raw_frame(0x81, b"4plain")) == [(1, "4plain")]  # type: ignore[attr-defined]


def test_compressed_message_in_fragments_and_split_reads(websocket_twin: ModuleType) -> None:
    data = ("4" + "fragmented " * 500).encode()
    z = deflated(data)
    third = len(z) // 3
    # RSV1 on the first frame only (RFC 7692 6.1); control frames may come in between.
    stream = (
        raw_frame(0x41, z[:third])
        + raw_frame(0x89, b"ping")
        + raw_frame(0x00, z[third : 2 * third])
        + raw_frame(0x80, z[2 * third :])
    )
    for cut in (1, 7, len(stream) // 2, len(stream) - 1):
        p = parser(websocket_twin)
        got = p.feed(stream[:cut]) + p.feed(stream[cut:])  # type: ignore[attr-defined]
        assert got == [(9, b"ping"), (1, data.decode())]


def test_context_takeover_across_messages(websocket_twin: ModuleType) -> None:
    # One compressor for two messages: the second refers back into the first one's window.
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = b"4" + " ".join(str(i * 7919 % 10007) for i in range(600)).encode()
    m1 = c.compress(first) + c.flush(zlib.Z_SYNC_FLUSH)
    m2 = c.compress(first) + c.flush(zlib.Z_SYNC_FLUSH)
    assert len(m2) < len(m1) // 4  # it did refer back: this is what context takeover means
    p = parser(websocket_twin)
    assert p.feed(raw_frame(0xC1, m1[:-4]) + raw_frame(0xC1, m2[:-4])) == [(1, first.decode())] * 2  # type: ignore[attr-defined]
    # Without the shared window the second message cannot be inflated on its own.
    fresh = parser(websocket_twin, peer_no_context_takeover=True)
    with pytest.raises(WebSocketError) as info:
        fresh.feed(raw_frame(0xC1, m1[:-4]) + raw_frame(0xC1, m2[:-4]))  # type: ignore[attr-defined]
    assert info.value.code == 1007


def test_each_message_on_its_own_without_context_takeover(websocket_twin: ModuleType) -> None:
    p = parser(websocket_twin, peer_no_context_takeover=True)
    msgs = [f"4message {i} ".encode() * 100 for i in range(3)]
    assert p.feed(b"".join(raw_frame(0xC1, deflated(m)) for m in msgs)) == [(1, m.decode()) for m in msgs]  # type: ignore[attr-defined]


def test_zip_bomb_is_refused_after_inflation_with_bounded_memory(websocket_twin: ModuleType) -> None:
    limit = 100_000
    bomb = deflated(b"4" + b"\x00" * 50_000_000)  # 50 MB of zeros: about 50 KB compressed
    assert len(bomb) < limit  # the compressed frame itself passes the declared-length check
    p = parser(websocket_twin, limit=limit)
    tracemalloc.start()
    try:
        with pytest.raises(WebSocketError) as info:
            p.feed(raw_frame(0xC2, bomb))  # type: ignore[attr-defined]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.code == 1009
    assert peak < 2_000_000  # never inflated past the limit (50 MB if it had)
    with pytest.raises(WebSocketError):
        p.feed(raw_frame(0x81, b"4ok"))  # type: ignore[attr-defined]  # failed for good


def test_inflated_size_exactly_at_the_limit_passes(websocket_twin: ModuleType) -> None:
    data = b"x" * 5000
    assert parser(websocket_twin, limit=5000).feed(raw_frame(0xC2, deflated(data))) == [(2, data)]  # type: ignore[attr-defined]
    with pytest.raises(WebSocketError) as info:
        parser(websocket_twin, limit=4999).feed(raw_frame(0xC2, deflated(data)))  # type: ignore[attr-defined]
    assert info.value.code == 1009


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([raw_frame(0xC9, b"")], 1002),  # RSV1 on a ping
        ([raw_frame(0xC8, b"\x03\xe8")], 1002),  # ... on a close
        ([raw_frame(0x41, b"ab"), raw_frame(0xC0, b"cd")], 1002),  # ... on a continuation
        ([raw_frame(0xA1, b"x")], 1002),  # RSV2 means nothing here
        ([raw_frame(0xD1, b"x")], 1002),  # RSV1 with RSV3
        ([raw_frame(0xC1, b"\xff\xfe garbage")], 1007),  # not deflate data
        ([raw_frame(0xC1, deflated(b"\xff\xfe\xfd"))], 1007),  # inflates to bad UTF-8
    ],
)
def test_compression_protocol_errors(websocket_twin: ModuleType, frames: list[bytes], code: int) -> None:
    p = parser(websocket_twin)
    with pytest.raises(WebSocketError) as info:
        p.feed(b"".join(frames))  # type: ignore[attr-defined]
    assert info.value.code == code


def test_rsv1_refused_when_not_negotiated(websocket_twin: ModuleType) -> None:
    with pytest.raises(WebSocketError) as info:
        websocket_twin.FrameParser(1000, True).feed(raw_frame(0xC1, deflated(b"4hi")))
    assert info.value.code == 1002


def test_client_side_parser_inflates_server_frames(websocket_twin: ModuleType) -> None:
    p = websocket_twin.FrameParser(1000, False, True)
    assert p.feed(raw_frame(0xC1, deflated(b"4hi"), key=None)) == [(1, "4hi")]


# ---------------------------------------------------------------- sending


def test_build_frame_sets_rsv1_on_data_frames_only(websocket_twin: ModuleType) -> None:
    w = websocket_twin
    assert w.build_frame(w.OP_TEXT, b"abc", rsv1=True)[:2] == b"\xc1\x03"
    assert w.build_frame(w.OP_BINARY, b"abc", fin=False, rsv1=True)[:1] == b"\x42"
    assert w.build_frame(w.OP_TEXT, b"abc", mask_key=KEY, rsv1=True)[:2] == b"\xc1\x83"
    for opcode in (w.OP_PING, w.OP_PONG, w.OP_CLOSE, w.OP_CONTINUATION):
        with pytest.raises(ValueError, match="RSV1"):
            w.build_frame(opcode, b"", rsv1=True)


def frame_body(frame: bytes) -> bytes:
    """The payload of an unmasked frame."""
    n = frame[1] & 0x7F
    return frame[4:] if n == 126 else frame[10:] if n == 127 else frame[2:]


def test_deflated_message_frame_round_trips_through_plain_zlib() -> None:
    text = "héllo " * 500
    frame = pmd.deflated_message_frame(text)
    assert frame[0] == 0xC1  # FIN + RSV1 + text
    body = frame_body(frame)
    assert len(body) < 200  # compressed: 3,000 characters of repetition
    assert zlib.decompressobj(-15).decompress(body + TAIL) == ("4" + text).encode()
    # Each message is compressed on its own: a fresh inflater reads any of them, and so does
    # one that inflated the previous messages (the client's, with its context kept).
    kept = zlib.decompressobj(-15)
    for other in ("x" * 3000, text, " ".join(map(str, range(1000)))):
        again = frame_body(pmd.deflated_message_frame(other))
        assert zlib.decompressobj(-15).decompress(again + TAIL) == ("4" + other).encode()
        assert kept.decompress(again + TAIL) == ("4" + other).encode()
    binary = pmd.deflated_message_frame(b"\x01" * 2000, window_bits=10)
    assert binary[0] == 0xC2
    assert zlib.decompressobj(-10).decompress(frame_body(binary) + TAIL) == b"\x01" * 2000


# ---------------------------------------------------------------- negotiation


@pytest.mark.parametrize(
    ("offer", "answer"),
    [
        ("permessage-deflate", "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; client_max_window_bits=10", "permessage-deflate; server_no_context_takeover"),
        (
            "permessage-deflate; client_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        ("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
        (
            'permessage-deflate; server_max_window_bits="10"',
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
        ),
        # Declined offers, then one that can be accepted: the first acceptable one wins.
        (
            "permessage-deflate; server_max_window_bits=8, permessage-deflate",
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "permessage-deflate; foo=1, permessage-deflate; client_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        ("x-webkit-deflate-frame, Permessage-Deflate", "permessage-deflate; server_no_context_takeover"),
    ],
)
def test_negotiation_accepts(offer: str, answer: str) -> None:
    agreed = pmd.negotiate(offer)
    assert agreed is not None
    assert agreed.response_header == answer


@pytest.mark.parametrize(
    "offer",
    [
        None,
        "",
        "x-webkit-deflate-frame",
        "permessage-deflate; unknown",
        "permessage-deflate; server_max_window_bits",  # needs a value
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=8",  # zlib cannot deflate with 256 bytes
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        'permessage-deflate; server_max_window_bits="1"0"',
    ],
)
def test_negotiation_declines(offer: str | None) -> None:
    assert pmd.negotiate(offer) is None


def test_no_size_limit_at_all(websocket_twin: ModuleType) -> None:
    import sys

    p = websocket_twin.FrameParser(sys.maxsize, True, True)
    assert p.feed(raw_frame(0xC2, deflated(b"z" * 300_000))) == [(2, b"z" * 300_000)]
