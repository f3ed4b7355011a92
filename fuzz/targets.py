"""The fuzz targets of issue 13: one per decoder that reads what a peer (or another server) sends.

Each target is a function ``check(data: bytes) -> object`` built by :func:`make` for a twin
(``"c"``, ``"py"``, or ``"both"``): it turns the fuzzer's bytes into the decoder's input, calls the
decoder and returns a normalized outcome: the decoded value, or ``("error", ExceptionType, ...)``
for the decoder's documented error. Any other exception escapes: that is a finding.

With ``"both"`` the compiled and the pure twin decode the same input and their outcomes must be
equal (a differential check; an AssertionError is a finding too). The cluster decoders and
``sid_from_head`` have no compiled twin: ``twin`` is ignored for them.

No atheris here: :mod:`run` drives these under atheris, the smoke test (tests/fuzz) under a plain
mutation loop (:mod:`mutate`).
"""

from __future__ import annotations

import datetime
import importlib
import operator
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

Check = Callable[[bytes], object]

#: Target name -> the twin family it fuzzes, or None for the decoders that exist once (pure Python).
TARGETS: dict[str, str | None] = {
    "ws_frames": "websocket",
    "ws_close": "websocket",
    "eio_packet": "engineio",
    "eio_payload": "engineio",
    "sio_json": "json",
    "sio_msgpack": "msgpack",
    "cluster_notepack": None,
    "cluster_wire": None,
    "cluster_classic": None,
    "cluster_messages": None,
    "cluster_streams_entry": None,
    "cluster_streams_session": None,
    "workers_sid": None,
}


def load_twin(family: str, kind: str) -> ModuleType:
    """The ``kind`` ("c" or "py") twin module of ``family`` (ImportError when not built)."""
    from hypersio import _speedups

    return importlib.import_module(f"{_speedups.FAMILIES[family][0]}_{kind}")


def as_text(data: bytes) -> str:
    """Fuzzer bytes as a str that can hold anything a peer's text can (and lone surrogates)."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def split(data: bytes, sep: bytes = b"\x00") -> list[bytes]:
    return data.split(sep)


def norm(value: Any) -> Any:
    """A value as a comparable tree that keeps the types (``True`` is not ``1``, ``1.0`` not ``1``)."""
    # Most values are shallow: the recursion limit is raised only for the deep ones (up to 1000+
    # levels of nesting), not around every call (that was a tenth of a fuzz input's time).
    try:
        return _norm(value)
    except RecursionError:
        return deep(_norm, value)


def deep(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with room for trees as deep as the input's nesting."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return fn(*args)
    finally:
        sys.setrecursionlimit(limit)


def _norm(value: Any) -> Any:
    cls = value.__class__
    if cls is list or cls is tuple:
        return (cls.__name__, tuple(_norm(item) for item in value))
    if cls is dict:
        return ("dict", tuple((_norm(k), _norm(v)) for k, v in value.items()))
    if cls is float:
        return ("float", repr(value))
    if isinstance(value, datetime.datetime):
        return ("datetime", value.isoformat())
    if cls in (int, str, bytes, bool, type(None)):
        return (cls.__name__, value)
    if cls.__name__ == "Packet":  # either twin's (the compiled one is a cdef class)
        return ("Packet", tuple((name, _norm(getattr(value, name))) for name in _PACKET_FIELDS))
    if hasattr(value, "__slots__"):  # BroadcastOptions
        return (cls.__name__, tuple((name, _norm(getattr(value, name, None))) for name in _slot_names(cls)))
    return (cls.__name__, repr(value))


_PACKET_FIELDS = ("type", "nsp", "data", "id", "attachments")


def _slot_names(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    return names


def _error(exc: BaseException) -> tuple[Any, ...]:
    return ("error", type(exc).__name__, getattr(exc, "code", None))


# --- the protocol codecs (two twins each) ---------------------------------------------------------


def _ws_frames(mod: ModuleType) -> Check:
    """FrameParser.feed over the input cut in chunks; flags byte: side, size limit, chunking."""
    from hypersio.exceptions import WebSocketError

    def check(data: bytes) -> object:
        if not data:
            return None
        flags = data[0]
        expect_masked = bool(flags & 1)
        max_size = (125, 1000, 70_000, 1_000_000)[(flags >> 1) & 3]
        step = (1, 2, 3, 7, 64, 1 << 30, 5, 11)[(flags >> 3) & 7]
        body = data[1:]
        # At most ~16 feeds: every split of a short input is still reachable (steps of 1, 2, 3),
        # and a long one is cut in 16, where 64 feeds of the instrumented pure twin made this the
        # slowest target (~3,000 inputs/s).
        step = max(step, len(body) // 16)
        parser = mod.FrameParser(max_size, expect_masked)
        out: list[Any] = []
        for start in range(0, max(len(body), 1), step):
            try:
                out.extend(parser.feed(body[start : start + step]))
            except WebSocketError as exc:
                out = [norm(out), _error(exc)]
                # A failed parser stays failed, with the same code.
                try:
                    parser.feed(b"\x81\x80\x00\x00\x00\x00")
                except WebSocketError as again:
                    if again.code != exc.code:
                        raise AssertionError(f"a failed FrameParser changed code {exc.code} to {again.code}") from None
                else:
                    raise AssertionError("a failed FrameParser accepted more input")
                return out
        return norm(out)

    return check


def _ws_close(mod: ModuleType) -> Check:
    from hypersio.exceptions import WebSocketError

    def check(data: bytes) -> object:
        try:
            return mod.parse_close_payload(data)
        except WebSocketError as exc:
            return _error(exc)

    return check


def _eio_packet(mod: ModuleType) -> Check:
    from hypersio.exceptions import ParseError

    def check(data: bytes) -> object:
        try:
            return mod.decode_packet(as_text(data))
        except ParseError as exc:
            return _error(exc)

    return check


def _eio_payload(mod: ModuleType) -> Check:
    """decode_payload of bytes (first byte even) or of their text (odd), a small max_packets."""
    from hypersio.exceptions import ParseError

    def check(data: bytes) -> object:
        if not data:
            return None
        flags = data[0]
        body: str | bytes = data[1:] if flags & 1 == 0 else as_text(data[1:])
        max_packets = (1, 2, 16, 100)[(flags >> 1) & 3]
        try:
            return mod.decode_payload(body, max_packets)
        except ParseError as exc:
            return _error(exc)

    return check


def _sio_json(mod: ModuleType) -> Check:
    """One Decoder fed the NUL-separated chunks; a chunk starting with 0x01 is a binary attachment."""
    from hypersio.exceptions import ParseError

    def check(data: bytes) -> object:
        if not data:
            return None
        decoder = mod.Decoder(max_attachments=(1, 3, 10, 100)[data[0] & 3])
        out: list[Any] = []
        for chunk in split(data[1:]):
            try:
                if chunk[:1] == b"\x01":
                    out.append(norm(decoder.add(chunk[1:])))
                else:
                    out.append(norm(decoder.add(as_text(chunk))))
            except ParseError as exc:
                out.append(_error(exc))
        return out

    return check


def _sio_msgpack(mod: ModuleType) -> Check:
    """One Decoder fed the whole input, then (a second message) the input again from its middle."""
    from hypersio.exceptions import ParseError

    def check(data: bytes) -> object:
        decoder = mod.Decoder()
        out: list[Any] = []
        for message in (data, data[len(data) // 2 :]):
            try:
                out.append(norm(decoder.add(message)))
            except ParseError as exc:
                out.append(_error(exc))
        return out

    return check


PROTOCOL_TARGETS: dict[str, Callable[[ModuleType], Check]] = {
    "ws_frames": _ws_frames,
    "ws_close": _ws_close,
    "eio_packet": _eio_packet,
    "eio_payload": _eio_payload,
    "sio_json": _sio_json,
    "sio_msgpack": _sio_msgpack,
}


# --- the cluster decoders and the workers' primary (pure Python only) -----------------------------


def _cluster_notepack() -> Check:
    from hypersio.adapters.cluster import notepack

    def check(data: bytes) -> object:
        try:
            value = notepack.unpack(data)
        except ValueError as exc:  # documented: malformed input (msgpack's errors derive from it)
            return _error(exc)
        # What unpack gives must be what the message layers can read and write again.
        notepack.has_binary(value)
        return norm(value)

    return check


def _cluster_wire() -> Check:
    from hypersio.adapters.cluster import wire

    def check(data: bytes) -> object:
        try:
            value = wire.decode_any(data)
        except wire.BadMessage as exc:
            return _error(exc)
        for part in (value, value.get("opts") if isinstance(value, dict) else None):
            try:
                wire.opts_from_wire(part)
            except wire.BadMessage:
                pass
        try:
            wire.event_data(value)
        except wire.BadMessage:
            pass
        return norm(value)

    return check


def _cluster_classic() -> Check:
    from hypersio.adapters.cluster import classic
    from hypersio.adapters.cluster.wire import BadMessage

    def check(data: bytes) -> object:
        try:
            return norm(classic.parse_broadcast(data))
        except BadMessage as exc:
            return _error(exc)

    return check


def _cluster_messages() -> Check:
    from hypersio.adapters.cluster import messages
    from hypersio.adapters.cluster.wire import BadMessage

    def check(data: bytes) -> object:
        try:
            return norm(messages.decode(data))
        except BadMessage as exc:
            return _error(exc)

    return check


def _entry_fields(data: bytes) -> dict[Any, Any]:
    """NUL-separated ``key, value, key, value...`` as the Redis reader hands an entry over."""
    parts = data.split(b"\x00")
    return {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def _cluster_streams_entry() -> Check:
    from hypersio.adapters.cluster import messages, redis_streams
    from hypersio.adapters.cluster.wire import BadMessage

    def check(data: bytes) -> object:
        try:
            msg = redis_streams.decode_entry(_entry_fields(data))
        except BadMessage as exc:
            return _error(exc)
        try:
            messages.validate(msg)  # what on_message does with it next
        except BadMessage:
            pass
        return norm(msg)

    return check


def _cluster_streams_session() -> Check:
    from hypersio.adapters.cluster import redis_streams
    from hypersio.adapters.cluster.wire import BadMessage

    def check(data: bytes) -> object:
        try:
            return norm(redis_streams.decode_session(data))
        except BadMessage as exc:
            return _error(exc)

    return check


def _workers_sid() -> Check:
    from hypersio.engine.workers import sid_from_head

    def check(data: bytes) -> object:
        sid = sid_from_head(data)
        assert sid is None or type(sid) is str, type(sid)
        return sid

    return check


SINGLE_TARGETS: dict[str, Callable[[], Check]] = {
    "cluster_notepack": _cluster_notepack,
    "cluster_wire": _cluster_wire,
    "cluster_classic": _cluster_classic,
    "cluster_messages": _cluster_messages,
    "cluster_streams_entry": _cluster_streams_entry,
    "cluster_streams_session": _cluster_streams_session,
    "workers_sid": _workers_sid,
}


def make(name: str, twin: str = "py") -> Check:
    """The check of target ``name`` on ``twin`` ("c", "py" or "both": differential)."""
    family = TARGETS[name]
    if family is None:
        return SINGLE_TARGETS[name]()
    builder = PROTOCOL_TARGETS[name]
    if twin != "both":
        return builder(load_twin(family, twin))
    compiled = builder(load_twin(family, "c"))
    pure = builder(load_twin(family, "py"))

    def differential(data: bytes) -> object:
        got_py = pure(data)
        got_c = compiled(data)
        try:
            same = got_c == got_py
        except RecursionError:  # the trees are as deep as the input's nesting
            same = deep(operator.eq, got_c, got_py)
        assert same, f"twins differ:\n  c:  {got_c!r:.2000}\n  py: {got_py!r:.2000}"
        return got_py

    return differential
