"""Socket.IO v5 packets in the socket.io-msgpack-parser 3.0.2 format, pure Python.

This is the twin of the compiled ``_msgpack_c`` and its spec; both have the same API and produce
identical bytes. Applications import ``hypersio.protocol.socketio.msgpack_codec``, which picks one
of them. Both take the packet vocabulary from :mod:`hypersio.protocol.socketio.packet`, the error
texts from :mod:`hypersio.protocol.socketio.errors` and ``__all__`` from here.

Wire form: the whole packet is ONE msgpack map ``{type, data, nsp, id?}`` sent as one binary
Engine.IO message. There are no attachments: binary values travel inline as msgpack ``bin``, so
BINARY_EVENT/BINARY_ACK never appear on the wire. The JavaScript side encodes with notepack.io,
whose quirks the decoder understands: ``undefined`` is fixext1 type 0, ArrayBuffer and typed
arrays are ext 8/16/32 type 0, Date is fixext8 type 0 holding int64 milliseconds.

Value model, both ways: None/bool/int/float/str/bytes/list/dict as msgpack's own types
(bytearray and memoryview are sent as ``bin``, tuples as arrays, floats always as float64),
``datetime.datetime`` as a JavaScript Date (naive datetimes are taken as UTC; decoded ones are
aware, in UTC), a JavaScript ``undefined`` arrives as None, ArrayBuffer/typed arrays as bytes,
msgpack timestamps (ext -1) as datetimes and any other extension type as ``[code, bytes]``,
as notepack.io hands it to JavaScript code.
"""

from __future__ import annotations

import datetime as _dt
import re
import threading
from typing import Any

import msgpack

from hypersio.exceptions import ParseError
from hypersio.protocol.socketio.errors import (
    ERR_ACK_ID_NEGATIVE,
    ERR_ACK_ID_TYPE,
    ERR_CANNOT_PACK,
    ERR_DATE_RANGE,
    ERR_INT_TOO_BIG,
    ERR_INVALID_ACK_ID,
    ERR_INVALID_MSGPACK,
    ERR_INVALID_NSP,
    ERR_INVALID_PAYLOAD,
    ERR_INVALID_TYPE,
    ERR_MSGPACK_CHUNK_TYPE,
    ERR_MSGPACK_TEXT,
    ERR_MSGPACK_TOO_DEEP,
    ERR_NOT_A_MAP,
    ERR_NSP_TYPE,
    ERR_UNKNOWN_TYPE,
    PAYLOAD_ACK,
    PAYLOAD_CONNECT,
    PAYLOAD_CONNECT_ERROR,
    PAYLOAD_DISCONNECT,
    PAYLOAD_EVENT,
    PAYLOAD_EVENT_NAME,
    PAYLOAD_RESERVED_EVENT,
)
from hypersio.protocol.socketio.json_codec import Packet
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
    RESERVED_EVENTS,
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

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_MILLISECOND = _dt.timedelta(milliseconds=1)
_ExtType = msgpack.ExtType
_StackError = msgpack.StackError
_unpackb = msgpack.unpackb

# Encoded map keys and the one-byte type values (types are positive fixints): the packet frame is
# glued from these constants so only the payload goes through the msgpack packer.
_TYPE_ITEMS = tuple(b"\xa4type" + bytes((t,)) for t in range(CONNECT, CONNECT_ERROR + 1))
_KEY_DATA = b"\xa4data"
_KEY_NSP = b"\xa3nsp"
_ROOT_NSP = b"\xa3nsp\xa1/"
_KEY_ID = b"\xa2id"
_MAP_HEADERS = (b"", b"\x81", b"\x82", b"\x83", b"\x84")

# fixext header byte for each fixed payload size: those sizes are also reachable with ext 8/16/32,
# and notepack.io gives the two forms different meanings when the type is 0.
_FIXEXT_BY_SIZE = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
# For each such size: the fixext header with type 0, the ext 8 one, and the ext 16/32 ones
# (notepack.io never writes the last two for these sizes, other encoders may).
_EXT0_HEADERS = {
    size: (
        bytes((fixext, 0)),
        bytes((0xC7, size, 0)),
        (bytes((0xC8, 0, size, 0)), bytes((0xC9, 0, 0, 0, size, 0))),
    )
    for size, fixext in _FIXEXT_BY_SIZE.items()
}


# Runs of tokens that cannot be (or hold) an extension and whose size the first byte tells: the
# token walk below jumps over them at regex speed, so hostile input cannot make it crawl in Python.
_SKIP_PLAIN_TOKENS = re.compile(
    rb"(?:[\x00-\xa0\xc0-\xc3\xe0-\xff]|[\xcc\xd0].|[\xcd\xd1\xdc\xde].{2}"
    rb"|[\xca\xce\xd2\xdd\xdf].{4}|[\xcb\xcf\xd3].{8}"
    + b"".join(b"|\\x%02x.{%d}" % (0xA0 + k, k) for k in range(1, 32))
    + rb")*+",
    re.DOTALL,
).match


class _Undefined:
    """The JavaScript ``undefined`` while a packet is decoded (becomes None or "absent")."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"


_UNDEFINED = _Undefined()


def _default(obj: Any) -> Any:
    """Packer fallback: a datetime becomes notepack's Date (fixext8 type 0, int64 ms)."""
    if isinstance(obj, _dt.datetime):
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=_dt.UTC)
        ms = (obj - _EPOCH) // _MILLISECOND
        return _ExtType(0, ms.to_bytes(8, "big", signed=True))
    if isinstance(obj, int):  # the packer hands over the ints it has no 64-bit form for
        raise OverflowError(ERR_INT_TOO_BIG.format(obj))
    raise TypeError(ERR_CANNOT_PACK.format(type(obj).__name__))


# One Packer (its internal buffer reused) serves the emit path. Packing can run Python code (the
# datetime hook) where another thread may take over and pack too: whoever finds the shared packer
# taken packs with a fresh one instead.
_packer = msgpack.Packer(default=_default, use_bin_type=True, autoreset=True)
_pack = _packer.pack
_packer_lock = threading.Lock()


def _pack_data(data: Any) -> bytes:
    """``data`` packed by the shared packer, or by a fresh one while another thread holds it."""
    if _packer_lock.acquire(False):
        try:
            packed: bytes = _pack(data)
            return packed
        finally:
            _packer_lock.release()
    fresh: bytes = msgpack.Packer(default=_default, use_bin_type=True).pack(data)
    return fresh


def _pack_str(text: str) -> bytes:
    """``text`` as a msgpack str (written here, not by the shared packer, which may be busy)."""
    raw = text.encode("utf-8")
    n = len(raw)
    if n < 32:
        return bytes((0xA0 | n,)) + raw
    if n < 0x100:
        return bytes((0xD9, n)) + raw
    if n < 0x10000:
        return b"\xda" + n.to_bytes(2, "big") + raw
    return b"\xdb" + n.to_bytes(4, "big") + raw


def _pack_uint(value: int) -> bytes:
    """A non-negative int below 2**64 in msgpack's smallest form, as notepack.io writes it."""
    if value < 0x80:
        return bytes((value,))
    if value < 0x100:
        return bytes((0xCC, value))
    if value < 0x10000:
        return b"\xcd" + value.to_bytes(2, "big")
    if value < 0x100000000:
        return b"\xce" + value.to_bytes(4, "big")
    return b"\xcf" + value.to_bytes(8, "big")


def encode_packet(type: int, nsp: str = "/", data: Any = None, id: int | None = None) -> list[bytes]:
    """Encode one packet straight from its fields: ``[bytes]``, the msgpack map the JS parser sends.

    The server's emit path calls this to skip building a Packet. Keys come in the order
    type, data, nsp, id; ``data`` None leaves the key out (JavaScript's ``undefined``), as does
    ``id`` None. BINARY_EVENT/BINARY_ACK are sent as EVENT/ACK: binary travels inline.
    Raises TypeError/ValueError for something that cannot be encoded.
    """
    ptype = type
    if ptype.__class__ is not int:
        if not isinstance(ptype, int) or isinstance(ptype, bool):
            raise ValueError(ERR_UNKNOWN_TYPE.format(_short(ptype)))
        ptype = int(ptype)
    if ptype >= BINARY_EVENT:
        ptype -= BINARY_SHIFT
        if ptype < EVENT or ptype > ACK:
            raise ValueError(ERR_UNKNOWN_TYPE.format(_short(type)))
    elif ptype < CONNECT:
        raise ValueError(ERR_UNKNOWN_TYPE.format(_short(type)))
    # The cheap checks come before the payload is packed (the compiled twin's order).
    if nsp != "/" and not isinstance(nsp, str):
        raise TypeError(ERR_NSP_TYPE.format(nsp.__class__.__name__))
    if id is not None:
        if id.__class__ is not int and (not isinstance(id, int) or isinstance(id, bool)):
            raise TypeError(ERR_ACK_ID_TYPE.format(id.__class__.__name__))
        if id < 0:
            raise ValueError(ERR_ACK_ID_NEGATIVE.format(id))
        if id >= 1 << 64:
            raise OverflowError(ERR_INT_TOO_BIG.format(id))
    parts = [b"", _TYPE_ITEMS[ptype]]
    count = 2  # type and nsp are always there
    if data is not None:
        count = 3
        parts.append(_KEY_DATA)
        parts.append(_pack_data(data))
    if nsp == "/":
        parts.append(_ROOT_NSP)
    else:
        parts.append(_KEY_NSP)
        parts.append(_pack_str(nsp))
    if id is not None:
        parts.append(_KEY_ID)
        parts.append(_pack_uint(id))
        count += 1
    parts[0] = _MAP_HEADERS[count]
    return [b"".join(parts)]


class Encoder:
    """Turns Packets into wire chunks (one ``bytes`` each); stateless, one serves every connection."""

    __slots__ = ()

    def encode(self, packet: Packet) -> list[bytes]:
        """Return ``[bytes]``: the packet as one msgpack map (see :func:`encode_packet`)."""
        return encode_packet(packet.type, packet.nsp, packet.data, packet.id)


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


def _ext0_forms(buf: bytes) -> list[bool]:
    """For each type-0 extension in ``buf``, in document order: True if written as fixext.

    msgpack's ext_hook is not told which header an extension had; notepack.io's decoder decides
    by it. Only called when a quick search could not tell, from the hook: msgpack has accepted
    ``buf`` up to the current extension, not beyond, so the walk stops where a token would run
    past the end (what follows is msgpack's to refuse).
    """
    forms = []
    i = 0
    n = len(buf)
    while True:
        i = _SKIP_PLAIN_TOKENS(buf, i).end()  # type: ignore[union-attr]  # *+ always matches
        if i >= n:
            break
        b = buf[i]
        i += 1
        if b == 0xC4 or b == 0xD9:  # bin 8, str 8
            if i >= n:
                break
            i += 1 + buf[i]
        elif b == 0xC5 or b == 0xDA:
            i += 2 + int.from_bytes(buf[i : i + 2], "big")
        elif b == 0xC6 or b == 0xDB:
            i += 4 + int.from_bytes(buf[i : i + 4], "big")
        elif 0xC7 <= b <= 0xC9:  # ext 8/16/32: length, type, payload
            width = 1 << (b - 0xC7)
            if i + width >= n:
                break
            size = int.from_bytes(buf[i : i + width], "big")
            if buf[i + width] == 0:
                forms.append(False)
            i += width + 1 + size
        elif 0xD4 <= b <= 0xD8 and i < n:  # fixext 1..16: type, payload
            if buf[i] == 0:
                forms.append(True)
            i += 1 + (1 << (b - 0xD4))
        else:  # a token the skip above stopped at because it runs past the end
            break
    return forms


def _replace_undefined(data: Any) -> Any:
    """``data`` with every nested JavaScript ``undefined`` made None (iterative: depth is hostile)."""
    if data is _UNDEFINED:
        return None
    stack = [data]
    while stack:
        node = stack.pop()
        if node.__class__ is list:
            for index, item in enumerate(node):
                if item is _UNDEFINED:
                    node[index] = None
                elif item.__class__ is list or item.__class__ is dict:
                    stack.append(item)
        elif node.__class__ is dict:
            for key, item in node.items():
                if item is _UNDEFINED:
                    node[key] = None
                elif item.__class__ is list or item.__class__ is dict:
                    stack.append(item)
    return data


def _short(value: Any) -> str:
    """repr() of a peer's value for an error message, cut short: the value may be huge."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_int(value: Any) -> int | None:
    """``value`` as an int if it is a JavaScript integer (an int, or a float with no fraction)."""
    cls = value.__class__
    if cls is int:
        return int(value)
    if cls is float and value.is_integer():
        return int(value)
    return None


def _payload_error(ptype: int, data: Any, has_payload: bool) -> str | None:
    """Why ``data`` is not a valid payload for ``ptype`` (socket.io-parser's rules), or None."""
    if ptype == EVENT:
        if data.__class__ is not list or not data:
            return PAYLOAD_EVENT
        first = data[0]
        cls = first.__class__
        if cls is str:
            if first in RESERVED_EVENTS:
                return PAYLOAD_RESERVED_EVENT.format(first)
        elif cls is not int and cls is not float:
            return PAYLOAD_EVENT_NAME
    elif ptype == ACK:
        if data.__class__ is not list:
            return PAYLOAD_ACK
    elif ptype == CONNECT:
        if has_payload and data.__class__ is not dict:
            return PAYLOAD_CONNECT
    elif ptype == DISCONNECT:
        if has_payload:
            return PAYLOAD_DISCONNECT
    elif not has_payload or (data.__class__ is not str and data.__class__ is not dict):  # CONNECT_ERROR
        return PAYLOAD_CONNECT_ERROR
    return None


class _ExtReader:
    """msgpack's ext_hook for one Decoder: notepack.io's meaning of each extension.

    It keeps the per-message state the hook needs (the message, how many extensions it has seen,
    how many undefined it made) apart from the Decoder, so that the two do not form a reference
    cycle and a closed connection's Decoder is freed at once.
    """

    __slots__ = ("buf", "ext0_seen", "forms", "undefined")

    def __init__(self) -> None:
        self.start(b"")

    def start(self, buf: bytes) -> None:
        """Get ready for the message ``buf``."""
        self.buf = buf
        self.ext0_seen = 0
        self.forms: list[bool] | None = None
        self.undefined = 0

    def _is_fixext(self, size: int) -> bool:
        """Whether the current type-0 extension of ``size`` bytes had a fixext header."""
        buf = self.buf
        fixext, ext8, wide = _EXT0_HEADERS[size]
        fixed = fixext in buf
        if fixed != (ext8 in buf or wide[0] in buf or wide[1] in buf):
            return fixed  # only one kind of header occurs anywhere: it is this one
        if self.forms is None:
            self.forms = _ext0_forms(buf)
        if self.ext0_seen > len(self.forms):  # cannot happen: msgpack read them all before this one
            raise ParseError(ERR_INVALID_MSGPACK.format("extension headers out of step"))
        return self.forms[self.ext0_seen - 1]

    def __call__(self, code: int, payload: bytes) -> Any:
        """The value extension ``code`` with ``payload`` stands for (msgpack's ext_hook)."""
        if code != 0:
            return [code, payload]  # what notepack.io hands JavaScript for a foreign extension
        self.ext0_seen += 1
        size = len(payload)
        if size not in _FIXEXT_BY_SIZE or not self._is_fixext(size):
            return payload  # ArrayBuffer / typed array
        if size == 1:
            self.undefined += 1
            return _UNDEFINED
        if size == 8:
            ms = int.from_bytes(payload, "big", signed=True)
            try:
                return _EPOCH + ms * _MILLISECOND
            except OverflowError:
                raise ParseError(ERR_DATE_RANGE.format(ms)) from None
        return [0, payload]


class Decoder:
    """Turns one binary message into a Packet; keep one per connection (it is not thread-safe).

    ``add(bytes)`` returns the Packet (never None: a msgpack packet is always complete) or raises
    ParseError for anything that is not a valid socket.io-msgpack-parser packet.
    ``max_attachments`` is accepted for symmetry with the JSON Decoder; msgpack has no attachments.
    """

    __slots__ = ("max_attachments", "_ext")

    def __init__(self, max_attachments: int = 10) -> None:
        self.max_attachments = max_attachments
        self._ext = _ExtReader()

    def reset(self) -> None:
        """Forget per-message state; present for symmetry with the JSON Decoder."""
        self._ext.start(b"")

    def add(self, chunk: bytes | bytearray | memoryview) -> Packet:
        """Decode one binary message into a Packet. Raises ParseError if it is not one."""
        if type(chunk) is bytes:
            message = chunk
        elif isinstance(chunk, (bytes, bytearray, memoryview)):
            message = bytes(chunk)
        elif isinstance(chunk, str):
            raise ParseError(ERR_MSGPACK_TEXT)
        else:
            raise ParseError(ERR_MSGPACK_CHUNK_TYPE.format(chunk.__class__.__name__))
        ext = self._ext
        ext.start(message)
        try:
            obj = _unpackb(message, ext_hook=ext, timestamp=3)
        except ParseError:
            raise
        except _StackError:
            raise ParseError(ERR_MSGPACK_TOO_DEEP) from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise ParseError(ERR_INVALID_MSGPACK.format(exc or exc.__class__.__name__)) from None
        finally:
            ext.buf = b""
        return self._packet(obj, ext.undefined)

    @staticmethod
    def _packet(obj: Any, undefined: int) -> Packet:
        """Check one decoded map against the socket.io-msgpack-parser rules and build the Packet.

        ``undefined`` is how many JavaScript undefined values the message held.
        """
        if obj.__class__ is not dict:
            raise ParseError(ERR_NOT_A_MAP.format(obj.__class__.__name__))
        ptype = obj.get("type", _UNDEFINED)
        itype = _as_int(ptype)
        if itype is None or not CONNECT <= itype <= CONNECT_ERROR:
            raise ParseError(ERR_INVALID_TYPE.format(_short(ptype)))
        nsp = obj.get("nsp", _UNDEFINED)
        if nsp.__class__ is not str:
            raise ParseError(ERR_INVALID_NSP.format(_short(nsp)))
        pid = obj.get("id", _UNDEFINED)
        if pid is _UNDEFINED:
            pid = None
        else:
            iid = _as_int(pid)
            if iid is None or not 0 <= iid <= MAX_ACK_ID:
                raise ParseError(ERR_INVALID_ACK_ID.format(_short(pid)))
            pid = iid
        data = obj.get("data", _UNDEFINED)
        has_payload = data is not _UNDEFINED
        if not has_payload:
            data = None
        elif undefined and undefined > sum(1 for value in obj.values() if value is _UNDEFINED):
            data = _replace_undefined(data)  # some undefined sits inside the payload
        problem = _payload_error(itype, data, has_payload)
        if problem is not None:
            raise ParseError(ERR_INVALID_PAYLOAD.format(problem))
        return Packet(itype, nsp, data, pid)
