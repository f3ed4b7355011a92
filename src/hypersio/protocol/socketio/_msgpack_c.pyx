# cython: language_level=3, boundscheck=False, wraparound=False
"""Socket.IO v5 packets in the socket.io-msgpack-parser 3.0.2 format, compiled.

Twin of ``_msgpack_py`` (read its docstring for the wire form and the value model); the same
API and byte-identical output. The msgpack C library does the (de)serialisation of payloads;
this module frames the packet map in C (one allocation, memcpy), calls the library with prebuilt
arguments, and checks the decoded packet with typed code. ``__all__`` comes from the pure twin,
the packet vocabulary from ``packet``, every error text from ``errors``: this module keeps only
typed copies of the numbers it compares in C.
"""

import datetime as _dt

import msgpack

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject_Call
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy

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
from hypersio.protocol.socketio._msgpack_py import __all__
from hypersio.protocol.socketio._msgpack_py import _EXT0_HEADERS

cdef extern from "Python.h":
    # Declared without error checks: only called on an int, where it cannot fail.
    long PyLong_AsLongAndOverflow(object o, int* overflow)

cdef object _EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
cdef object _MILLISECOND = _dt.timedelta(milliseconds=1)
cdef object _UTC = _dt.timezone.utc
cdef object _datetime = _dt.datetime
cdef object _ExtType = msgpack.ExtType
cdef object _StackError = msgpack.StackError
cdef object _unpackb = msgpack.unpackb
cdef object _Packet = Packet
cdef object _ParseError = ParseError
cdef frozenset _RESERVED = frozenset(RESERVED_EVENTS)
cdef uint64_t _MAX_ACK_ID = MAX_ACK_ID

# Typed copies of the packet types for C comparisons (their values come from ``packet``).
cdef long C_CONNECT = CONNECT
cdef long C_DISCONNECT = DISCONNECT
cdef long C_EVENT = EVENT
cdef long C_ACK = ACK
cdef long C_CONNECT_ERROR = CONNECT_ERROR
cdef long C_BINARY_EVENT = BINARY_EVENT
cdef long C_BINARY_ACK = BINARY_ACK
cdef long C_BINARY_SHIFT = BINARY_SHIFT


cdef class _Undefined:
    """The JavaScript ``undefined`` while a packet is decoded (becomes None or "absent")."""

    def __repr__(self):
        return "undefined"


cdef _Undefined _UNDEFINED = _Undefined()


def _default(obj):
    """Packer fallback: a datetime becomes notepack's Date (fixext8 type 0, int64 ms)."""
    if isinstance(obj, _datetime):
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=_UTC)
        ms = (obj - _EPOCH) // _MILLISECOND
        return _ExtType(0, ms.to_bytes(8, "big", signed=True))
    if isinstance(obj, int):  # the packer hands over the ints it has no 64-bit form for
        raise OverflowError(ERR_INT_TOO_BIG.format(obj))
    raise TypeError(ERR_CANNOT_PACK.format(type(obj).__name__))


# One Packer (its internal buffer reused) serves the emit path. Without autoreset the payload
# stays in the packer's buffer and is copied once, straight into the finished packet, instead of
# first into a bytes object of its own. Packing can run Python code (the datetime hook) where
# another thread may take over and encode too: whoever finds the shared packer busy packs with a
# fresh one instead.
cdef object _packer = msgpack.Packer(default=_default, use_bin_type=True, autoreset=False)
cdef bint _packer_busy = False


cdef inline char* _put(char* out, const char* src, Py_ssize_t n) noexcept:
    memcpy(out, src, n)
    return out + n


cdef Py_ssize_t _uint_size(uint64_t v) noexcept:
    if v < 0x80:
        return 1
    if v < 0x100:
        return 2
    if v < 0x10000:
        return 3
    if v < 0x100000000:
        return 5
    return 9


cdef char* _put_uint(char* out, uint64_t v) noexcept:
    """msgpack's smallest unsigned form of ``v`` (the one notepack.io and msgpack-c choose)."""
    cdef int shift, width
    if v < 0x80:
        out[0] = <char>v
        return out + 1
    if v < 0x100:
        out[0] = <char>0xCC
        width = 1
    elif v < 0x10000:
        out[0] = <char>0xCD
        width = 2
    elif v < 0x100000000:
        out[0] = <char>0xCE
        width = 4
    else:
        out[0] = <char>0xCF
        width = 8
    out += 1
    shift = (width - 1) * 8
    while shift >= 0:
        out[0] = <char>((v >> shift) & 0xFF)
        out += 1
        shift -= 8
    return out


cdef list _encode(object ptype, object nsp, object data, object id):
    """``encode_packet``: the type checked as a C long, the map framed around the packed payload."""
    cdef long t
    cdef int overflow = 0
    cdef uint64_t pid = 0
    cdef bint has_id = id is not None
    cdef bint has_data = data is not None
    cdef bint root = False
    cdef Py_buffer view
    cdef Py_ssize_t total, data_len = 0, nsp_len = 0
    cdef int count = 2
    cdef bytes result
    cdef char* out
    cdef object packer
    global _packer_busy
    if type(ptype) is not int:
        if not isinstance(ptype, int) or isinstance(ptype, bool):
            raise ValueError(ERR_UNKNOWN_TYPE.format(_short(ptype)))
    t = PyLong_AsLongAndOverflow(ptype, &overflow)
    if overflow or not C_CONNECT <= t <= C_BINARY_ACK:
        raise ValueError(ERR_UNKNOWN_TYPE.format(_short(ptype)))
    if t >= C_BINARY_EVENT:  # BINARY_EVENT/BINARY_ACK: binary travels inline
        t -= C_BINARY_SHIFT
    if type(nsp) is not str and not isinstance(nsp, str):
        raise TypeError(ERR_NSP_TYPE.format(type(nsp).__name__))
    if has_id:
        if type(id) is not int and (not isinstance(id, int) or isinstance(id, bool)):
            raise TypeError(ERR_ACK_ID_TYPE.format(type(id).__name__))
        if id < 0:
            raise ValueError(ERR_ACK_ID_NEGATIVE.format(id))
        if id >= 2**64:
            raise OverflowError(ERR_INT_TOO_BIG.format(id))
        pid = id
        count += 1
    # data then nsp go into the packer's buffer back to back; the frame is glued around them.
    if _packer_busy:
        packer = msgpack.Packer(default=_default, use_bin_type=True, autoreset=False)
    else:
        packer = _packer
        _packer_busy = True
    try:
        try:
            if has_data:
                packer.pack(data)
                count += 1
                PyObject_GetBuffer(packer, &view, PyBUF_SIMPLE)
                data_len = view.len
                PyBuffer_Release(&view)
            if nsp == "/":
                root = True
            else:
                packer.pack(nsp)
            PyObject_GetBuffer(packer, &view, PyBUF_SIMPLE)
        except BaseException:
            packer.reset()
            raise
        try:
            nsp_len = view.len - data_len
            total = 1 + 6 + (5 + data_len if has_data else 0) + (6 if root else 4 + nsp_len)
            if has_id:
                total += 3 + _uint_size(pid)
            result = PyBytes_FromStringAndSize(NULL, total)
            out = PyBytes_AS_STRING(result)
            out[0] = <char>(0x80 | count)
            out = _put(out + 1, b"\xa4type", 5)
            out[0] = <char>t
            out += 1
            if has_data:
                out = _put(out, b"\xa4data", 5)
                out = _put(out, <const char*>view.buf, data_len)
            if root:
                out = _put(out, b"\xa3nsp\xa1/", 6)
            else:
                out = _put(out, b"\xa3nsp", 4)
                out = _put(out, <const char*>view.buf + data_len, nsp_len)
            if has_id:
                out = _put(out, b"\xa2id", 3)
                _put_uint(out, pid)
        finally:
            PyBuffer_Release(&view)
            packer.reset()
    finally:
        if packer is _packer:
            _packer_busy = False
    return [result]


def encode_packet(type, nsp="/", data=None, id=None):
    """Encode one packet straight from its fields: ``[bytes]``, the msgpack map the JS parser sends.

    The server's emit path calls this to skip building a Packet. Keys come in the order
    type, data, nsp, id; ``data`` None leaves the key out (JavaScript's ``undefined``), as does
    ``id`` None. BINARY_EVENT/BINARY_ACK are sent as EVENT/ACK: binary travels inline.
    Raises TypeError/ValueError for something that cannot be encoded.
    """
    return _encode(type, nsp, data, id)


cdef class Encoder:
    """Turns Packets into wire chunks (one ``bytes`` each); stateless, one serves every connection."""

    def encode(self, packet):
        """Return ``[bytes]``: the packet as one msgpack map (see :func:`encode_packet`)."""
        return _encode(packet.type, packet.nsp, packet.data, packet.id)


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


cdef inline uint64_t _be(const unsigned char* p, int width) noexcept:
    cdef uint64_t v = 0
    cdef int k
    for k in range(width):
        v = (v << 8) | p[k]
    return v


cdef list _ext0_forms(bytes buf):
    """For each type-0 extension in ``buf``, in document order: True if written as fixext.

    msgpack's ext_hook is not told which header an extension had; notepack.io's decoder decides
    by it. Only called when a quick search could not tell, from the hook: msgpack has accepted
    ``buf`` up to the current extension, not beyond, so the walk stops where a token would run
    past the end (what follows is msgpack's to refuse). Every read is bounds-checked first.
    """
    cdef list forms = []
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(buf)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(buf)
    cdef Py_ssize_t i = 0
    cdef unsigned char b
    cdef int width
    cdef uint64_t size
    while i < n:
        b = p[i]
        i += 1
        if b < 0xA0 or b >= 0xE0:
            continue
        if b < 0xC0:
            i += b & 0x1F
        elif b <= 0xC3:
            continue
        elif b == 0xC4 or b == 0xD9:
            if i >= n:
                break
            i += 1 + p[i]
        elif b == 0xC5 or b == 0xDA:
            if i + 2 > n:
                break
            i += 2 + <Py_ssize_t>_be(p + i, 2)
        elif b == 0xC6 or b == 0xDB:
            if i + 4 > n:
                break
            i += 4 + <Py_ssize_t>_be(p + i, 4)
        elif b <= 0xC9:
            width = 1 << (b - 0xC7)
            if i + width >= n:
                break
            size = _be(p + i, width)
            if p[i + width] == 0:
                forms.append(False)
            if size > <uint64_t>(n - i):
                break
            i += width + 1 + <Py_ssize_t>size
        elif b <= 0xD3:
            if b == 0xCA or b == 0xCE or b == 0xD2:
                i += 4
            elif b == 0xCB or b == 0xCF or b == 0xD3:
                i += 8
            elif b == 0xCC or b == 0xD0:
                i += 1
            else:
                i += 2
        elif b <= 0xD8:
            if i >= n:
                break
            if p[i] == 0:
                forms.append(True)
            i += 1 + (1 << (b - 0xD4))
        elif b == 0xDC or b == 0xDE:
            i += 2
        else:
            i += 4
    return forms


cdef object _replace_undefined(object data):
    """``data`` with every nested JavaScript ``undefined`` made None (iterative: depth is hostile)."""
    cdef list stack
    cdef Py_ssize_t index
    if data is _UNDEFINED:
        return None
    stack = [data]
    while stack:
        node = stack.pop()
        if type(node) is list:
            for index in range(len(<list>node)):
                item = (<list>node)[index]
                if item is _UNDEFINED:
                    (<list>node)[index] = None
                elif type(item) is list or type(item) is dict:
                    stack.append(item)
        elif type(node) is dict:
            for key, item in (<dict>node).items():
                if item is _UNDEFINED:
                    (<dict>node)[key] = None
                elif type(item) is list or type(item) is dict:
                    stack.append(item)
    return data


cdef str _short(object value):
    """repr() of a peer's value for an error message, cut short: the value may be huge."""
    cdef str text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


cdef object _as_int(object value):
    """``value`` as an int if it is a JavaScript integer (an int, or a float with no fraction)."""
    if type(value) is int:
        return value
    cdef double d
    if type(value) is float:
        d = value
        # the range test comes first: casting an out-of-range double to an integer is undefined
        if -9.2e18 < d < 9.2e18 and d == <double>(<int64_t>d):
            return int(d)
    return None


cdef str _payload_error(long ptype, object data, bint has_payload):
    """Why ``data`` is not a valid payload for ``ptype`` (socket.io-parser's rules), or None."""
    if ptype == C_EVENT:
        if type(data) is not list or not data:
            return PAYLOAD_EVENT
        first = (<list>data)[0]
        if type(first) is str:
            if first in _RESERVED:
                return PAYLOAD_RESERVED_EVENT.format(first)
        elif type(first) is not int and type(first) is not float:
            return PAYLOAD_EVENT_NAME
    elif ptype == C_ACK:
        if type(data) is not list:
            return PAYLOAD_ACK
    elif ptype == C_CONNECT:
        if has_payload and type(data) is not dict:
            return PAYLOAD_CONNECT
    elif ptype == C_DISCONNECT:
        if has_payload:
            return PAYLOAD_DISCONNECT
    elif not has_payload or (type(data) is not str and type(data) is not dict):  # CONNECT_ERROR
        return PAYLOAD_CONNECT_ERROR
    return None


cdef class _ExtReader:
    """msgpack's ext_hook for one Decoder: notepack.io's meaning of each extension.

    It keeps the per-message state the hook needs apart from the Decoder, so that the two do not
    form a reference cycle and a closed connection's Decoder is freed at once.
    """

    cdef bytes buf
    cdef Py_ssize_t ext0_seen
    cdef list forms
    cdef Py_ssize_t undefined

    def __cinit__(self):
        self.start(b"")

    cdef inline void start(self, bytes buf) noexcept:
        self.buf = buf
        self.ext0_seen = 0
        self.forms = None
        self.undefined = 0

    cdef bint _is_fixext(self, int size) except -1:
        """Whether the current type-0 extension of ``size`` bytes had a fixext header."""
        # The pure twin's table: (fixext header, ext 8 header, (ext 16 header, ext 32 header)).
        cdef tuple headers = _EXT0_HEADERS[size]
        cdef tuple wide = headers[2]
        cdef bint fixed = headers[0] in self.buf
        if fixed != (headers[1] in self.buf or wide[0] in self.buf or wide[1] in self.buf):
            return fixed  # only one kind of header occurs anywhere: it is this one
        if self.forms is None:
            self.forms = _ext0_forms(self.buf)
        # Cannot happen (msgpack read them all before this one), but this module indexes unchecked.
        if self.ext0_seen > len(self.forms):
            raise ParseError(ERR_INVALID_MSGPACK.format("extension headers out of step"))
        return self.forms[self.ext0_seen - 1]

    def __call__(self, int code, bytes payload):
        """The value extension ``code`` with ``payload`` stands for (msgpack's ext_hook)."""
        cdef Py_ssize_t size
        cdef int64_t ms
        if code != 0:
            return [code, payload]  # what notepack.io hands JavaScript for a foreign extension
        self.ext0_seen += 1
        size = PyBytes_GET_SIZE(payload)
        if (size != 1 and size != 2 and size != 4 and size != 8 and size != 16) \
                or not self._is_fixext(<int>size):
            return payload  # ArrayBuffer / typed array
        if size == 1:
            self.undefined += 1
            return _UNDEFINED
        if size == 8:
            ms = <int64_t>_be(<const unsigned char*>PyBytes_AS_STRING(payload), 8)
            try:
                return _EPOCH + ms * _MILLISECOND
            except OverflowError:
                raise _ParseError(ERR_DATE_RANGE.format(ms)) from None
        return [0, payload]


cdef class Decoder:
    """Turns one binary message into a Packet; keep one per connection (it is not thread-safe).

    ``add(bytes)`` returns the Packet (never None: a msgpack packet is always complete) or raises
    ParseError for anything that is not a valid socket.io-msgpack-parser packet.
    ``max_attachments`` is accepted for symmetry with the JSON Decoder; msgpack has no attachments.
    """

    cdef public object max_attachments
    cdef _ExtReader _ext
    cdef dict _kwargs

    def __init__(self, max_attachments: int = 10) -> None:
        self.max_attachments = max_attachments
        self._ext = _ExtReader()
        self._kwargs = {"ext_hook": self._ext, "timestamp": 3}

    def reset(self) -> None:
        """Forget per-message state; present for symmetry with the JSON Decoder."""
        self._ext.start(b"")

    def add(self, chunk) -> Packet:
        """Decode one binary message into a Packet. Raises ParseError if it is not one."""
        cdef _ExtReader ext = self._ext
        if type(chunk) is not bytes:
            if isinstance(chunk, (bytes, bytearray, memoryview)):
                chunk = bytes(chunk)
            elif isinstance(chunk, str):
                raise _ParseError(ERR_MSGPACK_TEXT)
            else:
                raise _ParseError(ERR_MSGPACK_CHUNK_TYPE.format(type(chunk).__name__))
        ext.start(chunk)
        try:
            obj = PyObject_Call(_unpackb, (chunk,), self._kwargs)
        except _ParseError:
            raise
        except _StackError:
            raise _ParseError(ERR_MSGPACK_TOO_DEEP) from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise _ParseError(ERR_INVALID_MSGPACK.format(exc or exc.__class__.__name__)) from None
        finally:
            ext.buf = b""
        return self._packet(obj, ext.undefined)

    cdef object _packet(self, object obj, Py_ssize_t undefined):
        """Check one decoded map against the socket.io-msgpack-parser rules and build the Packet.

        ``undefined`` is how many JavaScript undefined values the message held.
        """
        cdef long itype = -1
        cdef int overflow = 0
        cdef bint has_payload
        cdef Py_ssize_t top
        if type(obj) is not dict:
            raise _ParseError(ERR_NOT_A_MAP.format(type(obj).__name__))
        ptype = (<dict>obj).get("type", _UNDEFINED)
        vtype = _as_int(ptype)
        if vtype is not None:
            itype = PyLong_AsLongAndOverflow(vtype, &overflow)  # vtype is an exact int
        if vtype is None or overflow or not C_CONNECT <= itype <= C_CONNECT_ERROR:
            raise _ParseError(ERR_INVALID_TYPE.format(_short(ptype)))
        nsp = (<dict>obj).get("nsp", _UNDEFINED)
        if type(nsp) is not str:
            raise _ParseError(ERR_INVALID_NSP.format(_short(nsp)))
        pid = (<dict>obj).get("id", _UNDEFINED)
        if pid is _UNDEFINED:
            pid = None
        else:
            iid = _as_int(pid)
            if iid is None or not 0 <= iid <= _MAX_ACK_ID:
                raise _ParseError(ERR_INVALID_ACK_ID.format(_short(pid)))
            pid = iid
        data = (<dict>obj).get("data", _UNDEFINED)
        has_payload = data is not _UNDEFINED
        if not has_payload:
            data = None
        elif undefined:
            top = 0
            for value in (<dict>obj).values():
                if value is _UNDEFINED:
                    top += 1
            if undefined > top:
                data = _replace_undefined(data)  # some undefined sits inside the payload
        problem = _payload_error(itype, data, has_payload)
        if problem is not None:
            raise _ParseError(ERR_INVALID_PAYLOAD.format(problem))
        return _Packet(itype, nsp, data, pid)
