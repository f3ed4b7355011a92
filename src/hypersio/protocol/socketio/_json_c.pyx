# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Socket.IO v5 packets in the JSON text format (socket.io-parser 4.2.7 compatible), compiled.

Twin of ``_json_py`` (same API, identical output; the tests hold both to that). What makes
this one fast: the packet text is assembled in one allocation straight from orjson's bytes
(no intermediate str), the header is parsed with direct code-point reads, binary is found by a
cheap scan of the top-level arguments (nested binary is caught by orjson refusing bytes), and
decoded Packets are filled in C without argument parsing. The rare slow paths (non-str dict
keys, huge ints, lone surrogates) reuse the pure twin's helpers. ``__all__`` comes from the pure
twin, the packet vocabulary from ``packet``, every error text from ``errors``: this module keeps
only typed copies of the numbers it compares in C.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.long cimport PyLong_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

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
    ERR_INVALID_PAYLOAD,
    ERR_NO_ATTACHMENTS_DASH,
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
from hypersio.protocol.socketio._json_py import __all__
from hypersio.protocol.socketio._json_py import _FIRST_DIGIT, _LAST_DIGIT, _MAX_ATTACHMENTS_DIGITS
from hypersio.protocol.socketio._json_py import _dumps_slow, _loads_after_error

cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object o)
    int PyUnicode_KIND(object o)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index)
    bint PyUnicode_IS_ASCII(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    const char* PyUnicode_AsUTF8AndSize(object o, Py_ssize_t* size) except NULL
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    object PyUnicode_Substring(object o, Py_ssize_t start, Py_ssize_t end)
    # Declared without error checks: callers test the value and clear the error themselves.
    long PyLong_AsLong(object o)
    long long PyLong_AsLongLong(object o)
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow)
    void PyErr_Clear()

cdef enum:
    # Arguments lists whose JSON fits here can take the scalar fast path of _encode.
    SIMPLE_BODY_MAX = 256

# Typed copies of the packet types for C comparisons (their values come from ``packet``).
cdef int C_CONNECT = CONNECT
cdef int C_DISCONNECT = DISCONNECT
cdef int C_EVENT = EVENT
cdef int C_ACK = ACK
cdef int C_CONNECT_ERROR = CONNECT_ERROR
cdef int C_BINARY_EVENT = BINARY_EVENT
cdef int C_BINARY_ACK = BINARY_ACK
cdef int C_BINARY_SHIFT = BINARY_SHIFT
cdef Py_UCS4 C_FIRST_DIGIT = _FIRST_DIGIT
cdef Py_UCS4 C_LAST_DIGIT = _LAST_DIGIT

cdef long long C_MAX_ACK_ID = MAX_ACK_ID
cdef Py_ssize_t C_MAX_ACK_ID_DIGITS = MAX_ACK_ID_DIGITS
cdef Py_ssize_t C_MAX_ATTACHMENTS_DIGITS = _MAX_ATTACHMENTS_DIGITS

cdef tuple C_TYPE_NAMES = TYPE_NAMES
cdef object _dumps = orjson.dumps
cdef object _loads = orjson.loads
cdef object _JSONDecodeError = orjson.JSONDecodeError
cdef frozenset _RESERVED = RESERVED_EVENTS
# What _maybe_reserved tests before the set lookup, derived from RESERVED_EVENTS: the shortest and
# longest reserved name, and a bit per ASCII code point a reserved name starts with.
cdef Py_ssize_t _RESERVED_MIN_LEN = min(len(name) for name in RESERVED_EVENTS)
cdef Py_ssize_t _RESERVED_MAX_LEN = max(len(name) for name in RESERVED_EVENTS)
cdef uint64_t _RESERVED_FIRST[2]
_RESERVED_FIRST[0] = 0
_RESERVED_FIRST[1] = 0
cdef Py_ssize_t _first
for _name in RESERVED_EVENTS:
    _first = ord(_name[0])
    assert _first < 128  # the bit table covers ASCII only
    _RESERVED_FIRST[_first >> 6] |= (<uint64_t>1) << (_first & 63)
del _name


@cython.freelist(64)
@cython.final
cdef class Packet:
    """One Socket.IO packet: what an Encoder turns into wire chunks and a Decoder returns.

    ``type`` is one of the constants CONNECT..BINARY_ACK, ``nsp`` the namespace, ``data`` the
    JSON-able payload (``None`` = no payload), ``id`` the ack id or ``None``; ``attachments`` is
    the number of binary attachments the packet had on the wire (informational, not compared).
    """

    # Fields (type, nsp, data, id, attachments) are declared in _json_c.pxd.

    def __init__(self, int type, object nsp="/", object data=None, object id=None):
        self.type = type
        self.nsp = nsp
        self.data = data
        self.id = id
        self.attachments = 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Packet):
            return NotImplemented
        cdef Packet o = <Packet>other
        return (
            self.type == o.type
            and self.nsp == o.nsp
            and self.id == o.id
            and self.data == o.data
        )

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        if result is NotImplemented:
            return result
        return not result

    __hash__ = None

    def __repr__(self) -> str:
        name = C_TYPE_NAMES[self.type] if C_CONNECT <= self.type <= C_BINARY_ACK else self.type
        return f"Packet(type={name}, nsp={self.nsp!r}, data={self.data!r}, id={self.id!r})"

    def __reduce__(self):
        return (_rebuild, (self.type, self.nsp, self.data, self.id, self.attachments))


def _rebuild(int type, nsp, data, id, Py_ssize_t attachments) -> Packet:
    """Unpickle helper for Packet."""
    cdef Packet p = Packet.__new__(Packet)
    p.type = type
    p.nsp = nsp
    p.data = data
    p.id = id
    p.attachments = attachments
    return p


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------


cdef inline bint _is_ascii(const char* s, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i = 0
    cdef uint64_t word
    while i + 8 <= n:
        memcpy(&word, s + i, 8)
        if word & 0x8080808080808080ULL:
            return False
        i += 8
    while i < n:
        if <unsigned char>s[i] & 0x80:
            return False
        i += 1
    return True


cdef inline Py_ssize_t _write_uint(char* out, unsigned long long value) noexcept:
    """Decimal digits of value at out; returns how many were written (at most 20)."""
    cdef char tmp[24]
    cdef Py_ssize_t n = 0, k
    if value == 0:
        out[0] = 48
        return 1
    while value:
        tmp[n] = <char>(48 + value % 10)
        value //= 10
        n += 1
    for k in range(n):
        out[k] = tmp[n - 1 - k]
    return n


cdef object _assemble(int ptype, Py_ssize_t attachments, object nsp, object pid, const char* body,
                      Py_ssize_t body_len):
    """The packet text ``<type>[<n>-][<nsp>,][<id>]<body>`` as one str, built in one allocation."""
    cdef char head[48]
    cdef char tail[24]
    cdef Py_ssize_t head_len = 1, tail_len = 0, nsp_len = 0, total, pos
    cdef const char* nsp_utf8 = NULL
    cdef bint ascii = True
    cdef unsigned long long id_value
    cdef long long signed_id
    cdef char* buf
    head[0] = <char>(48 + ptype)
    if attachments:
        head_len += _write_uint(head + 1, <unsigned long long>attachments)
        head[head_len] = 45  # '-'
        head_len += 1
    if nsp is not None and type(nsp) is not str:
        raise TypeError(ERR_NSP_TYPE.format(type(nsp).__name__))
    if nsp is not None and PyUnicode_GET_LENGTH(nsp) and not (
        PyUnicode_GET_LENGTH(nsp) == 1 and PyUnicode_READ(PyUnicode_KIND(nsp), PyUnicode_DATA(nsp), 0) == 47
    ):
        nsp_utf8 = PyUnicode_AsUTF8AndSize(nsp, &nsp_len)
        ascii = PyUnicode_IS_ASCII(nsp)
    if pid is not None:
        if type(pid) is not int and (not isinstance(pid, int) or isinstance(pid, bool)):
            raise TypeError(ERR_ACK_ID_TYPE.format(type(pid).__name__))
        signed_id = PyLong_AsLongLong(pid)  # -1 with OverflowError set when out of range
        if not 0 <= signed_id <= C_MAX_ACK_ID:
            PyErr_Clear()
            raise ValueError(ERR_ACK_ID_RANGE.format(pid))
        id_value = <unsigned long long>signed_id
        tail_len = _write_uint(tail, id_value)
    if body_len and ascii:
        ascii = _is_ascii(body, body_len)
    total = head_len + (nsp_len + 1 if nsp_utf8 != NULL else 0) + tail_len + body_len
    if ascii:
        result = PyUnicode_New(total, 127)
        buf = <char*>PyUnicode_DATA(result)
    else:
        buf = <char*>PyMem_Malloc(total)
        if buf == NULL:
            raise MemoryError()
    pos = head_len
    memcpy(buf, head, head_len)
    if nsp_utf8 != NULL:
        memcpy(buf + pos, nsp_utf8, nsp_len)
        pos += nsp_len
        buf[pos] = 44  # ','
        pos += 1
    if tail_len:
        memcpy(buf + pos, tail, tail_len)
        pos += tail_len
    if body_len:
        memcpy(buf + pos, body, body_len)
    if ascii:
        return result
    try:
        return PyUnicode_DecodeUTF8(buf, total, NULL)
    finally:
        PyMem_Free(buf)


cdef inline bint _is_binary(object obj) noexcept:
    cdef type t = type(obj)
    return t is bytes or t is bytearray or t is memoryview


cdef object _deconstruct(object obj, list buffers):
    """Copy of obj with every binary value replaced by a placeholder appended to buffers."""
    cdef type t = type(obj)
    if t is bytes:
        buffers.append(obj)
        return {"_placeholder": True, "num": len(buffers) - 1}
    if t is str or t is int or t is float or obj is None or t is bool:
        return obj
    if t is list or t is tuple:
        return [_deconstruct(item, buffers) for item in obj]
    if t is dict:
        return {key: _deconstruct(value, buffers) for key, value in (<dict>obj).items()}
    if isinstance(obj, (bytes, bytearray, memoryview)):
        buffers.append(bytes(obj))
        return {"_placeholder": True, "num": len(buffers) - 1}
    if isinstance(obj, (list, tuple)):
        return [_deconstruct(item, buffers) for item in obj]
    if isinstance(obj, dict):
        return {key: _deconstruct(value, buffers) for key, value in obj.items()}
    return obj


cdef bint _has_binary(object obj) except -1:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return True
    if isinstance(obj, (list, tuple)):
        for item in obj:
            if _has_binary(item):
                return True
        return False
    if isinstance(obj, dict):
        for item in (<dict>obj).values() if type(obj) is dict else obj.values():
            if _has_binary(item):
                return True
    return False


cdef object _encode_binary(int ptype, object nsp, object data, object pid):
    """EVENT/ACK with binary somewhere in data: placeholders, attachments after the text."""
    cdef list buffers = []
    stripped = _deconstruct(data, buffers)
    if not buffers:
        return None
    ptype = C_BINARY_EVENT if ptype == C_EVENT or ptype == C_BINARY_EVENT else C_BINARY_ACK
    try:
        body = _dumps(stripped)
    except TypeError:
        body = _dumps_slow(stripped).encode("utf-8")
    cdef list out = [_assemble(ptype, len(buffers), nsp, pid, PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body))]
    out.extend(buffers)
    return out


def encode_packet(type, nsp="/", data=None, id=None) -> list:
    """Encode one packet straight from its fields: ``[str, *bytes]`` as socket.io-parser does.

    The server's emit path calls this to skip building a Packet. EVENT/ACK data holding
    bytes/bytearray/memoryview (at any depth of lists, tuples and dicts) is sent as
    BINARY_EVENT/BINARY_ACK with placeholders and the binary parts as extra list items.
    Raises TypeError/ValueError for something that cannot be encoded; never mutates ``data``.
    """
    return _encode(_packet_type(type), nsp, data, id)


cdef int _packet_type(object value) except -1:
    """``value`` as a C packet type; ValueError (the pure twin's text) for anything else."""
    cdef long v
    if PyLong_CheckExact(value) or (isinstance(value, int) and not isinstance(value, bool)):
        v = PyLong_AsLong(value)  # -1 with OverflowError set for a huge int
        if C_CONNECT <= v <= C_BINARY_ACK:
            return v
        PyErr_Clear()
    raise ValueError(ERR_UNKNOWN_TYPE.format(repr(value)))


cdef Py_ssize_t _dumps_scalars(list items, char* out) except -2:
    """JSON of a list of small scalars written at ``out`` (at most SIMPLE_BODY_MAX bytes), or -1.

    Acks and most events carry a few ints, short ASCII strings, booleans or None; for those this
    writes exactly what orjson would (compact separators, the same digits), without orjson's
    1 KiB output buffer (a libc malloc and realloc per call). Anything else (floats, containers,
    escapes, non-ASCII, huge ints, subclasses) answers -1 and takes the general path.
    """
    cdef Py_ssize_t pos = 1, n, k
    cdef Py_ssize_t count = len(items)
    cdef long long value
    cdef int overflow
    cdef const unsigned char* chars
    cdef unsigned char c
    cdef type t
    out[0] = 91  # '['
    for k in range(count):
        if pos + 24 > SIMPLE_BODY_MAX:
            return -1
        if k:
            out[pos] = 44  # ','
            pos += 1
        item = items[k]
        t = type(item)
        if t is int:
            value = PyLong_AsLongLongAndOverflow(item, &overflow)
            if overflow:
                return -1
            if value < 0:
                if value == -9223372036854775807 - 1:
                    return -1
                out[pos] = 45  # '-'
                pos += 1
                value = -value
            pos += _write_uint(out + pos, <unsigned long long>value)
        elif t is str:
            if not PyUnicode_IS_ASCII(item):
                return -1
            n = PyUnicode_GET_LENGTH(item)
            if pos + n + 3 > SIMPLE_BODY_MAX:
                return -1
            chars = <const unsigned char*>PyUnicode_DATA(item)
            out[pos] = 34  # '"'
            pos += 1
            while n:
                c = chars[0]
                if c < 32 or c == 34 or c == 92 or c == 127:
                    return -1  # would need an escape (or orjson's choice about DEL): general path
                out[pos] = <char>c
                pos += 1
                chars += 1
                n -= 1
            out[pos] = 34
            pos += 1
        elif item is True:
            memcpy(out + pos, b"true", 4)
            pos += 4
        elif item is False:
            memcpy(out + pos, b"false", 5)
            pos += 5
        elif item is None:
            memcpy(out + pos, b"null", 4)
            pos += 4
        else:
            return -1
    out[pos] = 93  # ']'
    return pos + 1


cdef list _encode(int ptype, object nsp, object data, object pid):
    """``encode_packet`` for a checked C packet type (the dispatch cimports it to answer acks)."""
    cdef bytes body
    cdef type t
    cdef char simple[SIMPLE_BODY_MAX]
    cdef Py_ssize_t simple_len
    if (ptype == C_EVENT or ptype == C_ACK) and type(data) is list:
        simple_len = _dumps_scalars(<list>data, simple)
        if simple_len >= 0:
            return [_assemble(ptype, 0, nsp, pid, simple, simple_len)]
    if data is None:
        if ptype >= C_BINARY_EVENT:
            ptype -= C_BINARY_SHIFT  # a binary packet without attachments is not valid on the wire
        return [_assemble(ptype, 0, nsp, pid, NULL, 0)]
    if ptype == C_EVENT or ptype == C_ACK or ptype >= C_BINARY_EVENT:
        # Binary is nearly always a top-level argument: catch that without a failed dumps.
        t = type(data)
        if t is list:
            for item in <list>data:
                if _is_binary(item):
                    return _encode_binary(ptype, nsp, data, pid)
        elif t is tuple:
            for item in <tuple>data:
                if _is_binary(item):
                    return _encode_binary(ptype, nsp, data, pid)
        elif _is_binary(data):
            return _encode_binary(ptype, nsp, data, pid)
    try:
        body = _dumps(data)
    except TypeError:
        body = None
    if body is not None:
        if ptype >= C_BINARY_EVENT:
            ptype -= C_BINARY_SHIFT
        return [_assemble(ptype, 0, nsp, pid, PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body))]
    if ptype == C_EVENT or ptype == C_ACK or ptype >= C_BINARY_EVENT:
        out = _encode_binary(ptype, nsp, data, pid)
        if out is not None:
            return out
        if ptype >= C_BINARY_EVENT:
            ptype -= C_BINARY_SHIFT
    elif _has_binary(data):
        raise TypeError(ERR_BINARY_NOT_EVENT.format(C_TYPE_NAMES[ptype]))
    body = _dumps_slow(data).encode("utf-8", "surrogatepass")
    return [_assemble(ptype, 0, nsp, pid, PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body))]


@cython.final
cdef class Encoder:
    """Turns Packets into wire chunks; stateless, one can serve every connection."""

    def encode(self, object packet) -> list:
        """Return ``[str, *bytes]``: the packet text and its binary attachments, if any."""
        if isinstance(packet, Packet):
            p = <Packet>packet
            return _encode(p.type if C_CONNECT <= p.type <= C_BINARY_ACK else _packet_type(p.type), p.nsp, p.data, p.id)
        return _encode(_packet_type(packet.type), packet.nsp, packet.data, packet.id)


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


cdef inline bint _maybe_reserved(str name) noexcept:
    """Cheap pre-check before the set lookup: hashing a fresh event name costs more than this.
    False when ``name`` cannot be one of RESERVED_EVENTS (its length or first character)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(name)
    cdef uint64_t c  # not Py_UCS4: Cython would shift that as a one-character str
    if n < _RESERVED_MIN_LEN or n > _RESERVED_MAX_LEN:
        return False
    c = <uint64_t>PyUnicode_READ(PyUnicode_KIND(name), PyUnicode_DATA(name), 0)
    return c < 128 and (_RESERVED_FIRST[c >> 6] >> (c & 63)) & 1


cdef str _payload_error(int ptype, object data, bint has_payload):
    """Why data is not a valid payload for ptype (the socket.io-parser rules), or None."""
    cdef type t = type(data)
    if ptype == C_CONNECT:
        if has_payload and t is not dict:
            return PAYLOAD_CONNECT
    elif ptype == C_DISCONNECT:
        if has_payload:
            return PAYLOAD_DISCONNECT
    elif ptype == C_CONNECT_ERROR:
        if not has_payload or (t is not str and t is not dict):
            return PAYLOAD_CONNECT_ERROR
    elif ptype == C_EVENT or ptype == C_BINARY_EVENT:
        if t is not list or not data:
            return PAYLOAD_EVENT
        first = (<list>data)[0]
        t = type(first)
        if t is str:
            if _maybe_reserved(<str>first) and first in _RESERVED:
                return PAYLOAD_RESERVED_EVENT.format(first)
        elif t is not int and t is not float:
            return PAYLOAD_EVENT_NAME
    elif t is not list:
        return PAYLOAD_ACK
    return None


cdef object _resolve(object value, list buffers):
    """The attachment a placeholder dict stands for, or value itself when it is no placeholder."""
    if (<dict>value).get("_placeholder") is True:
        num = (<dict>value).get("num")
        if type(num) is not int or not 0 <= num < len(buffers):
            raise ParseError(ERR_PLACEHOLDER.format(num, len(buffers)))
        return buffers[num]
    return value


cdef int _reconstruct(object root, list buffers) except -1:
    """Replace placeholders below root in place (root is a fresh list or dict we own).

    The pure twin's walk, step for step: iterative (input depth is hostile), every placeholder of
    a container resolved before the containers below it, so the first bad placeholder reported
    is the same one in both twins.
    """
    cdef list stack = [root]
    cdef Py_ssize_t i
    cdef type t
    while stack:
        node = stack.pop()
        if type(node) is list:
            for i in range(len(<list>node)):
                item = (<list>node)[i]
                t = type(item)
                if t is dict:
                    new = _resolve(item, buffers)
                    if new is not item:
                        (<list>node)[i] = new
                    else:
                        stack.append(item)
                elif t is list:
                    stack.append(item)
        elif type(node) is dict:
            for key, item in (<dict>node).items():
                t = type(item)
                if t is dict:
                    new = _resolve(item, buffers)
                    if new is not item:
                        (<dict>node)[key] = new  # same key: no resize, iteration stays valid
                    else:
                        stack.append(item)
                elif t is list:
                    stack.append(item)
    return 0


cdef Packet _decode_text(str text, Py_ssize_t max_attachments):
    """Decode one packet text (no attachments joined yet); raise ParseError if it is invalid."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* d = PyUnicode_DATA(text)
    cdef long c
    cdef int ptype
    cdef Py_ssize_t i = 1, j, start, attachments = 0
    cdef long long pid_value = 0
    cdef bint has_payload
    if n == 0:
        raise ParseError(ERR_EMPTY_PACKET)
    c = PyUnicode_READ(kind, d, 0)
    if c < C_FIRST_DIGIT or c > C_LAST_DIGIT:
        raise ParseError(ERR_UNKNOWN_TYPE.format(repr(text[0])))
    ptype = c - 48  # the digit's value
    if ptype >= C_BINARY_EVENT:
        j = 1
        while j < n and PyUnicode_READ(kind, d, j) != 45:
            j += 1
        if j == n:
            raise ParseError(ERR_NO_ATTACHMENTS_DASH)
        if j == 1:
            raise ParseError(ERR_ATTACHMENTS_COUNT.format(""))
        for i in range(1, j):
            c = PyUnicode_READ(kind, d, i)
            if c < 48 or c > 57:
                raise ParseError(ERR_ATTACHMENTS_COUNT.format(text[1:min(j, 21)]))
        if j - 1 > C_MAX_ATTACHMENTS_DIGITS:
            raise ParseError(ERR_ATTACHMENTS_DIGITS.format(max_attachments))
        for i in range(1, j):
            attachments = attachments * 10 + (<long>PyUnicode_READ(kind, d, i) - 48)
        if attachments < 1:
            raise ParseError(ERR_ATTACHMENTS_COUNT.format(attachments))
        if attachments > max_attachments:
            raise ParseError(ERR_TOO_MANY_ATTACHMENTS.format(attachments, max_attachments))
        i = j + 1
    nsp = "/"
    if i < n and PyUnicode_READ(kind, d, i) == 47:
        start = i
        while i < n and PyUnicode_READ(kind, d, i) != 44:
            i += 1
        nsp = PyUnicode_Substring(text, start, i)
        if i < n:
            i += 1
    pid = None
    j = i
    while j < n:
        c = PyUnicode_READ(kind, d, j)
        if c < 48 or c > 57:
            break
        if j - i >= C_MAX_ACK_ID_DIGITS:
            raise ParseError(ERR_ACK_ID_TOO_LONG)
        pid_value = pid_value * 10 + (c - 48)
        j += 1
    if j > i:
        if pid_value > C_MAX_ACK_ID:
            raise ParseError(ERR_ACK_ID_TOO_LARGE)
        pid = pid_value
        i = j
    if i < n:
        c = PyUnicode_READ(kind, d, i)
        if c == 32 or c == 9 or c == 10 or c == 13:
            # socket.io-parser would read this whitespace as an ack id (Number(" ") == 0).
            raise ParseError(ERR_WHITESPACE_PAYLOAD)
        payload = text if i == 0 else PyUnicode_Substring(text, i, n)
        try:
            data = _loads(payload)
        except _JSONDecodeError as exc:
            data = _loads_after_error(payload, exc)
        has_payload = True
    else:
        data = None
        has_payload = False
    problem = _payload_error(ptype, data, has_payload)
    if problem is not None:
        raise ParseError(ERR_INVALID_PAYLOAD.format(problem))
    cdef Packet packet = Packet.__new__(Packet)
    packet.type = ptype
    packet.nsp = nsp
    packet.data = data
    packet.id = pid
    packet.attachments = attachments
    return packet


@cython.final
cdef class Decoder:
    """Reassembles packets from wire chunks, one Decoder per connection (it keeps state).

    ``add(str)`` takes a packet text, ``add(bytes)`` the next binary attachment; the result is
    the complete Packet, or None while attachments are still due. Anything malformed raises
    ParseError and resets the decoder, so the caller can close the connection cleanly.
    """

    # Fields (max_attachments, _pending, _buffers) are declared in _json_c.pxd.

    def __init__(self, Py_ssize_t max_attachments=10) -> None:
        self.max_attachments = max_attachments
        self._pending = None
        self._buffers = None

    def reset(self) -> None:
        """Forget a half-received binary packet (after an error or when the connection closes)."""
        self._pending = None
        self._buffers = None

    cpdef object add(self, object chunk):
        """Feed one wire chunk; return the Packet it completes, else None. Raises ParseError."""
        cdef Packet packet
        cdef type t = type(chunk)
        if t is str:
            if self._pending is not None:
                missing = self._pending.attachments - len(self._buffers)
                self._pending = None
                self._buffers = None
                raise ParseError(ERR_TEXT_WHILE_BINARY.format(missing))
            packet = _decode_text(<str>chunk, self.max_attachments)
            if packet.type < C_BINARY_EVENT:
                return packet
            packet.type -= C_BINARY_SHIFT  # delivered as EVENT/ACK, as socket.io-parser does
            self._pending = packet
            self._buffers = []
            return None
        if t is bytes or t is bytearray or t is memoryview or isinstance(chunk, (bytes, bytearray, memoryview)):
            packet = self._pending
            if packet is None:
                raise ParseError(ERR_BINARY_NOT_PENDING)
            self._buffers.append(chunk if t is bytes else bytes(chunk))
            if len(self._buffers) < packet.attachments:
                return None
            buffers = self._buffers
            self._pending = None
            self._buffers = None
            data = packet.data
            t = type(data)
            if t is dict:
                new = _resolve(data, buffers)
                if new is not data:
                    packet.data = new
                    return packet
            if t is dict or t is list:
                _reconstruct(data, buffers)
            return packet
        if isinstance(chunk, str):
            return self.add(str(chunk))
        self._pending = None
        self._buffers = None
        raise ParseError(ERR_CHUNK_TYPE.format(t.__name__))
