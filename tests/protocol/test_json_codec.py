"""Unit tests of the Socket.IO JSON codec, run over both twins (compiled and pure)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypersio import ParseError


def decode_all(mod: ModuleType, chunks: list[Any], **kwargs: Any) -> Any:
    """Feed chunks to a fresh decoder; return what the last add() returned."""
    decoder = mod.Decoder(**kwargs)
    result = None
    for index, chunk in enumerate(chunks):
        result = decoder.add(chunk)
        if index < len(chunks) - 1:
            assert result is None, "packet completed before its last chunk"
    return result


# --------------------------------------------------------------------------------------------
# Packet
# --------------------------------------------------------------------------------------------


def test_constants(json_twin: ModuleType) -> None:
    m = json_twin
    assert tuple(range(7)) == (m.CONNECT, m.DISCONNECT, m.EVENT, m.ACK, m.CONNECT_ERROR, m.BINARY_EVENT, m.BINARY_ACK)
    assert "disconnecting" in m.RESERVED_EVENTS and "message" not in m.RESERVED_EVENTS
    assert set(m.__all__) >= {"Packet", "Encoder", "Decoder", "encode_packet", "EVENT"}


def test_packet_attributes_eq_repr(json_twin: ModuleType) -> None:
    m = json_twin
    p = m.Packet(m.EVENT, "/chat", ["a", 1], 7)
    assert (p.type, p.nsp, p.data, p.id, p.attachments) == (m.EVENT, "/chat", ["a", 1], 7, 0)
    default = m.Packet(m.CONNECT)
    assert (default.nsp, default.data, default.id) == ("/", None, None)
    assert p == m.Packet(m.EVENT, "/chat", ["a", 1], 7)
    assert p != m.Packet(m.EVENT, "/chat", ["a", 2], 7)
    assert p != m.Packet(m.EVENT, "/", ["a", 1], 7)
    assert p != m.Packet(m.EVENT, "/chat", ["a", 1], 8)
    assert p != m.Packet(m.ACK, "/chat", ["a", 1], 7)
    assert p != "not a packet"
    p.data = ["b"]
    p.attachments = 3
    assert p.data == ["b"] and p.attachments == 3
    text = repr(m.Packet(m.ACK, "/x", [1], 4))
    assert "ACK" in text and "'/x'" in text and "[1]" in text and "4" in text


def test_selector_exports_the_twin_api() -> None:
    from hypersio import parser

    assert parser.IMPLEMENTATION in ("hypersio.protocol.socketio._json_c", "hypersio.protocol.socketio._json_py")
    for name in ("Packet", "Encoder", "Decoder", "encode_packet", "CONNECT", "BINARY_ACK"):
        assert hasattr(parser, name), name
    assert parser.Decoder().add('2["x"]') == parser.Packet(parser.EVENT, "/", ["x"])


def test_packet_pickles(json_twin: ModuleType) -> None:
    import pickle

    m = json_twin
    packet = m.Packet(m.ACK, "/a", [b"x", {"k": 1}], 5)
    packet.attachments = 1
    copy = pickle.loads(pickle.dumps(packet))
    assert copy == packet and copy.attachments == 1 and type(copy) is m.Packet


def test_int_like_types_and_str_subclass_chunks(json_twin: ModuleType) -> None:
    import enum

    class Kind(enum.IntEnum):
        EVENT = 2

    class Text(str):
        pass

    m = json_twin
    assert m.encode_packet(Kind.EVENT, "/", ["x"], None) == ['2["x"]']
    assert m.Encoder().encode(m.Packet(Kind.EVENT, "/", ["x"])) == ['2["x"]']
    assert m.Decoder().add(Text('2/a,["x"]')) == m.Packet(m.EVENT, "/a", ["x"])


def test_encoder_takes_any_packet_like_object(json_twin: ModuleType) -> None:
    m = json_twin
    other = other_twin(m)

    class Duck:
        type, nsp, data, id = 3, "/d", [1], 2

    assert m.Encoder().encode(other.Packet(m.EVENT, "/a", ["x"])) == ['2/a,["x"]']
    assert m.Encoder().encode(Duck()) == ["3/d,2[1]"]
    # Construction does not validate the namespace; encoding does.
    assert m.Encoder().encode(m.Packet(m.EVENT, None, ["x"])) == ['2["x"]']
    with pytest.raises(TypeError):
        m.Encoder().encode(m.Packet(m.EVENT, b"/x", ["x"]))


def test_decoder_reset_drops_a_half_received_packet(json_twin: ModuleType) -> None:
    m = json_twin
    decoder = m.Decoder()
    assert decoder.add('52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]') is None
    assert decoder.add(b"a") is None
    decoder.reset()
    with pytest.raises(ParseError):
        decoder.add(b"b")  # nothing pending any more
    assert decoder.max_attachments == 10


# --------------------------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------------------------

ENCODED = [
    # (type, nsp, data, id) -> the exact text socket.io-parser writes
    ((0, "/", None, None), "0"),
    ((0, "/admin", None, None), "0/admin,"),
    ((0, "/", {"token": "123"}, None), '0{"token":"123"}'),
    ((0, "/admin", {"sid": "abc"}, None), '0/admin,{"sid":"abc"}'),
    ((1, "/admin", None, None), "1/admin,"),
    ((1, "/", None, None), "1"),
    ((2, "/", ["foo"], None), '2["foo"]'),
    ((2, "/admin", ["bar"], None), '2/admin,["bar"]'),
    ((2, "/", ["foo"], 12), '212["foo"]'),
    ((2, "/", ["foo"], 0), '20["foo"]'),
    ((3, "/admin", ["bar"], 13), '3/admin,13["bar"]'),
    ((3, "/", [], 1), "31[]"),
    (
        (4, "/", {"message": "Not authorized", "data": {"code": 42}}, None),
        '4{"message":"Not authorized","data":{"code":42}}',
    ),
    ((4, "/random", "Invalid namespace", None), '4/random,"Invalid namespace"'),
    ((2, "", ["x"], None), '2["x"]'),
    ((2, "/", ["é€😀", "\u2028", 'a"b\\c\n\t\x01'], None), '2["é€😀","\u2028","a\\"b\\\\c\\n\\t\\u0001"]'),
    ((2, "/ñ", ["x", ("t", True, None, 1.5)], None), '2/ñ,["x",["t",true,null,1.5]]'),
]


@pytest.mark.parametrize(("fields", "expected"), ENCODED)
def test_encode_matches_socket_io_parser(json_twin: ModuleType, fields: tuple, expected: str) -> None:
    m = json_twin
    assert m.encode_packet(*fields) == [expected]
    assert m.Encoder().encode(m.Packet(*fields)) == [expected]


def test_encode_binary_top_level_and_nested(json_twin: ModuleType) -> None:
    m = json_twin
    data = ["hey", b"\x01", {"a": [bytearray(b"\x02"), {"deep": memoryview(b"\x03")}]}, (b"\x04",)]
    snapshot = repr(data)
    packet = m.Packet(m.EVENT, "/admin", data, 5)
    out = m.Encoder().encode(packet)
    assert out == [
        '54-/admin,5["hey",{"_placeholder":true,"num":0},{"a":[{"_placeholder":true,"num":1},'
        '{"deep":{"_placeholder":true,"num":2}}]},[{"_placeholder":true,"num":3}]]',
        b"\x01",
        b"\x02",
        b"\x03",
        b"\x04",
    ]
    assert all(type(chunk) is bytes for chunk in out[1:])
    assert repr(data) == snapshot and packet.type == m.EVENT and packet.attachments == 0  # not mutated


def test_encode_binary_ack_and_binary_only_nested(json_twin: ModuleType) -> None:
    m = json_twin
    assert m.encode_packet(m.ACK, "/", [{"k": b"z"}], 9) == ['61-9[{"k":{"_placeholder":true,"num":0}}]', b"z"]
    # A binary type without any binary data cannot go on the wire as such: plain EVENT/ACK.
    assert m.encode_packet(m.BINARY_EVENT, "/", ["x"], None) == ['2["x"]']
    assert m.encode_packet(m.BINARY_ACK, "/", ["x"], 3) == ['33["x"]']
    assert m.encode_packet(m.BINARY_EVENT, "/", ["x", b"y"], None) == ['51-["x",{"_placeholder":true,"num":0}]', b"y"]


def test_encode_json_fallbacks(json_twin: ModuleType) -> None:
    m = json_twin
    assert m.encode_packet(m.EVENT, "/", ["big", 2**70]) == ['2["big",1180591620717411303424]']
    assert m.encode_packet(m.EVENT, "/", ["keys", {1: "a", None: "b"}]) == ['2["keys",{"1":"a","null":"b"}]']
    # JSON.stringify escapes lone surrogates; a str holding one must still be valid UTF-8 text.
    out = m.encode_packet(m.EVENT, "/", ["s", "a\ud800b"])
    assert out == ['2["s","a\\ud800b"]']
    out[0].encode("utf-8")
    # NaN becomes null, as JSON.stringify does.
    assert m.encode_packet(m.EVENT, "/", ["n", float("nan")]) == ['2["n",null]']
    # Binary mixed with a fallback value.
    assert m.encode_packet(m.EVENT, "/", ["x", {2: b"q"}, 2**65]) == [
        '51-["x",{"2":{"_placeholder":true,"num":0}},36893488147419103232]',
        b"q",
    ]


def test_encode_rejects_bad_fields(json_twin: ModuleType) -> None:
    m = json_twin
    for bad_type in (7, -1, "2", None, True):
        with pytest.raises(ValueError):
            m.encode_packet(bad_type, "/", ["x"], None)
    with pytest.raises(TypeError):
        m.encode_packet(m.EVENT, "/", ["x"], "12")
    with pytest.raises(TypeError):
        m.encode_packet(m.EVENT, "/", ["x"], True)
    with pytest.raises(ValueError):
        m.encode_packet(m.EVENT, "/", ["x"], -1)
    with pytest.raises(ValueError):
        m.encode_packet(m.EVENT, "/", ["x"], 2**53)
    with pytest.raises(TypeError):
        m.encode_packet(m.EVENT, b"/x", ["x"], None)
    with pytest.raises(UnicodeEncodeError):
        m.encode_packet(m.EVENT, "/\ud800", ["x"], None)
    with pytest.raises(TypeError):
        m.encode_packet(m.EVENT, "/", ["x", object()], None)
    with pytest.raises(TypeError):
        m.encode_packet(m.CONNECT, "/", {"k": b"binary"}, None)


def test_encode_nested_binary_beyond_top_level(json_twin: ModuleType) -> None:
    m = json_twin
    nested: Any = b"bottom"
    for _ in range(50):
        nested = [nested]
    out = m.encode_packet(m.EVENT, "/", ["deep", nested])
    assert out[1:] == [b"bottom"]
    assert out[0].count("[") == 51 and '{"_placeholder":true,"num":0}' in out[0]


# --------------------------------------------------------------------------------------------
# Decoder: valid input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "text"), ENCODED)
def test_decode_what_socket_io_parser_writes(json_twin: ModuleType, fields: tuple, text: str) -> None:
    m = json_twin
    ptype, nsp, data, pid = fields
    expected_data = [list(x) if isinstance(x, tuple) else x for x in data] if isinstance(data, list) else data
    packet = decode_all(m, [text])
    assert packet == m.Packet(ptype, nsp or "/", expected_data, pid)


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("0/custom", (0, "/custom", None, None)),  # namespace runs to the end without a comma
        ("1/custom", (1, "/custom", None, None)),
        ("2/a/b,[1]", (2, "/a/b", [1], None)),  # an event name may be a number
        ('2[1.5,"x"]', (2, "/", [1.5, "x"], None)),
        ('2["x"] ', (2, "/", ["x"], None)),  # JSON whitespace after the document
        ('2["x",123456789012345678901234567890]', (2, "/", ["x", 1.2345678901234568e29], None)),
        ('2["\\u00e9\\ud83d\\ude00",{"a":"\\"\\/"}]', (2, "/", ["é😀", {"a": '"/'}], None)),
        ("39007199254740991[]", (3, "/", [], 9007199254740991)),
        ('4"plain string"', (4, "/", "plain string", None)),
        ("0{}", (0, "/", {}, None)),
    ],
)
def test_decode_edge_forms(json_twin: ModuleType, text: str, fields: tuple) -> None:
    m = json_twin
    assert decode_all(m, [text]) == m.Packet(*fields)


def test_decode_binary_packet_reassembled(json_twin: ModuleType) -> None:
    m = json_twin
    text = '52-/admin,4["hey",{"_placeholder":true,"num":1},{"k":[{"_placeholder":true,"num":0}]}]'
    decoder = m.Decoder()
    assert decoder.add(text) is None
    assert decoder.add(b"first") is None
    packet = decoder.add(bytearray(b"second"))
    assert packet == m.Packet(m.EVENT, "/admin", ["hey", b"second", {"k": [b"first"]}], 4)
    assert type(packet.data[1]) is bytes and packet.attachments == 2
    # The decoder is ready for the next packet.
    assert decoder.add('2["next"]') == m.Packet(m.EVENT, "/", ["next"])
    ack = decode_all(m, ['61-7[{"_placeholder":true,"num":0}]', memoryview(b"m")])
    assert ack == m.Packet(m.ACK, "/", [b"m"], 7)
    # A placeholder may stand alone as a top-level argument list item or inside an object.
    assert decode_all(m, ['51-["x",{"a":{"_placeholder":true,"num":0}}]', b"1"]).data == ["x", {"a": b"1"}]


def test_decode_placeholder_lookalikes_stay(json_twin: ModuleType) -> None:
    m = json_twin
    # Outside a binary packet placeholders are ordinary data, as in socket.io-parser.
    text = '2["x",{"_placeholder":true,"num":0}]'
    assert decode_all(m, [text]).data == ["x", {"_placeholder": True, "num": 0}]
    # "_placeholder" must be exactly true to count.
    out = decode_all(m, ['51-["x",{"_placeholder":1,"num":0},{"_placeholder":true,"num":0}]', b"b"])
    assert out.data == ["x", {"_placeholder": 1, "num": 0}, b"b"]


def test_decoder_max_attachments_setting(json_twin: ModuleType) -> None:
    m = json_twin
    placeholders = ",".join(f'{{"_placeholder":true,"num":{i}}}' for i in range(12))
    text = f'512-["x",{placeholders}]'
    with pytest.raises(ParseError, match="too many attachments"):
        m.Decoder().add(text)
    chunks = [text] + [bytes([i]) for i in range(12)]
    packet = decode_all(m, chunks, max_attachments=12)
    assert packet.data[1:] == [bytes([i]) for i in range(12)]


# --------------------------------------------------------------------------------------------
# Decoder: every rule of socket.io-parser, and hostile input
# --------------------------------------------------------------------------------------------

INVALID = [
    ("", "empty"),
    ("7", "unknown packet type"),
    ("a", "unknown packet type"),
    ("٣[]", "unknown packet type"),  # a non-ASCII digit is no type
    # CONNECT: payload an object or nothing
    ("0[]", "CONNECT"),
    ('0"str"', "CONNECT"),
    ("0null", "CONNECT"),
    ("0/admin,true", "CONNECT"),
    # DISCONNECT: no payload at all
    ("1{}", "DISCONNECT"),
    ("1/admin,null", "DISCONNECT"),
    # CONNECT_ERROR: a string or an object
    ("4", "CONNECT_ERROR"),
    ("4[]", "CONNECT_ERROR"),
    ("4123", None),  # "123" is read as an ack id, then there is no payload
    ("4null", "CONNECT_ERROR"),
    # EVENT: non-empty array, first item a string (not reserved) or a number
    ("2", "EVENT"),
    ("2{}", "EVENT"),
    ("2[]", "EVENT"),
    ('2"x"', "EVENT"),
    ("2[null]", "EVENT"),
    ("2[true]", "EVENT"),
    ("2[[1]]", "EVENT"),
    ('2[{"a":1}]', "EVENT"),
    *[
        (f'2["{name}"]', "reserved")
        for name in ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener")
    ],
    ('2/admin,["disconnect",1]', "reserved"),
    # ACK: an array
    ("3", "ACK"),
    ("31", "ACK"),
    ("31{}", "ACK"),
    ('31"x"', "ACK"),
    # binary packets: attachment count an integer >= 1 followed by '-'
    ('5["a"]', "attachments"),
    ('5-["a"]', "attachments"),
    ('50-["a"]', "attachments"),
    ('5x-["a"]', "attachments"),
    ('51.0-["a"]', "attachments"),
    ('5 1-["a"]', "attachments"),
    ('5١-["a"]', "attachments"),  # noqa: RUF001  (a non-ASCII digit on purpose)
    ('511-["a"]', "too many attachments"),
    ('599999999999999999999-["a"]', "too many attachments"),
    ("51-[]", "EVENT"),
    ('51-["connect",{"_placeholder":true,"num":0}]', "reserved"),
    ('61-{"_placeholder":true,"num":0}', "ACK"),
    # JSON
    ('2["a"]x', "JSON"),
    ('2["a"', "JSON"),
    ('2["a",]', "JSON"),
    ("2['a']", "JSON"),
    ("2[NaN]", "JSON"),
    ('2["a",Infinity]', "JSON"),
    ('2["a"]["b"]', "JSON"),
    ('2abc["x"]', "JSON"),
    ('2["\\x41"]', "JSON"),
    ('2["\\ud800', "JSON"),
    ('2["a\ud800"]', None),  # a raw lone surrogate in the text: not valid Unicode
    # socket.io-parser reads whitespace there as an ack id of 0: refuse rather than differ
    ('2 ["x"]', "whitespace"),
    ('2/a,\n["x"]', "whitespace"),
    ('21\t["x"]', "whitespace"),
    # ack ids: digits only, at most 2**53 - 1
    ('29007199254740992["x"]', "ack id"),
    ('212345678901234567890["x"]', "ack id"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_decode_rejects(json_twin: ModuleType, text: str, reason: str | None) -> None:
    m = json_twin
    decoder = m.Decoder()
    with pytest.raises(ParseError) as info:
        decoder.add(text)
    if reason is not None:
        assert reason.lower() in str(info.value).lower()
    # The decoder was reset: a valid packet goes through afterwards.
    assert decoder.add('2["ok"]') == m.Packet(m.EVENT, "/", ["ok"])


def test_decode_bytes_without_pending_binary_packet(json_twin: ModuleType) -> None:
    m = json_twin
    decoder = m.Decoder()
    with pytest.raises(ParseError, match="binary"):
        decoder.add(b'2["x"]')
    assert decoder.add('2["x"]').data == ["x"]
    with pytest.raises(ParseError, match="binary"):
        decoder.add(b"")


def test_decode_text_while_attachments_are_due(json_twin: ModuleType) -> None:
    m = json_twin
    decoder = m.Decoder()
    assert decoder.add('52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]') is None
    assert decoder.add(b"one") is None
    with pytest.raises(ParseError, match="attachment"):
        decoder.add('2["y"]')
    # Reset: the stray attachment of the abandoned packet is now an error, then all is normal.
    with pytest.raises(ParseError):
        decoder.add(b"two")
    assert decoder.add('2["y"]').data == ["y"]


@pytest.mark.parametrize("num", ["2", "-1", "0.5", '"0"', "true", "null", "1e0"])
def test_decode_placeholder_out_of_range(json_twin: ModuleType, num: str) -> None:
    m = json_twin
    decoder = m.Decoder()
    assert decoder.add(f'52-["x",{{"_placeholder":true,"num":{num}}}]') is None
    assert decoder.add(b"a") is None
    with pytest.raises(ParseError, match="placeholder"):
        decoder.add(b"b")
    assert decoder.add('2["after"]').data == ["after"]


def test_decode_missing_placeholder_num(json_twin: ModuleType) -> None:
    m = json_twin
    with pytest.raises(ParseError, match="placeholder"):
        decode_all(m, ['51-["x",{"_placeholder":true}]', b"a"])


def test_decode_wrong_chunk_types(json_twin: ModuleType) -> None:
    m = json_twin
    decoder = m.Decoder()
    for chunk in (None, 12, ["2"], {"type": 2}):
        with pytest.raises(ParseError, match="expected str or bytes"):
            decoder.add(chunk)
    assert decoder.add('2["x"]').data == ["x"]


@pytest.mark.parametrize("depth", [1030, 5000, 100_000])
def test_decode_deep_nesting_is_a_parse_error(json_twin: ModuleType, depth: int) -> None:
    m = json_twin
    decoder = m.Decoder()
    with pytest.raises(ParseError):
        decoder.add('2["x",' + "[" * depth + "]" * depth + "]")
    with pytest.raises(ParseError):
        decoder.add('2["x",' + '{"a":' * depth + "1" + "}" * depth + "]")
    # Lone-surrogate escapes take the stdlib path: deep nesting there is a ParseError too.
    with pytest.raises(ParseError):
        decoder.add('2["\\udc00",' + "[" * depth + "]" * depth + "]")
    with pytest.raises(ParseError):
        decoder.add("2" + "[" * depth)


@pytest.mark.parametrize("depth", [1030, 5000])
def test_deep_nesting_is_refused_whatever_the_recursion_limit(json_twin: ModuleType, depth: int) -> None:
    # The stdlib fallback (lone-surrogate escapes) must not take its depth limit from the
    # interpreter's recursion limit: a program may raise it (mypy sets 2**14), and a deep enough
    # document would then be accepted or overflow the C stack.
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        with pytest.raises(ParseError, match="depth"):
            json_twin.Decoder().add('2["\\udc00",' + "[" * depth + "]" * depth + "]")
        assert json_twin.Decoder().add('2["\\udc00",[[1]]]').data == ["\udc00", [[1]]]
    finally:
        sys.setrecursionlimit(old)


def test_decode_deep_binary_packet_within_the_json_limit(json_twin: ModuleType) -> None:
    m = json_twin
    depth = 1000
    text = '51-["x",' + "[" * depth + '{"_placeholder":true,"num":0}' + "]" * depth + "]"
    packet = decode_all(m, [text, b"deep"])
    node = packet.data[1]
    for _ in range(depth - 1):
        node = node[0]
    assert node == [b"deep"]


def test_decode_lone_surrogate_escapes_like_json_parse(json_twin: ModuleType) -> None:
    m = json_twin
    # JSON.stringify("\ud800") is the escaped form; JSON.parse accepts it, so do we.
    packet = decode_all(m, ['2["s","a\\ud800b","\\udfff"]'])
    assert packet.data == ["s", "a\ud800b", "\udfff"]
    assert m.encode_packet(m.EVENT, "/", packet.data) == ['2["s","a\\ud800b","\\udfff"]']


def test_decode_truncated_packets_never_half_accepted(json_twin: ModuleType) -> None:
    m = json_twin
    full = '52-/admin,12["event",{"a":[1,2,{"_placeholder":true,"num":0}]},{"_placeholder":true,"num":1}]'
    for cut in range(1, len(full)):
        decoder = m.Decoder()
        try:
            result = decoder.add(full[:cut])
        except ParseError:
            continue
        # Only a prefix that is itself a complete header (no payload) can pass, and it must
        # not produce a packet with invented data.
        assert result is None or result.data is None


def test_decode_garbage_is_always_parse_error_or_packet(json_twin: ModuleType) -> None:
    import random

    m = json_twin
    rng = random.Random(1234)
    alphabet = '0123456789-/,[]{}":tfnul\\ ab\x00é\ud7ff'
    decoder = m.Decoder()
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        try:
            result = decoder.add(text)
        except ParseError:
            continue
        if result is not None:
            assert isinstance(result, m.Packet) and 0 <= result.type <= 4
        else:
            decoder.reset()


@pytest.mark.parametrize(
    "text",
    [
        "2" + "1" * 1_000_000 + '["x"]',  # endless ack id
        "5" + "1" * 1_000_000 + '-["x"]',  # endless attachment count
        "5" + "1" * 1_000_000,  # ... without its '-'
        "2/" + "a" * 1_000_000,  # namespace without a comma, then no payload
        '2["' + "a" * 1_000_000,  # unterminated string
        "2[" + "1," * 500_000,  # unterminated array
    ],
    ids=["ack-id", "attachments", "attachments-no-dash", "nsp", "string", "array"],
)
def test_decode_megabyte_hostile_input_fails_fast(json_twin: ModuleType, text: str) -> None:
    m = json_twin
    decoder = m.Decoder()
    with pytest.raises(ParseError):
        decoder.add(text)
    assert decoder.add('2["ok"]').data == ["ok"]


def test_decode_invalid_utf8_bytes_only_as_attachment(json_twin: ModuleType) -> None:
    m = json_twin
    # Text is str: invalid UTF-8 bytes are never taken for a packet text...
    with pytest.raises(ParseError):
        m.Decoder().add(b'2["\xff\xfe"]')
    # ...but any bytes are a valid attachment, kept as they are.
    packet = decode_all(m, ['51-["b",{"_placeholder":true,"num":0}]', b"\xff\xfe\x00"])
    assert packet.data == ["b", b"\xff\xfe\x00"]


# --------------------------------------------------------------------------------------------
# Properties (hypothesis): encode -> decode is the identity; the twins agree byte for byte
# --------------------------------------------------------------------------------------------

# Every code point, lone surrogates included (JSON.stringify escapes them; we do too).
any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=12)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)),
    max_leaves=12,
)
with_binary = st.recursive(
    st.one_of(json_scalars, st.binary(max_size=16)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)),
    max_leaves=12,
)
namespaces = st.one_of(
    st.just("/"),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=","), max_size=8).map(
        lambda s: "/" + s
    ),
)
ack_ids = st.one_of(st.none(), st.integers(min_value=0, max_value=2**53 - 1))
event_names = st.one_of(
    any_text.filter(
        lambda s: s not in {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
    ),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
)


@st.composite
def packet_fields(draw: st.DrawFn) -> tuple[int, str, Any, int | None]:
    """Valid (type, nsp, data, id) of every packet type, binary anywhere in EVENT/ACK data."""
    ptype = draw(st.sampled_from([0, 1, 2, 3, 4]))
    nsp = draw(namespaces)
    pid = draw(ack_ids)
    if ptype == 0:
        data = draw(st.one_of(st.none(), st.dictionaries(any_text, json_values, max_size=4)))
    elif ptype == 1:
        data = None
    elif ptype == 2:
        data = [draw(event_names), *draw(st.lists(with_binary, max_size=4))]
    elif ptype == 3:
        data = draw(st.lists(with_binary, max_size=4))
    else:
        data = draw(st.one_of(any_text, st.dictionaries(any_text, json_values, max_size=4)))
    return ptype, nsp, data, pid


def other_twin(mod: ModuleType) -> ModuleType:
    """The twin that is not ``mod`` (skips when the compiled one is not built)."""
    if mod.__name__.endswith("_py"):
        try:
            return importlib.import_module("hypersio.protocol.socketio._json_c")
        except ImportError:
            pytest.skip("compiled parser not built")
    return importlib.import_module("hypersio.protocol.socketio._json_py")


# The twin fixture is a module, stateless: sharing it between examples is safe.
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(fields=packet_fields())
def test_property_encode_decode_identity(json_twin: ModuleType, fields: tuple) -> None:
    m = json_twin
    packet = m.Packet(*fields)
    wire = m.Encoder().encode(packet)
    assert type(wire[0]) is str
    wire[0].encode("utf-8")  # always sendable as a WebSocket text frame
    decoded = decode_all(m, wire, max_attachments=1000)
    assert decoded == packet
    assert decoded.type == fields[0] and decoded.id == fields[3]


@PROPERTY_SETTINGS
@given(fields=packet_fields())
def test_property_twins_encode_identically(json_twin: ModuleType, fields: tuple) -> None:
    other = other_twin(json_twin)
    assert json_twin.encode_packet(*fields) == other.encode_packet(*fields)


def _outcome(mod: ModuleType, chunks: list[Any]) -> Any:
    decoder = mod.Decoder()
    results = []
    for chunk in chunks:
        try:
            packet = decoder.add(chunk)
        except ParseError:
            results.append("ParseError")
            continue
        results.append(None if packet is None else (packet.type, packet.nsp, packet.data, packet.id))
    return results


@PROPERTY_SETTINGS
@given(
    fields=packet_fields(),
    cut=st.integers(min_value=0, max_value=60),
    junk=st.text(alphabet='0123456789-/,[]{}":\\ ae\ud800', max_size=6),
    extra=st.lists(st.one_of(st.binary(max_size=4), st.text(alphabet='25-[]"x,/1{}', max_size=8)), max_size=3),
)
def test_property_twins_decode_identically(
    json_twin: ModuleType, fields: tuple, cut: int, junk: str, extra: list[Any]
) -> None:
    other = other_twin(json_twin)
    wire = json_twin.encode_packet(*fields)
    text = wire[0]
    mutated = text[:cut] + junk + text[cut:]
    for chunks in (wire, [mutated, *wire[1:]], [*wire, *extra], [mutated, *extra]):
        assert _outcome(json_twin, chunks) == _outcome(other, chunks)


# --------------------------------------------------------------------------------------------
# Arguments of small scalars (the compiled encoder writes those without orjson)
# --------------------------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([-(2**63), 2**63 - 1, 2**63, 0, -1]),
    st.text(max_size=60),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300),
    st.sampled_from(['"', "\\", "\x7f", "\x1f", "é", "a/b"]),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.binary(max_size=2),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(_SCALARS, max_size=12), pid=st.one_of(st.none(), st.integers(0, 2**53 - 1)))
def test_scalar_arguments_encode_as_orjson_would(json_twin: ModuleType, data: list[Any], pid: int | None) -> None:
    # Whatever path a twin takes, the text is the type, the id and orjson's JSON of the arguments
    # (binary arguments become attachments, ints past 64 bits take the slow JSON path).
    import json

    import orjson

    for ptype in (json_twin.EVENT, json_twin.ACK):
        parts = json_twin.encode_packet(ptype, "/chat", data, pid)
        binaries = [x for x in data if isinstance(x, bytes)]
        head = f"{ptype + 3 if binaries else ptype}{f'{len(binaries)}-' if binaries else ''}/chat,"
        head += "" if pid is None else str(pid)
        text = parts[0]
        assert text.startswith(head), (text, head)
        assert parts[1:] == binaries
        if not binaries:
            try:
                expected = orjson.dumps(data).decode()
            except TypeError:  # an int past 64 bits: orjson refuses, the codec uses json
                expected = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
            assert text[len(head) :] == expected
        in_64_bits = all(-(2**63) <= x < 2**64 for x in data if type(x) is int)
        # An EVENT needs a name first ([] or [False] do not decode); orjson reads ints past 64
        # bits as floats, so those round trips are not exact.
        if ptype == json_twin.ACK and in_64_bits:
            decoded = decode_all(json_twin, parts)
            assert decoded.data == data and decoded.id == pid
