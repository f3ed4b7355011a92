"""Unit tests of the msgpack packet codec (socket.io-msgpack-parser format), run on both twins.

Expected bytes are written out by hand from the msgpack spec and notepack.io's encoder
(tests/js/node_modules/notepack.io/lib/encode.js); test_msgpack_interop.py checks the same
against the real JavaScript package.
"""

from __future__ import annotations

import datetime as dt
import importlib
import struct
import time
from types import ModuleType
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypersio import ParseError
from hypersio import msgpack_parser as selected
from hypersio import parser as json_parser

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
HEADER_EVENT = b"\xa4type\x02"


def frame(*items: tuple[bytes, bytes]) -> bytes:
    """A packet map from already-packed (key, value) pairs."""
    return bytes((0x80 | len(items),)) + b"".join(k + v for k, v in items)


def event_with(*values: bytes) -> bytes:
    """An EVENT packet on "/" whose data array holds "x" and the given packed values."""
    data = bytes((0x90 | (len(values) + 1),)) + b"\xa1x" + b"".join(values)
    return frame((b"\xa4type", b"\x02"), (b"\xa4data", data), (b"\xa3nsp", b"\xa1/"))


def test_selector_shares_the_json_packet_and_constants() -> None:
    assert selected.Packet is json_parser.Packet
    for name in ("CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"):
        assert getattr(selected, name) == getattr(json_parser, name)
    assert set(selected.__all__) >= {"Encoder", "Decoder", "Packet", "encode_packet"}


def test_twins_export_the_same_names(msgpack_twin: ModuleType) -> None:
    pure = importlib.import_module("hypersio.protocol.socketio._msgpack_py")
    assert sorted(msgpack_twin.__all__) == sorted(pure.__all__)
    assert msgpack_twin.Packet is json_parser.Packet


# --- encoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0, "/", None, None), b"\x82\xa4type\x00\xa3nsp\xa1/"),
        ((0, "/admin", {"token": "1"}, None), b"\x83\xa4type\x00\xa4data\x81\xa5token\xa11\xa3nsp\xa6/admin"),
        ((1, "/admin", None, None), b"\x82\xa4type\x01\xa3nsp\xa6/admin"),
        ((2, "/", ["hi"], None), b"\x83\xa4type\x02\xa4data\x91\xa2hi\xa3nsp\xa1/"),
        ((2, "/", ["hi"], 12), b"\x84\xa4type\x02\xa4data\x91\xa2hi\xa3nsp\xa1/\xa2id\x0c"),
        ((3, "/", [], 300), b"\x84\xa4type\x03\xa4data\x90\xa3nsp\xa1/\xa2id\xcd\x01\x2c"),
        ((4, "/", "nope", None), b"\x83\xa4type\x04\xa4data\xa4nope\xa3nsp\xa1/"),
        ((5, "/", ["b", b"\x01"], 1), b"\x84\xa4type\x02\xa4data\x92\xa1b\xc4\x01\x01\xa3nsp\xa1/\xa2id\x01"),
        (
            (6, "", [b""], 2**32),
            b"\x84\xa4type\x03\xa4data\x91\xc4\x00\xa3nsp\xa0\xa2id\xcf\x00\x00\x00\x01\x00\x00\x00\x00",
        ),
    ],
)
def test_encode_packet_bytes(msgpack_twin: ModuleType, args: tuple, expected: bytes) -> None:
    assert msgpack_twin.encode_packet(*args) == [expected]
    assert msgpack_twin.Encoder().encode(json_parser.Packet(*args)) == [expected]


# notepack.io's choice for each integer: the smallest form, unsigned for non-negative values.
INTS = [
    (0, "00"),
    (127, "7f"),
    (128, "cc80"),
    (255, "ccff"),
    (256, "cd0100"),
    (65535, "cdffff"),
    (65536, "ce00010000"),
    (2**32 - 1, "ceffffffff"),
    (2**32, "cf0000000100000000"),
    (2**64 - 1, "cfffffffffffffffff"),
    (-1, "ff"),
    (-32, "e0"),
    (-33, "d0df"),
    (-128, "d080"),
    (-129, "d1ff7f"),
    (-32768, "d18000"),
    (-32769, "d2ffff7fff"),
    (-(2**31), "d280000000"),
    (-(2**31) - 1, "d3ffffffff7fffffff"),
    (-(2**63), "d38000000000000000"),
]


@pytest.mark.parametrize(("value", "packed"), INTS)
def test_integer_forms(msgpack_twin: ModuleType, value: int, packed: str) -> None:
    (out,) = msgpack_twin.encode_packet(2, "/", ["x", value])
    assert out == event_with(bytes.fromhex(packed))
    assert msgpack_twin.Decoder().add(out).data == ["x", value]


@pytest.mark.parametrize("value", [1.5, 1.0, -0.0, 0.1, 1e300, float("inf"), float("-inf")])
def test_floats_are_float64(msgpack_twin: ModuleType, value: float) -> None:
    (out,) = msgpack_twin.encode_packet(2, "/", ["x", value])
    assert out == event_with(b"\xcb" + struct.pack(">d", value))
    back = msgpack_twin.Decoder().add(out).data[1]
    assert type(back) is float and struct.pack(">d", back) == struct.pack(">d", value)


@pytest.mark.parametrize(
    ("length", "header"),
    [(0, "a0"), (31, "bf"), (32, "d920"), (255, "d9ff"), (256, "da0100"), (65535, "daffff"), (65536, "db00010000")],
)
def test_string_headers(msgpack_twin: ModuleType, length: int, header: str) -> None:
    text = "é" * (length // 2) + "a" * (length % 2)  # UTF-8 length, not code points, counts
    (out,) = msgpack_twin.encode_packet(2, "/", ["x", text])
    assert out == event_with(bytes.fromhex(header) + text.encode())
    assert msgpack_twin.Decoder().add(out).data == ["x", text]


@pytest.mark.parametrize(("length", "header"), [(0, "c400"), (255, "c4ff"), (256, "c50100"), (65536, "c600010000")])
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_binary_is_bin(msgpack_twin: ModuleType, length: int, header: str, kind: type) -> None:
    raw = bytes(range(256)) * (length // 256) + bytes(length % 256)
    (out,) = msgpack_twin.encode_packet(2, "/", ["x", kind(raw)])
    assert out == event_with(bytes.fromhex(header) + raw)
    back = msgpack_twin.Decoder().add(out).data[1]
    assert type(back) is bytes and back == raw


def test_containers(msgpack_twin: ModuleType) -> None:
    data = ["x", list(range(15)), tuple(range(16)), {f"k{i}": i for i in range(15)}, {f"k{i}": i for i in range(16)}]
    (out,) = msgpack_twin.encode_packet(2, "/", data)
    assert b"\x9f" + bytes(range(15)) in out  # fixarray
    assert b"\xdc\x00\x10" + bytes(range(16)) in out  # array 16 (from a tuple)
    assert b"\x8f\xa2k0\x00" in out and b"\xde\x00\x10\xa2k0\x00" in out  # fixmap, map 16
    back = msgpack_twin.Decoder().add(out).data
    assert back == ["x", list(range(15)), list(range(16)), data[3], data[4]]
    assert [type(v) for v in back] == [str, list, list, dict, dict]


def test_scalars(msgpack_twin: ModuleType) -> None:
    (out,) = msgpack_twin.encode_packet(2, "/", ["x", None, True, False])
    assert out == event_with(b"\xc0", b"\xc3", b"\xc2")
    assert msgpack_twin.Decoder().add(out).data == ["x", None, True, False]


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC), 1700000000123),
        (dt.datetime(2023, 11, 14, 22, 13, 20, 123999), 1700000000123),  # naive = UTC, µs dropped
        (dt.datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC), -1),  # floor, as Date does
        (dt.datetime(2000, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))), 946684800000),
    ],
)
def test_datetime_is_a_js_date(msgpack_twin: ModuleType, value: dt.datetime, ms: int) -> None:
    (out,) = msgpack_twin.encode_packet(2, "/", ["x", value])
    assert out == event_with(b"\xd7\x00" + struct.pack(">q", ms))
    back = msgpack_twin.Decoder().add(out).data[1]
    assert back == EPOCH + dt.timedelta(milliseconds=ms) and back.tzinfo is not None


def test_encode_does_not_mutate(msgpack_twin: ModuleType) -> None:
    data = ["x", {"a": [b"1", bytearray(b"2")]}, (1, 2)]
    packet = json_parser.Packet(5, "/n", data, 3)
    msgpack_twin.Encoder().encode(packet)
    assert packet.type == 5 and packet.data is data
    assert data == ["x", {"a": [b"1", bytearray(b"2")]}, (1, 2)]


def deep_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((7, "/", ["x"]), ValueError),
        ((-1, "/", ["x"]), ValueError),
        (("2", "/", ["x"]), ValueError),
        ((True, "/", ["x"]), ValueError),
        ((None, "/", ["x"]), ValueError),
        ((2, None, ["x"]), TypeError),
        ((2, b"/", ["x"]), TypeError),
        ((2, "/", ["x"], "1"), TypeError),
        ((2, "/", ["x"], True), TypeError),
        ((2, "/", ["x"], 1.0), TypeError),
        ((2, "/", ["x"], -1), ValueError),
        ((2, "/", ["x"], 2**64), OverflowError),
        ((2, "/", ["x", object()]), TypeError),
        ((2, "/", ["x", {1, 2}]), TypeError),
        ((2, "/", ["x", 2**64]), OverflowError),
        ((2, "/", ["x", -(2**63) - 1]), OverflowError),
        ((2, "/n", ["x", b"partial", object()]), TypeError),
        ((2, "/n", ["x", deep_list(100_000)]), ValueError),  # msgpack's recursion limit
    ],
)
def test_encode_rejects(msgpack_twin: ModuleType, args: tuple, error: type) -> None:
    with pytest.raises(error):
        msgpack_twin.encode_packet(*args)
    # nothing of the failed packet is left behind in the reused packer
    assert msgpack_twin.encode_packet(2, "/", ["hi"]) == [b"\x83\xa4type\x02\xa4data\x91\xa2hi\xa3nsp\xa1/"]


# --- decoding ----------------------------------------------------------------------------------


def test_decode_ignores_key_order_and_unknown_keys(msgpack_twin: ModuleType) -> None:
    # The shape socket.io-client sends for an emit with ack: options sits between data and id.
    raw = msgpack.packb({"type": 2, "data": ["hi", 1], "options": {"compress": True}, "id": 4, "nsp": "/chat"})
    assert msgpack_twin.Decoder().add(raw) == json_parser.Packet(2, "/chat", ["hi", 1], 4)
    raw = msgpack.packb({"id": 9, "nsp": "/", "zzz": [1, {"a": None}], "data": [], "type": 3})
    assert msgpack_twin.Decoder().add(raw) == json_parser.Packet(3, "/", [], 9)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_decode_accepts_any_bytes_like(msgpack_twin: ModuleType, kind: type) -> None:
    raw = msgpack_twin.encode_packet(2, "/", ["x", b"1"], 1)[0]
    packet = msgpack_twin.Decoder().add(kind(raw))
    assert packet == json_parser.Packet(2, "/", ["x", b"1"], 1) and packet.attachments == 0


UNDEF = b"\xd4\x00\x00"


def test_undefined(msgpack_twin: ModuleType) -> None:
    d = msgpack_twin.Decoder()
    # top level: undefined data/id mean "absent" (socket.io-client's CONNECT without auth)
    assert d.add(frame((b"\xa4type", b"\x00"), (b"\xa4data", UNDEF), (b"\xa3nsp", b"\xa1/"))).data is None
    packet = d.add(
        frame((b"\xa4type", b"\x02"), (b"\xa4data", b"\x91\xa1x"), (b"\xa3nsp", b"\xa1/"), (b"\xa2id", UNDEF))
    )
    assert packet.id is None
    # nested: None, whatever byte follows the type (notepack ignores it)
    packet = d.add(event_with(UNDEF, b"\x92\xd4\x00\x07\xc0", b"\x81\xa1u" + UNDEF))
    assert packet.data == ["x", None, [None, None], {"u": None}]
    # an undefined next to a top-level one: both found
    raw = frame((b"\xa4type", b"\x02"), (b"\xa4data", b"\x92\xa1x" + UNDEF), (b"\xa3nsp", b"\xa1/"), (b"\xa2id", UNDEF))
    assert d.add(raw).data == ["x", None]
    # undefined where a value is required is invalid, as in JavaScript
    with pytest.raises(ParseError):
        d.add(frame((b"\xa4type", UNDEF), (b"\xa4data", b"\x91\xa1x"), (b"\xa3nsp", b"\xa1/")))
    with pytest.raises(ParseError):
        d.add(frame((b"\xa4type", b"\x02"), (b"\xa4data", UNDEF), (b"\xa3nsp", b"\xa1/")))
    with pytest.raises(ParseError):  # undefined as a map key
        d.add(event_with(b"\x81" + UNDEF + b"\x01"))


def test_extension_type_zero_by_header(msgpack_twin: ModuleType) -> None:
    """notepack.io: fixext1 = undefined, fixext8 = Date, ext 8/16/32 = ArrayBuffer."""
    d = msgpack_twin.Decoder()
    date = struct.pack(">q", 1700000000123)
    when = EPOCH + dt.timedelta(milliseconds=1700000000123)
    # each header alone (the quick search decides)
    assert d.add(event_with(b"\xc7\x01\x00\x00")).data == ["x", b"\x00"]
    assert d.add(event_with(b"\xc7\x08\x00" + date)).data == ["x", date]
    assert d.add(event_with(b"\xd7\x00" + date)).data == ["x", when]
    assert d.add(event_with(b"\xc8\x00\x03\x00abc", b"\xc9\x00\x00\x00\x02\x00hi")).data == ["x", b"abc", b"hi"]
    assert d.add(event_with(b"\xc7\x00\x00")).data == ["x", b""]
    # both headers in one packet: the walk over the tokens decides, in document order
    raw = event_with(UNDEF, b"\xc7\x01\x00\x00", b"\xd7\x00" + date, b"\xc7\x08\x00" + date, UNDEF)
    assert d.add(raw).data == ["x", None, b"\x00", when, date, None]
    # a header look-alike inside a bin payload must not fool it
    raw = event_with(b"\xc4\x03\xc7\x01\x00", UNDEF, b"\xc4\x02\xd4\x00", b"\xc7\x01\x00\x05")
    assert d.add(raw).data == ["x", b"\xc7\x01\x00", None, b"\xd4\x00", b"\x05"]
    # the other fixed sizes with type 0 are not ArrayBuffers for notepack: [type, bytes]
    assert d.add(event_with(b"\xd5\x00ab", b"\xd6\x00abcd", b"\xd8\x00" + bytes(16))).data == [
        "x",
        [0, b"ab"],
        [0, b"abcd"],
        [0, bytes(16)],
    ]
    assert d.add(event_with(b"\xc7\x02\x00ab", b"\xd5\x00ab")).data == ["x", b"ab", [0, b"ab"]]


def test_other_extension_types(msgpack_twin: ModuleType) -> None:
    d = msgpack_twin.Decoder()
    assert d.add(event_with(b"\xd4\x05\x01", b"\xc7\x02\xfbab")).data == ["x", [5, b"\x01"], [-5, b"ab"]]
    # msgpack's timestamp extension (-1) is a date
    assert d.add(event_with(b"\xd6\xff" + struct.pack(">I", 86400))).data == ["x", EPOCH + dt.timedelta(days=1)]


def test_out_of_range_date(msgpack_twin: ModuleType) -> None:
    with pytest.raises(ParseError, match="out of range"):
        msgpack_twin.Decoder().add(event_with(b"\xd7\x00" + struct.pack(">q", 8_640_000_000_000_000)))


def valid(**fields: Any) -> bytes:
    return msgpack.packb(fields)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (valid(type=0, nsp="/"), json_parser.Packet(0, "/")),
        (valid(type=0, nsp="/a", data={"t": 1}), json_parser.Packet(0, "/a", {"t": 1})),
        (valid(type=1, nsp="/a"), json_parser.Packet(1, "/a")),
        (valid(type=2, nsp="/", data=["e", b"\x00"], id=0), json_parser.Packet(2, "/", ["e", b"\x00"], 0)),
        (valid(type=2, nsp="/", data=[1]), json_parser.Packet(2, "/", [1])),
        (valid(type=2, nsp="/", data=[1.5, None]), json_parser.Packet(2, "/", [1.5, None])),
        (valid(type=3, nsp="", data=[], id=2**53 - 1), json_parser.Packet(3, "", [], 2**53 - 1)),
        (valid(type=4, nsp="/", data="no"), json_parser.Packet(4, "/", "no")),
        (valid(type=4, nsp="/", data={"message": "m"}), json_parser.Packet(4, "/", {"message": "m"})),
        (valid(type=2.0, nsp="/", data=["e"], id=7.0), json_parser.Packet(2, "/", ["e"], 7)),
    ],
)
def test_decode_valid(msgpack_twin: ModuleType, raw: bytes, expected: Any) -> None:
    packet = msgpack_twin.Decoder().add(raw)
    assert packet == expected
    assert type(packet.type) is int and (packet.id is None or type(packet.id) is int)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": 5, "data": ["x"], "nsp": "/"}, "type"),  # no attachments in this format
        ({"type": 6, "data": [], "nsp": "/"}, "type"),
        ({"type": 7, "data": ["x"], "nsp": "/"}, "type"),
        ({"type": -1, "data": ["x"], "nsp": "/"}, "type"),
        ({"type": "2", "data": ["x"], "nsp": "/"}, "type"),
        ({"type": True, "data": ["x"], "nsp": "/"}, "type"),
        ({"type": 2.5, "data": ["x"], "nsp": "/"}, "type"),
        ({"type": float("nan"), "data": ["x"], "nsp": "/"}, "type"),
        ({"type": float("inf"), "data": ["x"], "nsp": "/"}, "type"),
        ({"type": None, "data": ["x"], "nsp": "/"}, "type"),
        ({"data": ["x"], "nsp": "/"}, "type"),
        ({"type": 2, "data": ["x"]}, "namespace"),
        ({"type": 2, "data": ["x"], "nsp": None}, "namespace"),
        ({"type": 2, "data": ["x"], "nsp": b"/"}, "namespace"),
        ({"type": 2, "data": ["x"], "nsp": "/", "id": None}, "ack id"),
        ({"type": 2, "data": ["x"], "nsp": "/", "id": "1"}, "ack id"),
        ({"type": 2, "data": ["x"], "nsp": "/", "id": -1}, "ack id"),
        ({"type": 2, "data": ["x"], "nsp": "/", "id": 1.5}, "ack id"),
        ({"type": 2, "data": ["x"], "nsp": "/", "id": 2**53}, "ack id"),
        ({"type": 2, "data": ["x"], "nsp": "/", "id": False}, "ack id"),
        ({"type": 0, "data": None, "nsp": "/"}, "CONNECT"),
        ({"type": 0, "data": ["a"], "nsp": "/"}, "CONNECT"),
        ({"type": 0, "data": "a", "nsp": "/"}, "CONNECT"),
        ({"type": 1, "data": None, "nsp": "/"}, "DISCONNECT"),
        ({"type": 1, "data": {}, "nsp": "/"}, "DISCONNECT"),
        ({"type": 2, "nsp": "/"}, "EVENT"),
        ({"type": 2, "data": [], "nsp": "/"}, "EVENT"),
        ({"type": 2, "data": {"0": "x"}, "nsp": "/"}, "EVENT"),
        ({"type": 2, "data": [None], "nsp": "/"}, "event name"),
        ({"type": 2, "data": [True], "nsp": "/"}, "event name"),
        ({"type": 2, "data": [["x"]], "nsp": "/"}, "event name"),
        ({"type": 2, "data": ["disconnect"], "nsp": "/"}, "reserved"),
        ({"type": 2, "data": ["newListener", 1], "nsp": "/"}, "reserved"),
        ({"type": 3, "nsp": "/"}, "ACK"),
        ({"type": 3, "data": "x", "nsp": "/"}, "ACK"),
        ({"type": 4, "nsp": "/"}, "CONNECT_ERROR"),
        ({"type": 4, "data": None, "nsp": "/"}, "CONNECT_ERROR"),
        ({"type": 4, "data": ["x"], "nsp": "/"}, "CONNECT_ERROR"),
        ({"type": 4, "data": 3, "nsp": "/"}, "CONNECT_ERROR"),
    ],
)
def test_decode_rejects_invalid_packets(msgpack_twin: ModuleType, fields: dict, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        msgpack_twin.Decoder().add(msgpack.packb(fields))


GOOD = msgpack.packb({"type": 2, "data": ["ev", {"k": [1, 2.5, "s", b"b"]}, None], "nsp": "/n", "id": 300})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "invalid msgpack"),
        (GOOD + b"\x00", "invalid msgpack"),  # trailing bytes
        (GOOD + GOOD, "invalid msgpack"),
        (b"\xc1", "invalid msgpack"),  # the one reserved byte
        (msgpack.packb([2, "/"]), "must be a map"),
        (msgpack.packb("2"), "must be a map"),
        (msgpack.packb(None), "must be a map"),
        (b"\x82\xa4type\x02\xa3nsp\xa2\xff\xfe", "invalid msgpack"),  # not UTF-8
        (event_with(b"\x81\x01\x02"), "invalid msgpack"),  # integer map key (hash flooding guard)
        (event_with(b"\x81\x91\x01\x02"), "invalid msgpack"),  # array map key
        (b"\x91" * 100_000 + b"\xc0", "nested too deeply"),
        (b"\x81\xa1a" * 50_000 + b"\xc0", "nested too deeply"),
    ],
)
def test_decode_rejects_malformed(msgpack_twin: ModuleType, raw: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        msgpack_twin.Decoder().add(raw)


def test_every_truncation_is_rejected(msgpack_twin: ModuleType) -> None:
    d = msgpack_twin.Decoder()
    for end in range(len(GOOD)):
        with pytest.raises(ParseError):
            d.add(GOOD[:end])
    assert d.add(GOOD).id == 300  # the decoder is still usable after errors


@pytest.mark.parametrize(
    "header",
    ["dbffffffff", "c6ffffffff", "c9ffffffff00", "ddffffffff", "dfffffffff", "dc ffff", "daffff", "c8ffff00"],
)
def test_huge_declared_lengths_do_not_allocate(msgpack_twin: ModuleType, header: str) -> None:
    raw = event_with(bytes.fromhex(header) + b"\x00" * 8)
    start = time.perf_counter()
    with pytest.raises(ParseError):
        msgpack_twin.Decoder().add(raw)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("chunk", ["2", "\x83", None, 42, ["x"]])
def test_decode_rejects_non_binary_input(msgpack_twin: ModuleType, chunk: Any) -> None:
    with pytest.raises(ParseError):
        msgpack_twin.Decoder().add(chunk)


def test_decoder_options(msgpack_twin: ModuleType) -> None:
    d = msgpack_twin.Decoder(max_attachments=3)
    assert d.max_attachments == 3
    d.reset()
    assert d.add(GOOD).nsp == "/n"


# --- properties --------------------------------------------------------------------------------

keys = st.text(max_size=8)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.binary(max_size=40)
    | st.binary(max_size=10).map(bytearray)
    | st.binary(max_size=10).map(memoryview)
    | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=5) | st.lists(inner, max_size=3).map(tuple) | st.dictionaries(keys, inner, max_size=5)
    ),
    max_leaves=25,
)
event_names = st.text(max_size=10).filter(lambda s: s not in json_parser.RESERVED_EVENTS) | st.integers(0, 9)
namespaces = st.sampled_from(["/", "/admin", ""]) | st.text(max_size=10).map(lambda s: "/" + s)
ack_ids = st.none() | st.integers(min_value=0, max_value=2**53 - 1)
packets = st.one_of(
    st.tuples(st.just(0), namespaces, st.none() | st.dictionaries(keys, values, max_size=4), st.none()),
    st.tuples(st.just(1), namespaces, st.none(), st.none()),
    st.tuples(
        st.sampled_from([2, 5]),
        namespaces,
        st.tuples(event_names, st.lists(values, max_size=4)).map(lambda t: [t[0], *t[1]]),
        ack_ids,
    ),
    st.tuples(st.sampled_from([3, 6]), namespaces, st.lists(values, max_size=4), ack_ids),
    st.tuples(st.just(4), namespaces, st.text() | st.dictionaries(keys, values, max_size=4), st.none()),
)


def plain(v: Any) -> Any:
    """What a value decodes to: tuples become lists, bytearray/memoryview become bytes."""
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    return v


FIXTURE_OK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FIXTURE_OK
@given(packet=packets)
def test_encode_decode_identity(msgpack_twin: ModuleType, packet: tuple) -> None:
    ptype, nsp, data, pid = packet
    (raw,) = msgpack_twin.encode_packet(ptype, nsp, data, pid)
    back = msgpack_twin.Decoder().add(raw)
    assert back.type == (ptype - 3 if ptype >= 5 else ptype)
    assert back.nsp == nsp and back.id == pid
    assert back.data == plain(data)


def compiled_twin() -> ModuleType:
    try:
        return importlib.import_module("hypersio.protocol.socketio._msgpack_c")
    except ImportError:
        pytest.skip("compiled twin not built")


@settings(max_examples=200, deadline=None)
@given(packet=packets)
def test_twins_encode_byte_identical(packet: tuple) -> None:
    pure = importlib.import_module("hypersio.protocol.socketio._msgpack_py")
    assert compiled_twin().encode_packet(*packet) == pure.encode_packet(*packet)


def decode_outcome(module: ModuleType, raw: bytes) -> Any:
    try:
        p = module.Decoder().add(raw)
    except ParseError:
        return "ParseError"
    return (p.type, p.nsp, p.data, p.id)


@settings(max_examples=200, deadline=None)
@given(
    raw=st.binary(max_size=64)
    | packets.map(lambda p: importlib.import_module("hypersio.protocol.socketio._msgpack_py").encode_packet(*p)[0])
)
def test_twins_decode_alike_and_only_raise_parse_error(raw: bytes) -> None:
    pure = importlib.import_module("hypersio.protocol.socketio._msgpack_py")
    c = compiled_twin()
    mutated = raw[:-1] + bytes([raw[-1] ^ 0x5A]) if raw else raw
    for blob in (raw, mutated, b"\x84\xa4type\x02" + raw):
        assert decode_outcome(c, blob) == decode_outcome(pure, blob)


# Type-0 extensions as notepack.io writes them, with what they must decode to.
EXT0_FORMS = [
    (UNDEF, None),
    (b"\xd4\x00\x09", None),
    (b"\xc7\x01\x00\x00", b"\x00"),
    (b"\xc7\x01\x00\xd4", b"\xd4"),
    (b"\xd7\x00" + struct.pack(">q", -5), EPOCH + dt.timedelta(milliseconds=-5)),
    (b"\xc7\x08\x00" + b"\xd4\x00" * 4, b"\xd4\x00" * 4),
    (b"\xc7\x02\x00\xd7\x00", b"\xd7\x00"),
    (b"\xd5\x00\xc7\x01", [0, b"\xc7\x01"]),
]
# Plain values whose bytes look like extension headers, to mislead a careless search.
DECOYS = [b"\xd4\x00\x00", b"\xc7\x01\x00", b"\xc7\x08\x00\xd7\x00", b"\x00\xd4", bytes(8)]


def as_js_date(value: dt.datetime) -> msgpack.ExtType:
    return msgpack.ExtType(0, struct.pack(">q", (value - EPOCH) // dt.timedelta(milliseconds=1)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.sampled_from(range(len(EXT0_FORMS))) | values | st.sampled_from(DECOYS), max_size=40))
def test_ext0_headers_among_any_values(msgpack_twin: ModuleType, items: list) -> None:
    raw_items, expected = [], []
    for item in items:
        if type(item) is int and 0 <= item < len(EXT0_FORMS) and not isinstance(item, bool):
            raw, value = EXT0_FORMS[item]
        else:
            raw, value = msgpack.packb(item, default=as_js_date), plain(item)
        raw_items.append(raw)
        expected.append(value)
    data = b"\xdc" + struct.pack(">H", len(raw_items) + 1) + b"\xa1x" + b"".join(raw_items)
    raw = frame((b"\xa4type", b"\x02"), (b"\xa4data", data), (b"\xa3nsp", b"\xa1/"))
    assert msgpack_twin.Decoder().add(raw).data == ["x", *expected]


def test_ext0_walk_over_a_large_message(msgpack_twin: ModuleType) -> None:
    filler = b"\xc4\x00\xd9\x01a\xcc\x01\xa3abc\xc7\x00\x05" * 20_000  # 5 tokens each, none type 0
    data = b"\xdd" + struct.pack(">I", 100_003) + b"\xa1x" + UNDEF + filler + b"\xc7\x01\x00\x07"
    raw = frame((b"\xa4type", b"\x02"), (b"\xa4data", data), (b"\xa3nsp", b"\xa1/"))
    out = msgpack_twin.Decoder().add(raw).data
    assert len(out) == 100_003 and out[1] is None and out[-1] == b"\x07" and out[-2] == [5, b""]


@pytest.mark.parametrize(
    "tail",
    [
        b"\xd9",  # str 8 without its length byte
        b"\xa5ab",  # a fixstr of 5 bytes with 2
        b"\xcd\x01",  # uint 16 with one byte
        b"\xc7",  # ext 8 without its length
        b"\xc8\x00\x01",  # ext 16 without its type
        b"\xd4",  # fixext 1 without its type
        b"\xc6\xff\xff",  # bin 32 with half its length
    ],
)
def test_ext0_walk_stops_at_a_truncated_token(msgpack_twin: ModuleType, tail: bytes) -> None:
    # Found by fuzzing (issue 13): when both a fixext and an ext 8 header of type 0 occur, the
    # header walk runs from the ext hook, over the whole message, before msgpack has checked what
    # follows; a token cut short after the extension made the pure twin raise IndexError (or
    # ValueError: a negative shift) and the compiled one read past the end of the buffer.
    data = b"\x93\xa1x" + UNDEF + b"\xc7\x01\x00\x07"
    raw = frame((b"\xa4type", b"\x02"), (b"\xa4data", data), (b"\xa3nsp", b"\xa1/"))
    assert msgpack_twin.Decoder().add(raw).data == ["x", None, b"\x07"]
    with pytest.raises(ParseError, match="invalid msgpack"):
        msgpack_twin.Decoder().add(raw + tail)


def test_encode_while_an_encode_is_packing(msgpack_twin: ModuleType) -> None:
    """The datetime hook runs Python code mid-pack; another encode there (another thread, or as
    here the same one) must not disturb the shared packer."""
    inner: list = []

    class Reentrant(dt.datetime):
        def __sub__(self, other: Any) -> Any:
            inner.append(msgpack_twin.encode_packet(2, "/in", ["inner", b"\x01" * 40], 7))
            return super().__sub__(other)

    when = Reentrant(2020, 1, 1, tzinfo=UTC)
    (outer,) = msgpack_twin.encode_packet(2, "/out", ["outer", "s" * 40, when, b"\x02" * 40], 8)
    pure = importlib.import_module("hypersio.protocol.socketio._msgpack_py")
    assert inner == [pure.encode_packet(2, "/in", ["inner", b"\x01" * 40], 7)]
    plain_when = dt.datetime(2020, 1, 1, tzinfo=UTC)
    assert outer == pure.encode_packet(2, "/out", ["outer", "s" * 40, plain_when, b"\x02" * 40], 8)[0]
    assert msgpack_twin.Decoder().add(outer).data == ["outer", "s" * 40, plain_when, b"\x02" * 40]


def test_wide_ext_headers_of_fixext_sizes(msgpack_twin: ModuleType) -> None:
    """ext 16/32 with a fixext size (not notepack.io's, but valid msgpack) are ArrayBuffers too."""
    d = msgpack_twin.Decoder()
    assert d.add(event_with(b"\xd5\x00ab", b"\xc9\x00\x00\x00\x02\x00hi")).data == ["x", [0, b"ab"], b"hi"]
    assert d.add(event_with(b"\xc8\x00\x01\x00z", UNDEF, b"\xc7\x01\x00y")).data == ["x", b"z", None, b"y"]


def test_twins_tell_ext_headers_apart_alike() -> None:
    """Messages dense in look-alike headers, where only the token walk can decide."""
    import random

    pure = importlib.import_module("hypersio.protocol.socketio._msgpack_py")
    compiled = compiled_twin()
    rng = random.Random(7)
    pieces = (
        [raw for raw, _ in EXT0_FORMS]
        + [msgpack.packb(d) for d in DECOYS]
        + [b"\xc8\x00\x01\x00q", b"\xd6\xff\x00\x00\x00\x01", b"\xa3abc", b"\x00", b"\xcd\xc7\x01"]
    )
    outcomes = []
    for _ in range(300):
        items = [rng.choice(pieces) for _ in range(rng.randrange(1, 12))]
        data = bytes((0x90 | (len(items) + 1),)) + b"\xa1x" + b"".join(items)
        raw = frame((b"\xa4type", b"\x02"), (b"\xa4data", data), (b"\xa3nsp", b"\xa1/"))
        outcome = decode_outcome(pure, raw)
        assert decode_outcome(compiled, raw) == outcome
        outcomes.append(outcome)
    assert sum(o != "ParseError" for o in outcomes) > 250
