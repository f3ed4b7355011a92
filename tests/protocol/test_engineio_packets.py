"""Engine.IO v4 packet and long-polling payload codec; both twins."""

from __future__ import annotations

import base64
import importlib
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypersio import _speedups
from hypersio.exceptions import ParseError

TYPES = [("OPEN", 0), ("CLOSE", 1), ("PING", 2), ("PONG", 3), ("MESSAGE", 4), ("UPGRADE", 5), ("NOOP", 6)]


def both_twins() -> tuple[ModuleType, ModuleType]:
    if _speedups.NO_EXTENSIONS:
        pytest.skip("compiled twins are off in this run")
    try:
        compiled = importlib.import_module("hypersio.protocol.engineio._packets_c")
    except ImportError as exc:
        if _speedups.REQUIRE_EXTENSIONS:
            raise
        pytest.skip(f"compiled _eio_parser_c not built: {exc}")
    return compiled, importlib.import_module("hypersio.protocol.engineio._packets_py")


@pytest.mark.parametrize(("name", "value"), TYPES)
def test_constants(engineio_twin: ModuleType, name: str, value: int) -> None:
    assert getattr(engineio_twin, name) == value


@pytest.mark.parametrize(("name", "value"), TYPES)
@pytest.mark.parametrize("data", [None, "probe", "héllo ☃ 𝄞", '{"sid":"abc","upgrades":[]}', "x\n\ty"])
def test_text_packet_roundtrip(engineio_twin: ModuleType, name: str, value: int, data: str | None) -> None:
    encoded = engineio_twin.encode_packet(value, data)
    assert encoded == str(value) + (data or "")
    assert engineio_twin.decode_packet(encoded) == (value, data)


def test_known_wire_forms(engineio_twin: ModuleType) -> None:
    e = engineio_twin
    assert e.encode_packet(e.PING, "probe") == "2probe"
    assert e.encode_packet(e.PONG) == "3"
    assert e.encode_packet(e.MESSAGE, "") == "4"
    assert e.decode_packet("4") == (e.MESSAGE, None)  # engine.io-parser: no data after the digit
    assert e.decode_packet("6") == (e.NOOP, None)
    assert e.decode_packet('0{"sid":"x"}') == (e.OPEN, '{"sid":"x"}')
    assert e.decode_packet("44") == (e.MESSAGE, "4")


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x01\x02\x03", bytes(range(256)), b"\xff" * 1000])
def test_binary_packet_roundtrip(engineio_twin: ModuleType, data: bytes) -> None:
    raw = engineio_twin.encode_packet(engineio_twin.MESSAGE, data)
    assert raw == data and type(raw) is bytes
    assert engineio_twin.decode_packet(raw) == (engineio_twin.MESSAGE, data)
    text = engineio_twin.encode_packet(engineio_twin.MESSAGE, data, b64=True)
    assert text == "b" + base64.b64encode(data).decode()
    assert engineio_twin.decode_packet(text) == (engineio_twin.MESSAGE, data)


def test_binary_from_bytearray_and_memoryview(engineio_twin: ModuleType) -> None:
    buf = bytearray(b"\x01\x02")
    assert engineio_twin.encode_packet(4, buf) == b"\x01\x02"
    assert engineio_twin.encode_packet(4, memoryview(buf), b64=True) == "bAQI="
    assert engineio_twin.decode_packet(buf) == (4, b"\x01\x02")
    assert type(engineio_twin.decode_packet(memoryview(buf))[1]) is bytes


def test_encode_refuses_programming_errors(engineio_twin: ModuleType) -> None:
    for bad_type in (-1, 7, 10):
        with pytest.raises(ValueError):
            engineio_twin.encode_packet(bad_type, "x")
    with pytest.raises(ValueError):
        engineio_twin.encode_packet(engineio_twin.PING, b"binary ping")
    with pytest.raises(TypeError):
        engineio_twin.encode_packet(engineio_twin.MESSAGE, 42)
    with pytest.raises(ValueError):
        engineio_twin.encode_payload([])


def test_payload_batching_with_binary(engineio_twin: ModuleType) -> None:
    e = engineio_twin
    packets = [
        e.encode_packet(e.MESSAGE, '40{"sid":"abc"}'),
        e.encode_packet(e.MESSAGE, b"\x00\x01\x02", b64=True),
        e.encode_packet(e.PING),
        e.encode_packet(e.MESSAGE, "é☃"),
        e.encode_packet(e.MESSAGE, b"", b64=True),
        e.encode_packet(e.NOOP),
    ]
    body = e.encode_payload(packets)
    assert body == '440{"sid":"abc"}\x1ebAAEC\x1e2\x1e4é☃\x1eb\x1e6'
    expected = [(4, '40{"sid":"abc"}'), (4, b"\x00\x01\x02"), (2, None), (4, "é☃"), (4, b""), (6, None)]
    assert e.decode_payload(body) == expected
    assert e.decode_payload(body.encode()) == expected
    assert e.decode_payload(bytearray(body.encode())) == expected
    assert e.decode_payload(memoryview(body.encode())) == expected


def test_single_packet_payload(engineio_twin: ModuleType) -> None:
    assert engineio_twin.encode_payload(["6"]) == "6"
    assert engineio_twin.decode_payload("1") == [(1, None)]


@pytest.mark.parametrize(
    "packet",
    [
        "",
        "7",
        "9abc",
        "x",
        "-1",
        " 4",
        "\x1e",
        "B",
        "bA",
        "b!!!!",
        "bAAE",
        "bAA==A",
        "bAQI=\n",
        "bé",
        "b====",
        "\u0664x",
    ],
)
def test_malformed_packets(engineio_twin: ModuleType, packet: str) -> None:
    with pytest.raises(ParseError):
        engineio_twin.decode_packet(packet)
    with pytest.raises(ParseError):
        engineio_twin.decode_payload("2\x1e" + packet if packet != "\x1e" else packet)


@pytest.mark.parametrize("body", ["", "\x1e", "4a\x1e", "\x1e4a", "4a\x1e\x1e4b", b"", b"4a\x1e"])
def test_payload_with_an_empty_record(engineio_twin: ModuleType, body: str | bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        engineio_twin.decode_payload(body)


@pytest.mark.parametrize("body", [b"4\xff", b"4\xc3", b"4\xed\xa0\x80", b"\x80"])
def test_payload_not_utf8(engineio_twin: ModuleType, body: bytes) -> None:
    with pytest.raises(ParseError, match="UTF-8"):
        engineio_twin.decode_payload(body)


def test_too_many_packets(engineio_twin: ModuleType) -> None:
    assert len(engineio_twin.decode_payload("\x1e".join(["3"] * 50), max_packets=50)) == 50
    with pytest.raises(ParseError, match="more than 50"):
        engineio_twin.decode_payload("\x1e".join(["3"] * 51), max_packets=50)
    assert len(engineio_twin.decode_payload("\x1e".join(["3"] * engineio_twin.DEFAULT_MAX_PACKETS))) == (
        engineio_twin.DEFAULT_MAX_PACKETS
    )
    with pytest.raises(ParseError):
        engineio_twin.decode_payload("\x1e".join(["3"] * (engineio_twin.DEFAULT_MAX_PACKETS + 1)))


def test_decode_rejects_non_strings(engineio_twin: ModuleType) -> None:
    with pytest.raises(TypeError):
        engineio_twin.decode_packet(42)


def test_public_names_match_between_twins() -> None:
    compiled, pure = both_twins()
    assert sorted(compiled.__all__) == sorted(pure.__all__)
    for name in pure.__all__:
        if callable(getattr(pure, name)):
            assert callable(getattr(compiled, name)), name
        else:
            assert getattr(compiled, name) == getattr(pure, name), name


_packet = st.one_of(
    st.tuples(st.integers(0, 6), st.one_of(st.none(), st.text(min_size=1).filter(lambda s: "\x1e" not in s))),
    st.tuples(st.just(4), st.binary()),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(packets=st.lists(_packet, min_size=1, max_size=10))
def test_payload_roundtrip_property(engineio_twin: ModuleType, packets: list[tuple[int, str | bytes | None]]) -> None:
    body = engineio_twin.encode_payload([engineio_twin.encode_packet(t, d, b64=True) for t, d in packets])
    assert engineio_twin.decode_payload(body) == packets
    assert engineio_twin.decode_payload(body.encode("utf-8")) == packets


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(
        st.text(alphabet=st.sampled_from("0123456789bAQI=+/\x1e é"), max_size=40),
        st.text(max_size=40),
        st.binary(max_size=40),
    )
)
def test_twins_decode_identically(body: str | bytes) -> None:
    compiled, pure = both_twins()
    results = []
    for twin in (compiled, pure):
        try:
            results.append(twin.decode_payload(body, max_packets=8))
        except ParseError:
            results.append("ParseError")
    assert results[0] == results[1]


@settings(max_examples=200, deadline=None)
@given(packet=_packet, b64=st.booleans())
def test_twins_encode_identically(packet: tuple[int, str | bytes | None], b64: bool) -> None:
    compiled, pure = both_twins()
    assert compiled.encode_packet(*packet, b64=b64) == pure.encode_packet(*packet, b64=b64)
