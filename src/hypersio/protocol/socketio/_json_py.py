"""Socket.IO v5 packets in the JSON text format (socket.io-parser 4.2.7 compatible), pure Python.

This is the twin of the compiled ``_json_c`` and its spec; both have the same API and produce
identical output. Applications import ``hypersio.protocol.socketio.json_codec``, which picks one of
them. Both take the packet vocabulary from :mod:`hypersio.protocol.socketio.packet`, the error texts
from :mod:`hypersio.protocol.socketio.errors` and ``__all__`` from here.

Wire form of one packet: ``<type>[<attachments>-][<nsp>,][<ack id>][<JSON>]`` followed, for the
binary types, by ``attachments`` binary messages. Decoded binary packets come back with the plain
type (EVENT/ACK) and their attachments put back in place, as the JavaScript decoder does.
"""

from __future__ import annotations

import json as _stdjson
import re
from typing import Any

import orjson

from hypersio.exceptions import ParseError
from hypersio.protocol.socketio.errors import (
    ERR_ACK_ID_RANGE,
    ERR_ACK_ID_TOO_LARGE,
    ERR_ACK_ID_TOO_LONG,
    ERR_ACK_ID_TYPE,
    ERR_ATTACHMENTS_COUNT,
    ERR_ATTACHMENTS_DIGITS,
    ERR_BINARY_NOT_EVENT,
    ERR_BINARY_NOT_PENDING,
    ERR_CHUNK_TYPE,
    ERR_EMPTY_PACKET,
    ERR_INVALID_JSON,
    ERR_INVALID_PAYLOAD,
    ERR_JSON_TOO_DEEP,
    ERR_LONE_SURROGATE,
    ERR_NO_ATTACHMENTS_DASH,
    ERR_NOT_JSON_CONSTANT,
    ERR_NSP_TYPE,
    ERR_PLACEHOLDER,
    ERR_TEXT_WHILE_BINARY,
    ERR_TOO_MANY_ATTACHMENTS,
    ERR_UNKNOWN_TYPE,
    ERR_WHITESPACE_PAYLOAD,
    PAYLOAD_ACK,
    PAYLOAD_CONNECT,
    PAYLOAD_CONNECT_ERROR,
    PAYLOAD_DISCONNECT,
    PAYLOAD_EVENT,
    PAYLOAD_EVENT_NAME,
    PAYLOAD_RESERVED_EVENT,
)
from hypersio.protocol.socketio.packet import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    BINARY_SHIFT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    MAX_ACK_ID,
    MAX_ACK_ID_DIGITS,
    RESERVED_EVENTS,
    TYPE_NAMES,
)

# The one list of this family's public names: the compiled twin imports it.
__all__ = [
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EVENT",
    "MAX_ACK_ID",
    "RESERVED_EVENTS",
    "Decoder",
    "Encoder",
    "Packet",
    "encode_packet",
]

# The type digits a packet text starts with ("0".."6"); the value of any decimal digit is its
# code point minus this.
_FIRST_DIGIT = str(CONNECT)
_LAST_DIGIT = str(BINARY_ACK)
_ORD_ZERO = ord("0")
# An attachment count of more digits is refused before int() reads it (no limit comes near it).
_MAX_ATTACHMENTS_DIGITS = 9

_BINARY_TYPES = (bytes, bytearray, memoryview)
_orjson_dumps = orjson.dumps
_orjson_loads = orjson.loads
_OPT_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS
_JSONDecodeError = orjson.JSONDecodeError
# A JSON text that escapes a UTF-16 surrogate: JSON.stringify writes lone ones that way.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
# A whole surrogate escape, for the structure check of the stdlib fallback below.
_SURROGATE_ESCAPE_FULL = re.compile(r"\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class Packet:
    """One Socket.IO packet: what an Encoder turns into wire chunks and a Decoder returns.

    ``type`` is one of the constants CONNECT..BINARY_ACK, ``nsp`` the namespace, ``data`` the
    JSON-able payload (``None`` = no payload), ``id`` the ack id or ``None``; ``attachments`` is
    the number of binary attachments the packet had on the wire (informational, not compared).
    """

    __slots__ = ("type", "nsp", "data", "id", "attachments")

    def __init__(self, type: int, nsp: str = "/", data: Any = None, id: int | None = None) -> None:
        self.type = type
        self.nsp = nsp
        self.data = data
        self.id = id
        self.attachments = 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Packet):
            return NotImplemented
        return self.type == other.type and self.nsp == other.nsp and self.id == other.id and self.data == other.data

    __hash__ = None  # type: ignore[assignment]  # mutable value type

    def __repr__(self) -> str:
        name = TYPE_NAMES[self.type] if type(self.type) is int and CONNECT <= self.type <= BINARY_ACK else self.type
        return f"Packet(type={name}, nsp={self.nsp!r}, data={self.data!r}, id={self.id!r})"


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def _dumps_slow(data: Any) -> str:
    """JSON text for what orjson refuses: non-str dict keys, ints beyond 64 bits, lone surrogates."""
    try:
        return _orjson_dumps(data, option=_OPT_NON_STR_KEYS).decode()
    except TypeError:
        pass
    text = _stdjson.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # JSON.stringify escapes lone surrogates (which could not be sent as UTF-8): do the same.
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _dumps(data: Any) -> str:
    try:
        return _orjson_dumps(data).decode()
    except TypeError:
        return _dumps_slow(data)


def _reject_constant(name: str) -> Any:
    """The stdlib's parse_constant hook: NaN and Infinity are not JSON (orjson refuses them too)."""
    raise ValueError(ERR_NOT_JSON_CONSTANT.format(name))


def _loads(text: str) -> Any:
    """Parse one JSON document; orjson first, the stdlib only for escaped lone surrogates."""
    try:
        return _orjson_loads(text)
    except _JSONDecodeError as exc:
        return _loads_after_error(text, exc)


def _loads_after_error(text: str, exc: Exception) -> Any:
    """Second chance for a text orjson refused: JSON.stringify escapes lone surrogates, orjson
    rejects them, the stdlib accepts them. Anything else orjson refused is a ParseError."""
    if _SURROGATE_ESCAPE.search(text) is None:
        raise ParseError(ERR_INVALID_JSON.format(exc)) from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError(ERR_LONE_SURROGATE) from None
    # The stdlib parser's nesting limit is the interpreter's recursion limit, which a program may
    # have raised (mypy sets 2**14): far enough for a deep document to overflow the C stack. So orjson
    # checks the structure first, with the surrogate escapes made harmless: its depth limit (1024) and
    # its verdict then hold whatever the recursion limit is.
    try:
        _orjson_loads(_SURROGATE_ESCAPE_FULL.sub("\\\\u0000", text))
    except _JSONDecodeError as structure_exc:
        raise ParseError(ERR_INVALID_JSON.format(structure_exc)) from None
    try:
        return _stdjson.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ParseError(ERR_JSON_TOO_DEEP) from None
    except ValueError as stdlib_exc:
        raise ParseError(ERR_INVALID_JSON.format(stdlib_exc)) from None


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------


def _deconstruct(obj: Any, buffers: list[bytes]) -> Any:
    """Copy of ``obj`` with every binary value replaced by a placeholder appended to ``buffers``."""
    t = type(obj)
    if t is bytes:
        buffers.append(obj)
        return {"_placeholder": True, "num": len(buffers) - 1}
    if t is bytearray or t is memoryview or isinstance(obj, _BINARY_TYPES):
        buffers.append(bytes(obj))
        return {"_placeholder": True, "num": len(buffers) - 1}
    if t is list or t is tuple or isinstance(obj, (list, tuple)):
        return [_deconstruct(item, buffers) for item in obj]
    if t is dict or isinstance(obj, dict):
        return {key: _deconstruct(value, buffers) for key, value in obj.items()}
    return obj


def _header(ptype: int, nsp: str, pid: Any, attachments: int) -> str:
    """The packet text before the payload: ``<type>[<attachments>-][<nsp>,][<ack id>]``."""
    head = str(ptype) if attachments == 0 else f"{ptype}{attachments}-"
    if nsp is not None and type(nsp) is not str:
        raise TypeError(ERR_NSP_TYPE.format(type(nsp).__name__))
    if nsp and nsp != "/":
        if not nsp.isascii():
            nsp.encode("utf-8")  # UnicodeEncodeError for a lone surrogate: not sendable text
        head = f"{head}{nsp},"
    if pid is not None:
        if type(pid) is not int and (not isinstance(pid, int) or isinstance(pid, bool)):
            raise TypeError(ERR_ACK_ID_TYPE.format(type(pid).__name__))
        if not 0 <= pid <= MAX_ACK_ID:
            raise ValueError(ERR_ACK_ID_RANGE.format(pid))
        head = f"{head}{int(pid)}"
    return head


def encode_packet(type: int, nsp: str = "/", data: Any = None, id: int | None = None) -> list[str | bytes]:
    """Encode one packet straight from its fields: ``[str, *bytes]`` as socket.io-parser does.

    The server's emit path calls this to skip building a Packet. EVENT/ACK data holding
    bytes/bytearray/memoryview (at any depth of lists, tuples and dicts) is sent as
    BINARY_EVENT/BINARY_ACK with placeholders and the binary parts as extra list items.
    Raises TypeError/ValueError for something that cannot be encoded; never mutates ``data``.
    """
    ptype = type
    if ptype.__class__ is not int:
        if not isinstance(ptype, int) or isinstance(ptype, bool):
            raise ValueError(ERR_UNKNOWN_TYPE.format(repr(ptype)))
        ptype = int(ptype)
    if not CONNECT <= ptype <= BINARY_ACK:
        raise ValueError(ERR_UNKNOWN_TYPE.format(repr(ptype)))
    if data is None:
        if ptype >= BINARY_EVENT:
            ptype -= BINARY_SHIFT  # a binary packet without attachments is not valid on the wire
        return [_header(ptype, nsp, id, 0)]
    try:
        text = _orjson_dumps(data).decode()
    except TypeError:
        text = None  # binary somewhere, or something only the slow path can encode
    if text is not None:
        if ptype >= BINARY_EVENT:
            ptype -= BINARY_SHIFT
        return [_header(ptype, nsp, id, 0) + text]
    if ptype in (EVENT, ACK, BINARY_EVENT, BINARY_ACK):
        buffers: list[bytes] = []
        stripped = _deconstruct(data, buffers)
        if buffers:
            ptype = BINARY_EVENT if ptype in (EVENT, BINARY_EVENT) else BINARY_ACK
            return [_header(ptype, nsp, id, len(buffers)) + _dumps(stripped), *buffers]
        if ptype >= BINARY_EVENT:
            ptype -= BINARY_SHIFT
    elif _has_binary(data):
        raise TypeError(ERR_BINARY_NOT_EVENT.format(TYPE_NAMES[ptype]))
    return [_header(ptype, nsp, id, 0) + _dumps_slow(data)]


def _has_binary(obj: Any) -> bool:
    """Whether ``obj`` holds bytes-like data at any depth of lists, tuples and dicts."""
    if isinstance(obj, _BINARY_TYPES):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_binary(item) for item in obj)
    if isinstance(obj, dict):
        return any(_has_binary(value) for value in obj.values())
    return False


class Encoder:
    """Turns Packets into wire chunks; stateless, one can serve every connection."""

    __slots__ = ()

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Return ``[str, *bytes]``: the packet text and its binary attachments, if any."""
        return encode_packet(packet.type, packet.nsp, packet.data, packet.id)


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


def _payload_error(ptype: int, data: Any, has_payload: bool) -> str | None:
    """Why ``data`` is not a valid payload for ``ptype`` (the socket.io-parser rules), or None."""
    if ptype == CONNECT:
        if has_payload and type(data) is not dict:
            return PAYLOAD_CONNECT
    elif ptype == DISCONNECT:
        if has_payload:
            return PAYLOAD_DISCONNECT
    elif ptype == CONNECT_ERROR:
        if not has_payload or (type(data) is not str and type(data) is not dict):
            return PAYLOAD_CONNECT_ERROR
    elif ptype == EVENT or ptype == BINARY_EVENT:
        if type(data) is not list or not data:
            return PAYLOAD_EVENT
        first = data[0]
        tf = type(first)
        if tf is str:
            if first in RESERVED_EVENTS:
                return PAYLOAD_RESERVED_EVENT.format(first)
        elif tf is not int and tf is not float:
            return PAYLOAD_EVENT_NAME
    elif type(data) is not list:  # ACK, BINARY_ACK
        return PAYLOAD_ACK
    return None


def _reconstruct(data: Any, buffers: list[bytes]) -> Any:
    """Put the attachments back in place of their placeholders (iterative: input depth is hostile).

    Every placeholder of a container is resolved before the containers below it are walked; the
    compiled twin walks in the same order, so both report the same bad placeholder first.
    """
    count = len(buffers)

    def resolve(value: Any) -> Any:
        """The attachment a placeholder dict stands for, or ``value`` itself."""
        if type(value) is dict and value.get("_placeholder") is True:
            num = value.get("num")
            if type(num) is not int or not 0 <= num < count:
                raise ParseError(ERR_PLACEHOLDER.format(num, count))
            return buffers[num]
        return value

    data = resolve(data)
    stack = [data]
    while stack:
        node = stack.pop()
        if type(node) is list:
            for index, item in enumerate(node):
                if type(item) is list or type(item) is dict:
                    new = resolve(item)
                    if new is not item:
                        node[index] = new
                    else:
                        stack.append(item)
        elif type(node) is dict:
            for key, item in node.items():
                if type(item) is list or type(item) is dict:
                    new = resolve(item)
                    if new is not item:
                        node[key] = new
                    else:
                        stack.append(item)
    return data


def _decode_text(text: str, max_attachments: int = 10) -> Packet:
    """Decode one packet text (no attachments joined yet); raise ParseError if it is invalid."""
    n = len(text)
    if n == 0:
        raise ParseError(ERR_EMPTY_PACKET)
    c = text[0]
    if not _FIRST_DIGIT <= c <= _LAST_DIGIT:
        raise ParseError(ERR_UNKNOWN_TYPE.format(repr(c)))
    ptype = ord(c) - _ORD_ZERO
    i = 1
    attachments = 0
    if ptype >= BINARY_EVENT:
        dash = text.find("-", 1)
        if dash < 0:
            raise ParseError(ERR_NO_ATTACHMENTS_DASH)
        digits = text[1:dash]
        if not digits or not digits.isascii() or not digits.isdigit():
            raise ParseError(ERR_ATTACHMENTS_COUNT.format(digits[:20]))
        if len(digits) > _MAX_ATTACHMENTS_DIGITS:
            raise ParseError(ERR_ATTACHMENTS_DIGITS.format(max_attachments))
        attachments = int(digits)
        if attachments < 1:
            raise ParseError(ERR_ATTACHMENTS_COUNT.format(attachments))
        if attachments > max_attachments:
            raise ParseError(ERR_TOO_MANY_ATTACHMENTS.format(attachments, max_attachments))
        i = dash + 1
    nsp = "/"
    if i < n and text[i] == "/":
        comma = text.find(",", i)
        if comma < 0:
            nsp = text[i:]
            i = n
        else:
            nsp = text[i:comma]
            i = comma + 1
    pid = None
    j = i
    while j < n and "0" <= text[j] <= "9":
        j += 1
        if j - i > MAX_ACK_ID_DIGITS:
            raise ParseError(ERR_ACK_ID_TOO_LONG)
    if j > i:
        pid = int(text[i:j])
        if pid > MAX_ACK_ID:
            raise ParseError(ERR_ACK_ID_TOO_LARGE)
        i = j
    if i < n:
        if text[i] in " \t\n\r":
            # socket.io-parser would read this whitespace as an ack id (Number(" ") == 0).
            raise ParseError(ERR_WHITESPACE_PAYLOAD)
        data = _loads(text[i:] if i else text)
        has_payload = True
    else:
        data = None
        has_payload = False
    problem = _payload_error(ptype, data, has_payload)
    if problem is not None:
        raise ParseError(ERR_INVALID_PAYLOAD.format(problem))
    packet = Packet(ptype, nsp, data, pid)
    packet.attachments = attachments
    return packet


class Decoder:
    """Reassembles packets from wire chunks, one Decoder per connection (it keeps state).

    ``add(str)`` takes a packet text, ``add(bytes)`` the next binary attachment; the result is
    the complete Packet, or None while attachments are still due. Anything malformed raises
    ParseError and resets the decoder, so the caller can close the connection cleanly.
    """

    __slots__ = ("max_attachments", "_pending", "_buffers")

    def __init__(self, max_attachments: int = 10) -> None:
        self.max_attachments = max_attachments
        self._pending: Packet | None = None
        self._buffers: list[bytes] = []

    def reset(self) -> None:
        """Forget a half-received binary packet (after an error or when the connection closes)."""
        self._pending = None
        self._buffers = []

    def add(self, chunk: str | bytes | bytearray | memoryview) -> Packet | None:
        """Feed one wire chunk; return the Packet it completes, else None. Raises ParseError."""
        if type(chunk) is str:
            if self._pending is not None:
                missing = self._pending.attachments - len(self._buffers)
                self.reset()
                raise ParseError(ERR_TEXT_WHILE_BINARY.format(missing))
            packet = _decode_text(chunk, self.max_attachments)
            if packet.type < BINARY_EVENT:
                return packet
            packet.type -= BINARY_SHIFT  # delivered as EVENT/ACK, as socket.io-parser does
            self._pending = packet
            return None
        if isinstance(chunk, (bytes, bytearray, memoryview)):
            pending = self._pending
            if pending is None:
                raise ParseError(ERR_BINARY_NOT_PENDING)
            buffers = self._buffers
            buffers.append(chunk if type(chunk) is bytes else bytes(chunk))
            if len(buffers) < pending.attachments:
                return None
            self.reset()
            pending.data = _reconstruct(pending.data, buffers)
            return pending
        if isinstance(chunk, str):
            return self.add(str(chunk))
        self.reset()
        raise ParseError(ERR_CHUNK_TYPE.format(type(chunk).__name__))
