"""The twins of every family in ``hypersio._speedups.FAMILIES`` cannot drift apart.

For every family: the same ``__all__``, the same public names and the same call signatures.
For the wire-format families (websocket, engineio, json, msgpack): hypothesis feeds both twins
the same inputs, valid and garbage, and compares what comes out, or the exception's type and
message. The pure twin is the spec; a difference is a bug in one of them.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from _support import load_twin
from hypersio import _speedups

FAMILIES = sorted(_speedups.FAMILIES)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def twins(family: str) -> tuple[ModuleType, ModuleType]:
    return load_twin(family, "c"), load_twin(family, "py")


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What a call gives: ("ok", result) or ("raises", (exception type name, message))."""
    try:
        return "ok", call()
    except Exception as exc:  # the type and the text are what is compared
        return "raises", (type(exc).__name__, str(exc))


def same(c_call: Callable[[], Any], py_call: Callable[[], Any]) -> None:
    assert outcome(c_call) == outcome(py_call)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_all(family: str) -> None:
    c, py = twins(family)
    assert list(c.__all__) == list(py.__all__)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_public_names(family: str) -> None:
    c, py = twins(family)
    for name in py.__all__:
        assert hasattr(c, name), name
        left, right = getattr(c, name), getattr(py, name)
        assert callable(left) == callable(right), name
        if not callable(right):
            assert left == right, name


def _signature(obj: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _shape(signature: inspect.Signature) -> list[tuple[str, Any, Any]]:
    # Names, kinds and defaults: annotations are written for type checkers in the pure twin only.
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_signatures(family: str) -> None:
    c, py = twins(family)
    checked = 0
    for name in py.__all__:
        left, right = getattr(c, name), getattr(py, name)
        if not callable(right):
            continue
        members = [(name, left, right)]
        if inspect.isclass(right):
            members += [
                (f"{name}.{attr}", getattr(left, attr), getattr(right, attr))
                for attr in vars(right)
                if not attr.startswith("_") and callable(getattr(right, attr)) and hasattr(left, attr)
            ]
            missing = [
                a
                for a, v in vars(right).items()
                if not a.startswith("_") and inspect.isfunction(v) and not hasattr(left, a)
            ]
            assert missing == [], f"{name}: compiled twin lacks {missing}"
        for label, lhs, rhs in members:
            ls, rs = _signature(lhs), _signature(rhs)
            if ls is None or rs is None:
                continue  # a builtin slot without a signature on one side
            assert _shape(ls) == _shape(rs), label
            checked += 1
    assert checked or family in ("outlet", "dispatch", "rooms") or not py.__all__


WIRE_FAMILIES = ["websocket", "engineio", "json", "msgpack"]
# A raise whose message is written on the spot (a str or f-string literal) instead of taken from
# the family's plain module (``constants.py``, ``errors.py``).
_INLINE_MESSAGE = re.compile(r"""raise\s+\w+\(\s*f?["']""")


@pytest.mark.parametrize("family", WIRE_FAMILIES)
def test_error_texts_come_from_the_plain_modules(family: str) -> None:
    """Neither twin of a wire-format family words an error itself (DESIGN: "its constants,
    ``__all__`` and error texts come from the family's plain module"), so the messages the
    differential runs below compare cannot drift in a branch they happen not to reach."""
    pure = Path(importlib.import_module(f"{_speedups.FAMILIES[family][0]}_py").__file__ or "")
    sources = [pure, pure.with_name(pure.name.replace("_py.py", "_c.pyx"))]
    found = [p for p in sources if p.is_file()]
    assert pure in found
    for path in found:
        inline = [line.strip() for line in path.read_text().splitlines() if _INLINE_MESSAGE.search(line)]
        assert inline == [], f"{path.name} writes error texts inline"


# --------------------------------------------------------------------------------------------
# engineio
# --------------------------------------------------------------------------------------------

eio_text = st.one_of(
    st.text(max_size=40),
    st.builds(lambda t, s: t + s, st.sampled_from(list("0123456789bx")), st.text(max_size=30)),
    st.builds(lambda s: "b" + s, st.text(alphabet="ABCDabcd0189+/=\n é", max_size=20)),
)


@SETTINGS
@given(data=st.one_of(eio_text, st.binary(max_size=40)))
def test_engineio_decode_packet(data: str | bytes) -> None:
    c, py = twins("engineio")
    same(lambda: c.decode_packet(data), lambda: py.decode_packet(data))


@SETTINGS
@given(
    # Floats included: 4.0 passes a range test and equals MESSAGE, but is no packet type.
    type=st.one_of(
        st.integers(-3, 10), st.integers(), st.booleans(), st.floats(), st.sampled_from([0.0, 4.0, 6.0, 4.5])
    ),
    data=st.one_of(st.none(), st.text(max_size=20), st.binary(max_size=20)),
    b64=st.booleans(),
)
def test_engineio_encode_packet(type: float, data: str | bytes | None, b64: bool) -> None:
    c, py = twins("engineio")
    same(lambda: c.encode_packet(type, data, b64), lambda: py.encode_packet(type, data, b64))


@SETTINGS
@given(
    records=st.lists(eio_text, max_size=6),
    raw=st.binary(max_size=30),
    max_packets=st.integers(0, 8),
)
def test_engineio_payloads(records: list[str], raw: bytes, max_packets: int) -> None:
    c, py = twins("engineio")
    same(lambda: c.encode_payload(records), lambda: py.encode_payload(records))
    body = "\x1e".join(records)
    same(lambda: c.decode_payload(body, max_packets), lambda: py.decode_payload(body, max_packets))
    same(
        lambda: c.decode_payload(body.encode("utf-8", "surrogatepass")),
        lambda: py.decode_payload(body.encode("utf-8", "surrogatepass")),
    )
    same(lambda: c.decode_payload(raw), lambda: py.decode_payload(raw))


# --------------------------------------------------------------------------------------------
# websocket
# --------------------------------------------------------------------------------------------

opcodes = st.one_of(st.sampled_from([0, 1, 2, 8, 9, 10]), st.integers(-2, 16))
keys = st.binary(min_size=4, max_size=4)


@SETTINGS
@given(
    opcode=opcodes,
    payload=st.one_of(st.binary(max_size=300), st.text(max_size=80)),
    fin=st.booleans(),
    key=st.one_of(keys, st.binary(max_size=6)),
)
def test_websocket_build_frame(opcode: int, payload: bytes | str, fin: bool, key: bytes) -> None:
    c, py = twins("websocket")
    same(
        lambda: c.build_frame(opcode, payload, fin=fin, mask_key=key),
        lambda: py.build_frame(opcode, payload, fin=fin, mask_key=key),
    )
    same(lambda: c.build_frame(opcode, payload, fin=fin), lambda: py.build_frame(opcode, payload, fin=fin))
    same(lambda: c.message_frame(payload), lambda: py.message_frame(payload))
    same(lambda: c.mask_payload(payload, key), lambda: py.mask_payload(payload, key))


# Close codes past every C integer width included: the compiled twin once raised OverflowError there.
close_codes = st.one_of(
    st.integers(-5, 70000),
    st.integers(),
    st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 2**64 + 1000]),
    st.booleans(),
    st.floats(),
    st.sampled_from([1000.0, 1005.0, 3000.5]),
)


@SETTINGS
@given(payload=st.binary(max_size=130), code=close_codes, reason=st.text(max_size=70))
def test_websocket_close_payloads(payload: bytes, code: int, reason: str) -> None:
    c, py = twins("websocket")
    same(lambda: c.parse_close_payload(payload), lambda: py.parse_close_payload(payload))
    same(lambda: c.build_close_payload(code, reason), lambda: py.build_close_payload(code, reason))
    same(lambda: c.is_valid_close_code(code), lambda: py.is_valid_close_code(code))


@SETTINGS
@given(
    key=st.one_of(st.text(max_size=30), st.builds(lambda s: s + "==", st.text("AZaz09+/", min_size=22, max_size=22)))
)
def test_websocket_accept_key(key: str) -> None:
    c, py = twins("websocket")
    same(lambda: c.accept_key(key), lambda: py.accept_key(key))


def _frame(py: ModuleType, opcode: int, payload: bytes, fin: bool, masked: bool, key: bytes) -> bytes:
    """A frame built without the builders' checks (so garbage frames are possible too)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    mbit = 0x80 if masked else 0
    if n < 126:
        head = bytes((b0, mbit | n))
    elif n < 65536:
        head = bytes((b0, mbit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, mbit | 127)) + n.to_bytes(8, "big")
    if masked:
        return head + key + py.mask_payload(payload, key)
    return head + payload


frames = st.builds(
    lambda *args: args,
    st.integers(0, 15),
    st.one_of(st.binary(max_size=200), st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass"))),
    st.booleans(),
    st.booleans(),
    keys,
)


@SETTINGS
@given(
    parts=st.lists(frames, max_size=6),
    junk=st.binary(max_size=12),
    cuts=st.lists(st.integers(0, 2000), max_size=4),
    expect_masked=st.booleans(),
    max_size=st.integers(0, 300),
)
def test_websocket_frame_parser(
    parts: list[tuple[int, bytes, bool, bool, bytes]],
    junk: bytes,
    cuts: list[int],
    expect_masked: bool,
    max_size: int,
) -> None:
    c, py = twins("websocket")
    stream = b"".join(_frame(py, *part) for part in parts) + junk
    bounds = sorted({0, len(stream), *(min(cut, len(stream)) for cut in cuts)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    left = c.FrameParser(max_size, expect_masked)
    right = py.FrameParser(max_size, expect_masked)
    for chunk in [*chunks, b""]:
        same(lambda chunk=chunk: left.feed(chunk), lambda chunk=chunk: right.feed(chunk))


def _deflated_part(py: ModuleType, opcode: int, data: bytes, fin: bool, rsv: int, squeeze: bool, key: bytes) -> bytes:
    """A masked frame with any RSV bits, its payload deflated (as RFC 7692 says) or raw garbage."""
    if squeeze:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    frame = bytearray(_frame(py, opcode, data, fin, True, key))
    frame[0] |= rsv
    return bytes(frame)


deflate_parts = st.builds(
    lambda *args: args,
    st.sampled_from([0, 1, 2, 8, 9]),
    st.one_of(
        st.binary(max_size=300), st.text(max_size=100).map(lambda t: ("4" + t * 3).encode("utf-8", "surrogatepass"))
    ),
    st.booleans(),
    st.sampled_from([0, 0x40, 0x40, 0x20]),
    st.booleans(),
    keys,
)


@SETTINGS
@given(
    parts=st.lists(deflate_parts, max_size=5),
    cuts=st.lists(st.integers(0, 2000), max_size=3),
    negotiated=st.booleans(),
    no_takeover=st.booleans(),
    max_size=st.integers(0, 1200),
)
def test_websocket_frame_parser_with_permessage_deflate(
    parts: list[tuple[int, bytes, bool, int, bool, bytes]],
    cuts: list[int],
    negotiated: bool,
    no_takeover: bool,
    max_size: int,
) -> None:
    c, py = twins("websocket")
    stream = b"".join(_deflated_part(py, *part) for part in parts)
    bounds = sorted({0, len(stream), *(min(cut, len(stream)) for cut in cuts)})
    left = c.FrameParser(max_size, True, negotiated, no_takeover)
    right = py.FrameParser(max_size, True, negotiated, no_takeover)
    for a, b in itertools.pairwise(bounds):
        same(lambda a=a, b=b: left.feed(stream[a:b]), lambda a=a, b=b: right.feed(stream[a:b]))


@SETTINGS
@given(opcode=st.integers(0, 15), payload=st.binary(max_size=200), fin=st.booleans(), rsv1=st.booleans())
def test_websocket_build_frame_rsv1(opcode: int, payload: bytes, fin: bool, rsv1: bool) -> None:
    c, py = twins("websocket")
    same(
        lambda: c.build_frame(opcode, payload, fin=fin, rsv1=rsv1),
        lambda: py.build_frame(opcode, payload, fin=fin, rsv1=rsv1),
    )


# --------------------------------------------------------------------------------------------
# json and msgpack (socket.io packets)
# --------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)
with_binary = st.recursive(
    st.one_of(json_values, st.binary(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)
namespaces = st.one_of(st.just("/"), st.text(max_size=8).map(lambda s: "/" + s), st.text(max_size=6))
ack_ids = st.one_of(st.none(), st.integers(0, 2**53 - 1), st.integers(-(2**70), 2**70))


def _json_chunks() -> st.SearchStrategy[list[str | bytes]]:
    text = st.one_of(
        st.text(max_size=40),
        st.builds(
            lambda head, nsp, pid, body: f"{head}{nsp}{pid}{body}",
            st.sampled_from(["0", "1", "2", "3", "4", "51-", "52-", "61-", "5", "60-", "7", "511-"]),
            st.sampled_from(["", "/chat,", "/x"]),
            st.sampled_from(["", "1", "12", "99999999999999999"]),
            st.one_of(st.just(""), json_values.map(json.dumps)),
        ),
        st.builds(
            lambda n, bad: f'51-["e",[{{"_placeholder":true,"num":{n}}}],{{"_placeholder":true,"num":{bad}}}]',
            st.sampled_from(["0", "1", "-1", '"0"', "true"]),
            st.sampled_from(["0", "2", "5"]),
        ),
    )
    return st.lists(st.one_of(text, st.binary(max_size=6)), max_size=5)


@SETTINGS
@given(chunks=_json_chunks())
def test_json_decoder(chunks: list[str | bytes]) -> None:
    c, py = twins("json")
    left, right = c.Decoder(), py.Decoder()
    for chunk in chunks:
        lhs, rhs = outcome(lambda chunk=chunk: left.add(chunk)), outcome(lambda chunk=chunk: right.add(chunk))
        assert lhs[0] == rhs[0]
        if lhs[0] == "raises" or lhs[1] is None or rhs[1] is None:
            assert lhs == rhs
        else:
            a, b = lhs[1], rhs[1]
            assert (a.type, a.nsp, a.data, a.id, a.attachments) == (b.type, b.nsp, b.data, b.id, b.attachments)


@SETTINGS
@given(type=st.integers(-2, 8), nsp=namespaces, data=st.one_of(st.none(), with_binary), id=ack_ids)
def test_json_encode_packet(type: int, nsp: str, data: Any, id: int | None) -> None:
    c, py = twins("json")
    same(lambda: c.encode_packet(type, nsp, data, id), lambda: py.encode_packet(type, nsp, data, id))


@SETTINGS
@given(type=st.integers(-2, 8), nsp=namespaces, data=st.one_of(st.none(), with_binary), id=ack_ids)
def test_msgpack_encode_packet(type: int, nsp: str, data: Any, id: int | None) -> None:
    c, py = twins("msgpack")
    same(lambda: c.encode_packet(type, nsp, data, id), lambda: py.encode_packet(type, nsp, data, id))


@SETTINGS
@given(
    fields=st.dictionaries(
        st.sampled_from(["type", "nsp", "data", "id", "x"]),
        st.one_of(with_binary, st.integers(-2, 8), namespaces),
        max_size=5,
    ),
    raw=st.binary(max_size=40),
)
def test_msgpack_decoder(fields: dict[str, Any], raw: bytes) -> None:
    import msgpack

    c, py = twins("msgpack")
    try:
        packed = msgpack.packb(fields, use_bin_type=True)
    except OverflowError:
        assume(False)  # an int msgpack has no form for: not a message anyone can send
    for chunk in (packed, raw, packed[: len(packed) // 2]):
        lhs = outcome(lambda chunk=chunk: c.Decoder().add(chunk))
        rhs = outcome(lambda chunk=chunk: py.Decoder().add(chunk))
        assert lhs == rhs
