"""RFC 6455 frame codec: building, parsing, masking, limits, close payloads; both twins."""

from __future__ import annotations

import base64
import hashlib
import importlib
import os
import struct
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypersio import _speedups
from hypersio.exceptions import ParseError, WebSocketError
from hypersio.protocol.websocket.constants import MASK_KEY_BATCH

KEY = b"\x37\xfa\x21\x3d"
MiB = 1 << 20


def naive_mask(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def raw_frame(
    b0: int, payload: bytes, key: bytes | None = None, declared: int | None = None, wide: int | None = None
) -> bytes:
    """A frame built by hand (any header bits), independent of the code under test."""
    n = len(payload) if declared is None else declared
    mbit = 0x80 if key is not None else 0
    if wide == 64 or (wide is None and n > 0xFFFF):
        header = struct.pack(">BBQ", b0, mbit | 127, n)
    elif wide == 16 or (wide is None and n > 125):
        header = struct.pack(">BBH", b0, mbit | 126, n)
    else:
        header = struct.pack(">BB", b0, mbit | n)
    if key is None:
        return header + payload
    return header + key + naive_mask(payload, key)


def both_twins() -> tuple[ModuleType, ModuleType]:
    if _speedups.NO_EXTENSIONS:
        pytest.skip("compiled twins are off in this run")
    try:
        compiled = importlib.import_module("hypersio.protocol.websocket._frames_c")
    except ImportError as exc:
        if _speedups.REQUIRE_EXTENSIONS:
            raise
        pytest.skip(f"compiled _wsframe_c not built: {exc}")
    return compiled, importlib.import_module("hypersio.protocol.websocket._frames_py")


# ---------------------------------------------------------------- building


@pytest.mark.parametrize(
    ("n", "header_len", "length_bytes"),
    [
        (0, 2, b"\x00"),
        (125, 2, b"\x7d"),
        (126, 4, b"\x7e\x00\x7e"),
        (65535, 4, b"\x7e\xff\xff"),
        (65536, 10, b"\x7f" + (65536).to_bytes(8, "big")),
        (MiB, 10, b"\x7f" + MiB.to_bytes(8, "big")),
    ],
)
def test_length_encodings_unmasked(websocket_twin: ModuleType, n: int, header_len: int, length_bytes: bytes) -> None:
    payload = bytes(range(256)) * (n // 256) + bytes(n % 256)
    frame = websocket_twin.build_frame(websocket_twin.OP_BINARY, payload)
    assert frame[0] == 0x82
    assert frame[1 : 1 + len(length_bytes)] == length_bytes
    assert len(frame) == header_len + n
    assert frame[header_len:] == payload
    assert frame == raw_frame(0x82, payload)
    parser = websocket_twin.FrameParser(max_message_size=2 * MiB, expect_masked=False)
    assert parser.feed(frame) == [(websocket_twin.OP_BINARY, payload)]


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 7, 8, 9, 125, 126, 65535, 65536, MiB])
def test_masked_frames_match_hand_built(websocket_twin: ModuleType, n: int) -> None:
    payload = (b"hypersio!" * (n // 9 + 1))[:n]
    frame = websocket_twin.build_frame(websocket_twin.OP_BINARY, payload, mask_key=KEY)
    assert frame == raw_frame(0x82, payload, key=KEY)
    parser = websocket_twin.FrameParser(max_message_size=2 * MiB, expect_masked=True)
    assert parser.feed(frame) == [(websocket_twin.OP_BINARY, payload)]


def test_random_mask_keys_differ_and_roundtrip(websocket_twin: ModuleType) -> None:
    frames = [websocket_twin.build_frame(websocket_twin.OP_TEXT, "ping me", mask=True) for _ in range(20)]
    keys = {f[2:6] for f in frames}
    assert len(keys) > 15  # a repeated key in 20 draws of 32 bits would point at a broken generator
    parser = websocket_twin.FrameParser()
    assert parser.feed(b"".join(frames)) == [(websocket_twin.OP_TEXT, "ping me")] * 20


def _masked_key(twin: ModuleType) -> bytes:
    """The masking key of a fresh client frame (a short payload: 2 header bytes, then the key)."""
    return twin.build_frame(twin.OP_BINARY, b"x", mask=True)[2:6]


def test_mask_keys_are_os_urandom_output(websocket_twin: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Client masking keys are os.urandom output, handed out 4 bytes at a time, one system call per
    MASK_KEY_BATCH bytes, never reused (RFC 6455 10.3: unpredictable). Keys from a seeded PRNG, a
    batch handed out twice or a call per frame all fail here."""
    batch = MASK_KEY_BATCH
    calls: list[int] = []

    def fake_urandom(n: int) -> bytes:
        calls.append(n)
        # Every 4-byte key names its batch and its place in it, so any reuse shows.
        return b"".join(struct.pack(">HH", len(calls), i) for i in range(n // 4))

    # Patched where the twin looks it up: the `os` of its own module namespace.
    monkeypatch.setattr(websocket_twin.os, "urandom", fake_urandom)
    # Hand out what the twin still holds from real os.urandom calls, up to the first fake batch.
    for _ in range(batch // 4 + 1):
        key = _masked_key(websocket_twin)
        if calls:
            break
    assert calls == [batch]
    keys = [key] + [_masked_key(websocket_twin) for _ in range(batch // 4 - 1)]
    assert calls == [batch]  # a whole batch of keys from one system call
    assert keys == [struct.pack(">HH", 1, i) for i in range(batch // 4)]
    assert _masked_key(websocket_twin) == struct.pack(">HH", 2, 0)  # then a fresh batch, not a reuse
    assert calls == [batch, batch]
    frame = websocket_twin.build_frame(websocket_twin.OP_BINARY, b"hello", mask=True)
    assert frame[2:6] == struct.pack(">HH", 2, 1)
    assert websocket_twin.mask_payload(frame[6:], frame[2:6]) == b"hello"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_draws_its_own_mask_keys(websocket_twin: ModuleType) -> None:
    """A forked child (a pre-fork worker) must not hand out the keys its parent still holds: it
    drops them and calls os.urandom itself, so parent and child keys differ."""
    _masked_key(websocket_twin)  # the parent now holds a partly used batch
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next key, then leave without running pytest's teardown
        try:
            os.write(write_end, b"".join(_masked_key(websocket_twin) for _ in range(4)))
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        child_keys = b""
        while len(child_keys) < 16:
            chunk = os.read(read_end, 16)
            if not chunk:
                break
            child_keys += chunk
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    parent_keys = b"".join(_masked_key(websocket_twin) for _ in range(4))
    assert len(child_keys) == 16
    assert child_keys != parent_keys  # equal only if the child reused the parent's batch (or 2**-128)


def test_str_payload_is_utf8_text(websocket_twin: ModuleType) -> None:
    frame = websocket_twin.build_frame(websocket_twin.OP_TEXT, "héllo ☃ 𝄞")
    assert frame[2:] == "héllo ☃ 𝄞".encode()
    assert frame[1] == len("héllo ☃ 𝄞".encode())


def test_build_accepts_bytearray_and_memoryview(websocket_twin: ModuleType) -> None:
    data = bytearray(b"abc" * 50)
    assert websocket_twin.build_frame(2, data) == websocket_twin.build_frame(2, bytes(data))
    assert websocket_twin.build_frame(2, memoryview(data), mask_key=KEY) == raw_frame(0x82, bytes(data), KEY)


def test_non_fin_and_continuation_headers(websocket_twin: ModuleType) -> None:
    assert websocket_twin.build_frame(websocket_twin.OP_TEXT, "ab", fin=False)[0] == 0x01
    assert websocket_twin.build_frame(websocket_twin.OP_CONTINUATION, "cd")[0] == 0x80
    assert websocket_twin.build_frame(websocket_twin.OP_PING, b"")[0:2] == b"\x89\x00"
    assert websocket_twin.build_frame(websocket_twin.OP_PONG, b"x", mask_key=KEY)[0:2] == b"\x8a\x81"


def test_build_refuses_bad_frames(websocket_twin: ModuleType) -> None:
    with pytest.raises(ValueError):
        websocket_twin.build_frame(3, b"")
    with pytest.raises(ValueError):
        websocket_twin.build_frame(websocket_twin.OP_PING, b"x" * 126)
    with pytest.raises(ValueError):
        websocket_twin.build_frame(websocket_twin.OP_CLOSE, b"", fin=False)
    with pytest.raises(ValueError):
        websocket_twin.build_frame(websocket_twin.OP_TEXT, "x", mask_key=b"abc")
    assert len(websocket_twin.build_frame(websocket_twin.OP_PING, b"x" * 125)) == 127


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize("n", [*range(34), 1023, 1024, 1025, 65536 + 3])
def test_mask_payload_matches_bytewise_xor(websocket_twin: ModuleType, n: int) -> None:
    data = bytes((i * 31 + 7) & 0xFF for i in range(n))
    masked = websocket_twin.mask_payload(data, KEY)
    assert masked == naive_mask(data, KEY)
    assert websocket_twin.mask_payload(masked, KEY) == data
    assert websocket_twin.mask_payload(bytearray(data), bytearray(KEY)) == masked


def test_mask_payload_key_must_be_4_bytes(websocket_twin: ModuleType) -> None:
    with pytest.raises(ValueError):
        websocket_twin.mask_payload(b"abc", b"12345")


def test_server_refuses_unmasked_and_client_refuses_masked(websocket_twin: ModuleType) -> None:
    server = websocket_twin.FrameParser(expect_masked=True)
    with pytest.raises(WebSocketError) as info:
        server.feed(websocket_twin.build_frame(websocket_twin.OP_TEXT, "hi"))
    assert info.value.code == 1002
    client = websocket_twin.FrameParser(expect_masked=False)
    with pytest.raises(WebSocketError) as info:
        client.feed(websocket_twin.build_frame(websocket_twin.OP_TEXT, "hi", mask=True))
    assert info.value.code == 1002
    client = websocket_twin.FrameParser(expect_masked=False)
    assert client.feed(websocket_twin.build_frame(websocket_twin.OP_TEXT, "hi")) == [(1, "hi")]


# ---------------------------------------------------------------- parsing streams


def _sample_stream(w: ModuleType, key: bytes | None) -> tuple[bytes, list[tuple[int, object]]]:
    parts = [
        (raw_frame(0x81, "héllo".encode(), key), (w.OP_TEXT, "héllo")),
        (raw_frame(0x82, b"", key), (w.OP_BINARY, b"")),
        (raw_frame(0x89, b"p1", key), (w.OP_PING, b"p1")),
        (raw_frame(0x82, bytes(range(200)), key), (w.OP_BINARY, bytes(range(200)))),
        # fragmented text, "é" split across the fragments, with a ping and a pong in between
        (raw_frame(0x01, b"ab\xc3", key), None),
        (raw_frame(0x89, b"", key), (w.OP_PING, b"")),
        (raw_frame(0x00, b"\xa9c", key), None),
        (raw_frame(0x8A, b"pong", key), (w.OP_PONG, b"pong")),
        (raw_frame(0x80, b"d", key), (w.OP_TEXT, "abécd")),
        (raw_frame(0x88, b"\x03\xe8bye", key), (w.OP_CLOSE, (1000, "bye"))),
    ]
    return b"".join(p[0] for p in parts), [p[1] for p in parts if p[1] is not None]


@pytest.mark.parametrize("masked", [True, False])
def test_every_split_point(websocket_twin: ModuleType, masked: bool) -> None:
    stream, expected = _sample_stream(websocket_twin, KEY if masked else None)
    assert websocket_twin.FrameParser(expect_masked=masked).feed(stream) == expected
    for cut in range(len(stream) + 1):
        parser = websocket_twin.FrameParser(expect_masked=masked)
        got = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert got == expected, cut


@pytest.mark.parametrize("masked", [True, False])
def test_byte_by_byte(websocket_twin: ModuleType, masked: bool) -> None:
    stream, expected = _sample_stream(websocket_twin, KEY if masked else None)
    parser = websocket_twin.FrameParser(expect_masked=masked)
    got: list[tuple[int, object]] = []
    for i in range(len(stream)):
        got += parser.feed(stream[i : i + 1])
    assert got == expected


def test_large_frame_in_pieces_and_memoryview_input(websocket_twin: ModuleType) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    frame = raw_frame(0x82, payload, KEY) + raw_frame(0x81, b"after", KEY)
    parser = websocket_twin.FrameParser(max_message_size=MiB)
    got: list[tuple[int, object]] = []
    for i in range(0, len(frame), 65536):
        got += parser.feed(memoryview(frame)[i : i + 65536])
    assert got == [(2, payload), (1, "after")]


def test_large_fragmented_text(websocket_twin: ModuleType) -> None:
    text = "☃" * 100_000
    raw = text.encode()
    stream = raw_frame(0x01, raw[:100_001], KEY) + raw_frame(0x00, raw[100_001:200_000], KEY)
    stream += raw_frame(0x80, raw[200_000:], KEY)
    parser = websocket_twin.FrameParser()
    assert parser.feed(stream) == [(1, text)]
    # The parser is reusable for the next message after a fragmented one.
    assert parser.feed(raw_frame(0x81, b"next", KEY)) == [(1, "next")]


def test_fragment_flood_costs_its_payload_not_per_frame_objects(websocket_twin: ModuleType) -> None:
    import tracemalloc

    parser = websocket_twin.FrameParser(max_message_size=1_000_000)
    assert parser.feed(raw_frame(0x02, b"s", KEY)) == []
    empty = raw_frame(0x00, b"", KEY) * 100
    one = raw_frame(0x00, b"x", KEY) * 100
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):  # 10,000 empty and 10,000 one-byte continuation frames
            assert parser.feed(empty) == []
            assert parser.feed(one) == []
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 100_000  # the 10 KB of payload plus slack; a list of parts would cost ~500 KB
    assert parser.feed(raw_frame(0x80, b"e", KEY)) == [(2, b"s" + b"x" * 10_000 + b"e")]


# ---------------------------------------------------------------- protocol violations


def _error_code(w: ModuleType, data: bytes, expect_masked: bool = True, limit: int = 1_000_000) -> int:
    parser = w.FrameParser(max_message_size=limit, expect_masked=expect_masked)
    with pytest.raises(WebSocketError) as info:
        parser.feed(data)
    assert isinstance(info.value, ParseError)
    assert str(info.value)
    # A failed parser stays failed: no further message may be read from that connection.
    with pytest.raises(WebSocketError) as again:
        parser.feed(raw_frame(0x81, b"ok", KEY if expect_masked else None))
    assert again.value.code == info.value.code
    return info.value.code


@pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10])
def test_rsv_bits_refused(websocket_twin: ModuleType, rsv: int) -> None:
    assert _error_code(websocket_twin, raw_frame(0x81 | rsv, b"x", KEY)) == 1002


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
def test_unknown_opcodes_refused(websocket_twin: ModuleType, opcode: int) -> None:
    assert _error_code(websocket_twin, raw_frame(0x80 | opcode, b"", KEY)) == 1002


@pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
def test_control_frame_rules(websocket_twin: ModuleType, opcode: int) -> None:
    assert _error_code(websocket_twin, raw_frame(opcode, b"", KEY)) == 1002  # not FIN
    assert _error_code(websocket_twin, raw_frame(0x80 | opcode, b"x" * 126, KEY)) == 1002
    # the length rule applies to the 7-bit field, even when a 16-bit form says 125
    assert _error_code(websocket_twin, raw_frame(0x80 | opcode, b"\x03\xe8" + b"x" * 123, KEY, wide=16)) == 1002


def test_control_frame_refused_from_the_first_two_bytes(websocket_twin: ModuleType) -> None:
    parser = websocket_twin.FrameParser()
    with pytest.raises(WebSocketError):
        parser.feed(b"\x09\x80")  # a non-FIN ping: no need to wait for the rest


def test_fragmentation_state_errors(websocket_twin: ModuleType) -> None:
    assert _error_code(websocket_twin, raw_frame(0x80, b"orphan", KEY)) == 1002
    assert _error_code(websocket_twin, raw_frame(0x01, b"a", KEY) + raw_frame(0x81, b"b", KEY)) == 1002
    assert _error_code(websocket_twin, raw_frame(0x02, b"a", KEY) + raw_frame(0x02, b"b", KEY)) == 1002


def test_size_limit_checked_on_declared_length(websocket_twin: ModuleType) -> None:
    limit = 1000
    parser = websocket_twin.FrameParser(max_message_size=limit)
    assert parser.feed(raw_frame(0x82, b"x" * limit, KEY)) == [(2, b"x" * limit)]
    # Only the header of a 2 GiB frame is sent: the refusal cannot have buffered the payload.
    header = raw_frame(0x82, b"", KEY, declared=2 << 30)[:10] + KEY
    assert _error_code(websocket_twin, header, limit=limit) == 1009
    assert _error_code(websocket_twin, raw_frame(0x82, b"", KEY, declared=limit + 1)[:4], limit=limit) == 1009


def test_size_limit_counts_all_fragments(websocket_twin: ModuleType) -> None:
    limit = 1000
    ok = raw_frame(0x02, b"a" * 600, KEY) + raw_frame(0x80, b"b" * 400, KEY)
    assert websocket_twin.FrameParser(max_message_size=limit).feed(ok) == [(2, b"a" * 600 + b"b" * 400)]
    too_big = raw_frame(0x02, b"a" * 600, KEY) + raw_frame(0x80, b"b" * 401, KEY)[:8]
    assert _error_code(websocket_twin, too_big, limit=limit) == 1009


def test_negative_limit_refused(websocket_twin: ModuleType) -> None:
    with pytest.raises(ValueError):
        websocket_twin.FrameParser(max_message_size=-1)
    zero = websocket_twin.FrameParser(max_message_size=0)
    assert zero.feed(raw_frame(0x81, b"", KEY) + raw_frame(0x89, b"ping", KEY)) == [(1, ""), (9, b"ping")]
    with pytest.raises(WebSocketError):
        zero.feed(raw_frame(0x81, b"x", KEY))


def test_top_bit_of_64_bit_length_is_a_protocol_error(websocket_twin: ModuleType) -> None:
    frame = struct.pack(">BBQ", 0x82, 0xFF, 1 << 63) + KEY
    assert _error_code(websocket_twin, frame, limit=1 << 62) == 1002


@pytest.mark.parametrize(
    "chunks",
    [
        [b"\xff"],
        [b"abc\xc3"],  # truncated sequence at the end of the message
        [b"\xed\xa0\x80"],  # a UTF-16 surrogate encoded in UTF-8
        [b"ab\xc3", b"\x28"],  # split across fragments: invalid continuation byte
        [b"\xf0\x9f", b"\x98"],  # split and truncated
    ],
)
@pytest.mark.parametrize("masked", [True, False])
def test_invalid_utf8_text(websocket_twin: ModuleType, chunks: list[bytes], masked: bool) -> None:
    key = KEY if masked else None
    frames = [raw_frame(0x00 if i else 0x01, c, key) for i, c in enumerate(chunks)]
    frames[-1] = raw_frame((0x80 if len(chunks) > 1 else 0x81), chunks[-1], key)
    assert _error_code(websocket_twin, b"".join(frames), expect_masked=masked) == 1007


@pytest.mark.parametrize("masked", [True, False])
def test_invalid_utf8_fails_fast_in_a_fragment(websocket_twin: ModuleType, masked: bool) -> None:
    key = KEY if masked else None
    parser = websocket_twin.FrameParser(expect_masked=masked)
    assert parser.feed(raw_frame(0x01, "héllo".encode()[:2], key)) == []  # "h" + half of "é"
    assert parser.feed(raw_frame(0x00, b"\xa9llo", key)) == []
    with pytest.raises(WebSocketError) as info:
        parser.feed(raw_frame(0x00, b"ok \xff", key))  # the message has not ended yet
    assert info.value.code == 1007


def test_valid_utf8_split_everywhere_across_fragments(websocket_twin: ModuleType) -> None:
    raw = "a€𝄞é".encode()
    for cut in range(len(raw) + 1):
        stream = raw_frame(0x01, raw[:cut], KEY) + raw_frame(0x80, raw[cut:], KEY)
        assert websocket_twin.FrameParser().feed(stream) == [(1, "a€𝄞é")]


def test_large_invalid_text_in_one_frame(websocket_twin: ModuleType) -> None:
    bad = b"x" * 40_000 + b"\xff"  # larger than the compiled parser's scratch buffer
    assert _error_code(websocket_twin, raw_frame(0x81, bad, KEY)) == 1007


# ---------------------------------------------------------------- close payloads


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999])
def test_close_payload_roundtrip(websocket_twin: ModuleType, code: int) -> None:
    payload = websocket_twin.build_close_payload(code, "raison d'être")
    assert payload == code.to_bytes(2, "big") + "raison d'être".encode()
    assert websocket_twin.parse_close_payload(payload) == (code, "raison d'être")
    frame = websocket_twin.build_frame(websocket_twin.OP_CLOSE, payload, mask_key=KEY)
    assert websocket_twin.FrameParser().feed(frame) == [(websocket_twin.OP_CLOSE, (code, "raison d'être"))]


def test_close_payload_edge_cases(websocket_twin: ModuleType) -> None:
    assert websocket_twin.parse_close_payload(b"") == (1005, "")
    assert websocket_twin.build_close_payload(1005) == b""
    assert websocket_twin.FrameParser().feed(raw_frame(0x88, b"", KEY)) == [(8, (1005, ""))]
    assert websocket_twin.parse_close_payload(b"\x03\xe8") == (1000, "")
    longest = "é" * 61 + "x"  # 123 bytes
    assert websocket_twin.parse_close_payload(websocket_twin.build_close_payload(1000, longest)) == (1000, longest)
    with pytest.raises(ValueError):
        websocket_twin.build_close_payload(1000, longest + "x")
    for bad in (0, 999, 1004, 1006, 1015, 2999, 5000):
        with pytest.raises(ValueError):
            websocket_twin.build_close_payload(bad)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])
def test_invalid_close_codes_refused(websocket_twin: ModuleType, code: int) -> None:
    payload = code.to_bytes(2, "big") + b"why"
    with pytest.raises(WebSocketError) as info:
        websocket_twin.parse_close_payload(payload)
    assert info.value.code == 1002
    assert _error_code(websocket_twin, raw_frame(0x88, payload, KEY)) == 1002


def test_bad_close_payloads(websocket_twin: ModuleType) -> None:
    assert _error_code(websocket_twin, raw_frame(0x88, b"\x03", KEY)) == 1002
    assert _error_code(websocket_twin, raw_frame(0x88, b"\x03\xe8\xff", KEY)) == 1007


# ---------------------------------------------------------------- handshake


def test_accept_key_rfc_example(websocket_twin: ModuleType) -> None:
    assert websocket_twin.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    key = base64.b64encode(b"0123456789abcdef").decode()
    expected = base64.b64encode(hashlib.sha1((key + websocket_twin.WS_GUID).encode()).digest()).decode()
    assert websocket_twin.accept_key(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "",
        "abc",
        "dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZQ===",
        "dGhlIHNhbXBsZSBub25jZQ==\n",
        "dGhlIHNhbXBsZSBub25jZ!==",
        "dGhlIHNhbXBsZSBub25jZé==",
        "dGhlIHNhbXBsZSBub25jZQ",
        42,
    ],
)
def test_accept_key_refuses_malformed_keys(websocket_twin: ModuleType, key: object) -> None:
    with pytest.raises(ParseError):
        websocket_twin.accept_key(key)


def test_public_names_match_between_twins() -> None:
    compiled, pure = both_twins()
    assert sorted(compiled.__all__) == sorted(pure.__all__)
    for name in pure.__all__:
        if callable(getattr(pure, name)):
            assert callable(getattr(compiled, name)), name
        else:
            assert getattr(compiled, name) == getattr(pure, name), name


# ---------------------------------------------------------------- properties

_opcode_payload = st.one_of(
    st.tuples(st.just(1), st.text(max_size=300)),
    st.tuples(st.just(2), st.binary(max_size=70_000)),
    st.tuples(st.sampled_from([9, 10]), st.binary(max_size=125)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=st.lists(_opcode_payload, min_size=1, max_size=6),
    key=st.binary(min_size=4, max_size=4),
    masked=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=5),
)
def test_build_then_parse_identity(
    websocket_twin: ModuleType, messages: list[tuple[int, object]], key: bytes, masked: bool, cuts: list[int]
) -> None:
    stream = b"".join(
        websocket_twin.build_frame(op, payload, mask_key=key if masked else None) for op, payload in messages
    )
    parser = websocket_twin.FrameParser(max_message_size=100_000, expect_masked=masked)
    got: list[tuple[int, object]] = []
    last = 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        got += parser.feed(stream[last:cut])
        last = cut
    assert got == [(op, payload) for op, payload in messages]


@settings(max_examples=150, deadline=None)
@given(
    opcode=st.sampled_from([0, 1, 2, 8, 9, 10]),
    payload=st.one_of(st.binary(max_size=125), st.binary(min_size=126, max_size=70_000), st.text(max_size=100)),
    key=st.one_of(st.none(), st.binary(min_size=4, max_size=4)),
    fin=st.booleans(),
)
def test_twins_build_identical_bytes(opcode: int, payload: bytes | str, key: bytes | None, fin: bool) -> None:
    compiled, pure = both_twins()
    outcomes = []
    for twin in (compiled, pure):
        try:
            outcomes.append(twin.build_frame(opcode, payload, fin=fin, mask_key=key))
        except ValueError:
            outcomes.append("ValueError")
    assert outcomes[0] == outcomes[1]


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=140), st.booleans()), min_size=1, max_size=5).map(
            lambda fs: b"".join(raw_frame(b0, p, KEY if m else None) for b0, p, m in fs)
        ),
    ),
    masked=st.booleans(),
    cut=st.integers(min_value=0, max_value=400),
)
def test_twins_parse_identically(data: bytes, masked: bool, cut: int) -> None:
    compiled, pure = both_twins()
    results = []
    for twin in (compiled, pure):
        parser = twin.FrameParser(max_message_size=200, expect_masked=masked)
        got: list[object] = []
        try:
            got += parser.feed(data[:cut])
            got += parser.feed(data[cut:])
        except WebSocketError as exc:
            got.append(("error", exc.code))
        results.append(got)
    assert results[0] == results[1]


@pytest.mark.parametrize(
    "data",
    [
        "",
        "3[1]",
        "é" * 70,
        "x" * 124,
        "x" * 125,
        "x" * 65534,
        "x" * 65535,
        "x" * 70000,
        b"",
        b"\x00\xff",
        b"y" * 126,
        bytearray(b"ab"),
        memoryview(b"cd" * 40000),
    ],
)
def test_message_frame_is_the_engine_io_message_in_one_frame(websocket_twin: ModuleType, data: Any) -> None:
    # What a WebSocket session sends per message: "4" + text in a text frame, bytes in a binary one.
    frame = websocket_twin.message_frame(data)
    if isinstance(data, str):
        assert frame == websocket_twin.build_frame(websocket_twin.OP_TEXT, "4" + data)
        expected = [(websocket_twin.OP_TEXT, "4" + data)]
    else:
        assert frame == websocket_twin.build_frame(websocket_twin.OP_BINARY, bytes(data))
        expected = [(websocket_twin.OP_BINARY, bytes(data))]
    parser = websocket_twin.FrameParser(max_message_size=2 * MiB, expect_masked=False)
    assert parser.feed(frame) == expected


def test_message_frame_rejects_other_types(websocket_twin: ModuleType) -> None:
    with pytest.raises(TypeError):
        websocket_twin.message_frame(12)
