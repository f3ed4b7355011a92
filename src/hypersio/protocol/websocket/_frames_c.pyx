# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""RFC 6455 WebSocket frames, compiled twin of ``_frames_py`` (same API, same bytes).

Why C here: every message a server sends or receives crosses this module. Masking XORs whole
64-bit words, frames are written straight into a new bytes object, and the parser reads headers
from the received bytes without copying them into Python integers first. Constants and error
texts come from ``constants``; this module keeps typed copies of the numbers it compares in C.
"""

import base64
import codecs
import hashlib
import os
import re
import zlib

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy, memmove

from hypersio.exceptions import ParseError, WebSocketError
from hypersio.protocol.engineio import constants as _eio_constants
from hypersio.protocol.websocket import constants
from hypersio.protocol.websocket.constants import *
from hypersio.protocol.websocket.constants import (
    ERR_CLOSE_CODE,
    ERR_CLOSE_ONE_BYTE,
    ERR_CLOSE_REASON_UTF8,
    ERR_CODE_NOT_SENDABLE,
    ERR_CONTROL_FRAGMENTED,
    ERR_CONTROL_FRAGMENTED_IN,
    ERR_CONTROL_TOO_BIG,
    ERR_CONTROL_TOO_BIG_IN,
    ERR_HANDSHAKE_KEY,
    ERR_INFLATE,
    ERR_KEY_SIZE,
    ERR_LENGTH_TOP_BIT,
    ERR_MASKED_FROM_SERVER,
    ERR_NEGATIVE_SIZE,
    ERR_NESTED_MESSAGE,
    ERR_NOT_BYTES,
    ERR_ORPHAN_CONTINUATION,
    ERR_REASON_TOO_LONG,
    ERR_REASON_WITHOUT_STATUS,
    ERR_RSV,
    ERR_RSV1_BUILD,
    ERR_RSV1_FRAME,
    ERR_TEXT_UTF8,
    ERR_TOO_BIG,
    ERR_TOO_BIG_INFLATED,
    ERR_UNKNOWN_OPCODE,
    ERR_UNMASKED_FROM_CLIENT,
)

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL
    # Declared without error checks: only called on an exact int, where it cannot fail.
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow)

__all__ = [
    "build_frame",
    "message_frame",
    "mask_payload",
    "build_close_payload",
    "parse_close_payload",
    "is_valid_close_code",
    "accept_key",
    "FrameParser",
]
__all__ += constants.__all__

# Typed copies of the constants for C comparisons (their values come from ``constants``).
cdef int C_OP_CONTINUATION = constants.OP_CONTINUATION
cdef int C_OP_TEXT = constants.OP_TEXT
cdef int C_OP_BINARY = constants.OP_BINARY
cdef int C_OP_CLOSE = constants.OP_CLOSE
cdef int C_OP_PONG = constants.OP_PONG
cdef unsigned char C_RSV1 = constants.RSV1
cdef bytes C_DEFLATE_TAIL = constants.DEFLATE_TAIL
cdef int C_INFLATE_WINDOW_BITS = constants.INFLATE_WINDOW_BITS
cdef int C_CLOSE_NO_STATUS = constants.CLOSE_NO_STATUS
cdef Py_ssize_t C_MAX_CONTROL = constants.MAX_CONTROL_PAYLOAD
cdef Py_ssize_t C_MASK_KEY_BATCH = constants.MASK_KEY_BATCH
cdef long long C_CLOSE_REGISTERED_MIN = constants.CLOSE_REGISTERED_MIN
cdef long long C_CLOSE_REGISTERED_MAX = constants.CLOSE_REGISTERED_MAX
cdef long long C_CLOSE_PRIVATE_MIN = constants.CLOSE_PRIVATE_MIN
cdef long long C_CLOSE_PRIVATE_MAX = constants.CLOSE_PRIVATE_MAX
# Bit k set: the registered code CLOSE_REGISTERED_MIN + k may be sent (CLOSE_NOT_SENDABLE clear).
cdef uint32_t C_REGISTERED_SENDABLE = 0
assert C_CLOSE_REGISTERED_MAX - C_CLOSE_REGISTERED_MIN < 32  # the range fits the bit set
for _code in range(constants.CLOSE_REGISTERED_MIN, constants.CLOSE_REGISTERED_MAX + 1):
    if _code not in constants.CLOSE_NOT_SENDABLE:
        C_REGISTERED_SENDABLE |= (<uint32_t>1) << (_code - constants.CLOSE_REGISTERED_MIN)
del _code
# The Engine.IO type digit message_frame writes in front of a text message ("4").
cdef unsigned char C_EIO_MESSAGE_DIGIT = ord(str(_eio_constants.MESSAGE))
assert len(str(_eio_constants.MESSAGE)) == 1  # message_frame reserves one byte for it

cdef enum:
    # Text frames up to this size are unmasked into a scratch buffer and decoded from it, saving a
    # bytes object per message; larger ones go through a temporary bytes object.
    SCRATCH_SIZE = 16384
    # A receive buffer that grew past this (a large frame arrived in pieces) is freed once drained.
    KEEP_BUFFER = 262144


# One scratch buffer for the whole process, not one per parser: a per-parser buffer cost 16 KiB of
# RSS on every idle connection. Sharing is safe because it is only used between unmasking and the
# UTF-8 decode of one frame, with the GIL held and no Python code running in between.
cdef unsigned char _SCRATCH[SCRATCH_SIZE]


cdef inline bint _known_opcode(int opcode) noexcept:
    return C_OP_CONTINUATION <= opcode <= C_OP_BINARY or C_OP_CLOSE <= opcode <= C_OP_PONG


cdef inline void _xor_mask(unsigned char* dst, const unsigned char* src, Py_ssize_t n,
                           const unsigned char* key) noexcept nogil:
    # The key repeated twice in memory order; both halves are equal, so byte order is irrelevant.
    cdef uint32_t k32
    cdef uint64_t k64, word
    cdef Py_ssize_t i = 0
    memcpy(&k32, key, 4)
    k64 = (<uint64_t>k32 << 32) | k32
    while i + 8 <= n:
        memcpy(&word, src + i, 8)  # memcpy: unaligned-safe, compiles to one load
        word ^= k64
        memcpy(dst + i, &word, 8)
        i += 8
    while i < n:
        dst[i] = src[i] ^ key[i & 3]
        i += 1


# Masking keys not handed out yet: a slice of os.urandom output, consumed 4 bytes at a time (the
# pure twin's algorithm; RFC 6455 10.3 wants them unpredictable, a syscall per frame costs more
# than the frame).
cdef bytes _mask_keys = b""
cdef Py_ssize_t _mask_key_pos = 0


cdef inline const unsigned char* _next_mask_key() except NULL:
    """Where the next fresh 4-byte masking key lies (valid until the next call)."""
    global _mask_keys, _mask_key_pos
    cdef const unsigned char* key
    if _mask_key_pos >= PyBytes_GET_SIZE(_mask_keys):
        _mask_keys = os.urandom(C_MASK_KEY_BATCH)
        _mask_key_pos = 0
    key = <const unsigned char*>PyBytes_AS_STRING(_mask_keys) + _mask_key_pos
    _mask_key_pos += 4
    return key


def _drop_mask_keys() -> None:
    """Forget the keys not handed out yet: a forked child must never reuse its parent's."""
    global _mask_keys, _mask_key_pos
    _mask_keys = b""
    _mask_key_pos = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_mask_keys)


cdef inline bytes _as_bytes(object data):
    if type(data) is bytes:
        return <bytes>data
    if isinstance(data, str):
        raise TypeError(ERR_NOT_BYTES.format("str"))
    return bytes(memoryview(data))  # bytes(int) would be that many zero bytes: not bytes-like


def mask_payload(data, key) -> bytes:
    """XOR ``data`` with the 4-byte masking ``key`` (RFC 6455 section 5.3).

    The same operation masks an outgoing client frame and unmasks an incoming one.
    """
    cdef bytes src = _as_bytes(data)
    cdef bytes k = _as_bytes(key)
    if PyBytes_GET_SIZE(k) != 4:
        raise ValueError(ERR_KEY_SIZE)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(src)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    _xor_mask(<unsigned char*>PyBytes_AS_STRING(out), <const unsigned char*>PyBytes_AS_STRING(src),
              n, <const unsigned char*>PyBytes_AS_STRING(k))
    return out


def build_frame(int opcode, payload, bint mask=False, bint fin=True, *, mask_key=None, bint rsv1=False) -> bytes:
    """Build one complete frame ready for ``transport.write``.

    ``str`` payloads are UTF-8 encoded. A server sends unmasked frames (``mask=False``, the
    broadcast fast path: one allocation, one memcpy); a client must mask (``mask=True``: a fresh
    random key per frame). ``mask_key`` forces a given key and implies masking; tests use it to get
    reproducible bytes. ``fin=False`` starts or continues a fragmented message. ``rsv1=True``
    marks the payload as a deflated message (permessage-deflate, RFC 7692; only on a text or
    binary frame, and only when the connection negotiated it). Raises ValueError for an unknown
    opcode, a fragmented or oversized (>125 bytes) control frame, RSV1 on a control or
    continuation frame, or a key that is not 4 bytes.
    """
    cdef const char* src
    cdef Py_ssize_t n, header
    cdef unsigned char key[4]
    cdef bytes holder  # keeps the payload bytes alive while src points into them
    cdef bytes key_bytes
    if isinstance(payload, str):
        src = PyUnicode_AsUTF8AndSize(payload, &n)
    else:
        holder = _as_bytes(payload)
        src = PyBytes_AS_STRING(holder)
        n = PyBytes_GET_SIZE(holder)
    if not _known_opcode(opcode):
        raise ValueError(ERR_UNKNOWN_OPCODE.format(opcode))
    if opcode >= C_OP_CLOSE:
        if n > C_MAX_CONTROL:
            raise ValueError(ERR_CONTROL_TOO_BIG)
        if not fin:
            raise ValueError(ERR_CONTROL_FRAGMENTED)
    if rsv1 and opcode != C_OP_TEXT and opcode != C_OP_BINARY:
        raise ValueError(ERR_RSV1_BUILD)
    if mask_key is not None:
        key_bytes = _as_bytes(mask_key)
        if PyBytes_GET_SIZE(key_bytes) != 4:
            raise ValueError(ERR_KEY_SIZE)
        memcpy(key, PyBytes_AS_STRING(key_bytes), 4)
        mask = True
    elif mask:
        memcpy(key, _next_mask_key(), 4)
    if n < 126:
        header = 2
    elif n < 65536:
        header = 4
    else:
        header = 10
    if mask:
        header += 4
    cdef bytes out = PyBytes_FromStringAndSize(NULL, header + n)
    cdef unsigned char* p = <unsigned char*>PyBytes_AS_STRING(out)
    cdef unsigned char mbit = 0x80 if mask else 0
    cdef uint64_t length = <uint64_t>n
    cdef int i
    p[0] = <unsigned char>((0x80 if fin else 0) | (C_RSV1 if rsv1 else 0) | opcode)
    if n < 126:
        p[1] = mbit | <unsigned char>n
        p += 2
    elif n < 65536:
        p[1] = mbit | 126
        p[2] = <unsigned char>(n >> 8)
        p[3] = <unsigned char>(n & 0xFF)
        p += 4
    else:
        p[1] = mbit | 127
        for i in range(8):
            p[2 + i] = <unsigned char>((length >> (56 - 8 * i)) & 0xFF)
        p += 10
    if mask:
        memcpy(p, key, 4)
        _xor_mask(p + 4, <const unsigned char*>src, n, key)
    else:
        memcpy(p, src, n)
    return out


cpdef bytes message_frame(object data):
    """The unmasked server frame carrying one Engine.IO message: a text frame of ``"4" + data``
    for ``str``, a binary frame for bytes-like ``data``.

    The per-message send path of every WebSocket session (``Outlet.send`` cimports it): the
    Engine.IO type byte is written in place, so a text message costs one allocation and one
    memcpy, not a string concatenation followed by a frame build.
    """
    cdef const char* src
    cdef Py_ssize_t n, total, header
    cdef Py_ssize_t prefix = 0
    cdef unsigned char first
    cdef bytes holder  # keeps a converted payload alive while src points into it
    if isinstance(data, str):
        src = PyUnicode_AsUTF8AndSize(data, &n)
        first = 0x80 | C_OP_TEXT  # FIN + text
        prefix = 1
    else:
        holder = _as_bytes(data)
        src = PyBytes_AS_STRING(holder)
        n = PyBytes_GET_SIZE(holder)
        first = 0x80 | C_OP_BINARY  # FIN + binary
    total = n + prefix
    if total < 126:
        header = 2
    elif total < 65536:
        header = 4
    else:
        header = 10
    cdef bytes out = PyBytes_FromStringAndSize(NULL, header + total)
    cdef unsigned char* p = <unsigned char*>PyBytes_AS_STRING(out)
    cdef uint64_t length = <uint64_t>total
    cdef int i
    p[0] = first
    if total < 126:
        p[1] = <unsigned char>total
    elif total < 65536:
        p[1] = 126
        p[2] = <unsigned char>(total >> 8)
        p[3] = <unsigned char>(total & 0xFF)
    else:
        p[1] = 127
        for i in range(8):
            p[2 + i] = <unsigned char>((length >> (56 - 8 * i)) & 0xFF)
    p += header
    if prefix:
        p[0] = C_EIO_MESSAGE_DIGIT
        p += 1
    memcpy(p, src, n)
    return out


cdef inline bint _sendable_close_code(long long code) noexcept:
    """The close-code test on a C integer (a received code, or an exact int that fits)."""
    if C_CLOSE_REGISTERED_MIN <= code <= C_CLOSE_REGISTERED_MAX:
        return (C_REGISTERED_SENDABLE >> (code - C_CLOSE_REGISTERED_MIN)) & 1
    return C_CLOSE_PRIVATE_MIN <= code <= C_CLOSE_PRIVATE_MAX


cdef bint _is_valid_close_code(object code) except -1:
    """``is_valid_close_code`` for any object, with the pure twin's answer for every input."""
    cdef int overflow = 0
    cdef long long value
    if PyLong_CheckExact(code):
        value = PyLong_AsLongLongAndOverflow(code, &overflow)
        return not overflow and _sendable_close_code(value)  # an int past C's range is no code
    # bool, int subclasses, floats: the pure twin's comparisons, on Python objects.
    return (
        constants.CLOSE_REGISTERED_MIN <= code <= constants.CLOSE_REGISTERED_MAX
        and code not in constants.CLOSE_NOT_SENDABLE
    ) or constants.CLOSE_PRIVATE_MIN <= code <= constants.CLOSE_PRIVATE_MAX


def is_valid_close_code(code) -> bool:
    """True for a close code a peer may put on the wire (1005, 1006 and 1015 are local-only)."""
    return _is_valid_close_code(code)


def build_close_payload(code, str reason="") -> bytes:
    """Payload of a CLOSE frame: the 2-byte status code, then the UTF-8 reason.

    ``code=1005`` (no status) gives the empty payload. Raises ValueError for a code that may not be
    sent or a reason longer than 123 UTF-8 bytes (a control frame holds 125 bytes).
    """
    if code == C_CLOSE_NO_STATUS:
        if reason:
            raise ValueError(ERR_REASON_WITHOUT_STATUS)
        return b""
    if not _is_valid_close_code(code):
        raise ValueError(ERR_CODE_NOT_SENDABLE.format(code))
    cdef bytes raw = reason.encode("utf-8")
    if len(raw) > C_MAX_CONTROL - 2:
        raise ValueError(ERR_REASON_TOO_LONG)
    # The pure twin's conversion, so a code that passed the test but is no int fails the same way.
    return code.to_bytes(2, "big") + raw


def parse_close_payload(payload) -> tuple:
    """Decode a received CLOSE payload into ``(code, reason)``; empty gives ``(1005, "")``.

    Raises WebSocketError 1002 for a 1-byte payload or a code that may not be sent, 1007 for a
    reason that is not UTF-8.
    """
    cdef bytes raw = _as_bytes(payload)
    return _parse_close(<const unsigned char*>PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw))


cdef tuple _parse_close(const unsigned char* p, Py_ssize_t n):
    if n == 0:
        return (CLOSE_NO_STATUS, "")
    if n == 1:
        raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_CLOSE_ONE_BYTE)
    cdef int code = (p[0] << 8) | p[1]
    if not _sendable_close_code(code):
        raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_CLOSE_CODE.format(code))
    try:
        reason = PyUnicode_DecodeUTF8(<const char*>p + 2, n - 2, NULL)
    except UnicodeDecodeError:
        raise WebSocketError(CLOSE_INVALID_DATA, ERR_CLOSE_REASON_UTF8) from None
    return (code, reason)


_Utf8Decoder = codecs.getincrementaldecoder("utf-8")
_KEY_SHAPE = re.compile(r"[+/0-9A-Za-z]{22}==")


def accept_key(key) -> str:
    """The ``Sec-WebSocket-Accept`` value answering a client's ``Sec-WebSocket-Key``.

    Raises ParseError when the key is not the base64 of 16 bytes (RFC 6455 4.2.1): the server
    should answer such a handshake with 400, as the ``ws`` package does.
    """
    if not isinstance(key, str) or _KEY_SHAPE.fullmatch(key) is None:
        raise ParseError(ERR_HANDSHAKE_KEY.format(key))
    digest = hashlib.sha1((key + WS_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


cdef class FrameParser:
    """Incremental frame reader for one connection: ``feed`` bytes, get complete messages.

    Partial frames are buffered across calls; fragmented messages are reassembled (control frames
    may arrive between fragments and are returned at once). A frame whose declared length would
    take the message past ``max_message_size`` is refused before any of its payload is buffered,
    so a peer can never make this object hold more than about twice that size.

    ``expect_masked=True`` is the server side (client frames must be masked), ``False`` the client
    side (server frames must not be). After a WebSocketError the parser stays failed.

    ``per_message_deflate=True`` (the connection negotiated RFC 7692): a message whose first frame
    has RSV1 set is inflated before it is returned, and ``max_message_size`` holds for the
    inflated size too, checked while inflating (so a zip bomb costs at most that much memory
    before the 1009). ``peer_no_context_takeover=True``: the peer compresses every message on its
    own (``client_no_context_takeover`` on a server), so each one is inflated with a fresh
    inflater and no inflate state outlives a message; otherwise the parser keeps one inflater for
    the connection (created with the first compressed message).
    """

    # Fields and C methods: see _frames_c.pxd (the server's compiled read path cimports them).

    def __cinit__(self):
        self._buf = NULL
        self._len = 0
        self._cap = 0

    def __init__(self, Py_ssize_t max_message_size=1_000_000, bint expect_masked=True,
                 bint per_message_deflate=False, bint peer_no_context_takeover=False) -> None:
        if max_message_size < 0:
            raise ValueError(ERR_NEGATIVE_SIZE)
        self.max_message_size = max_message_size
        self.expect_masked = expect_masked
        self.per_message_deflate = per_message_deflate
        self.peer_no_context_takeover = peer_no_context_takeover
        self._frag_compressed = False
        self._inflater = None
        self._frag_opcode = 0
        self._frag = bytearray()
        self._utf8 = None
        self._error = None

    def __dealloc__(self):
        PyMem_Free(self._buf)

    cdef int _reserve(self, Py_ssize_t needed) except -1:
        cdef Py_ssize_t cap
        cdef unsigned char* grown
        if needed <= self._cap:
            return 0
        cap = self._cap * 2 if self._cap else 1024
        if cap < needed:
            cap = needed
        grown = <unsigned char*>PyMem_Realloc(self._buf, cap)
        if grown == NULL:
            raise MemoryError()
        self._buf = grown
        self._cap = cap
        return 0

    cdef void _drop_buffer(self) noexcept:
        PyMem_Free(self._buf)
        self._buf = NULL
        self._len = 0
        self._cap = 0

    @property
    def pending(self):
        """Bytes held for messages not complete yet: a partial frame plus the fragments of a
        fragmented message in progress (what the server's memory budget counts as unfinished)."""
        return self._len + PyByteArray_GET_SIZE(self._frag)

    cdef Py_ssize_t pending_bytes(self) noexcept:
        """:attr:`pending` for compiled callers."""
        return self._len + PyByteArray_GET_SIZE(self._frag)

    def feed(self, data) -> list:
        """Consume received bytes; return the messages they completed, in order.

        Items are ``(OP_TEXT, str)``, ``(OP_BINARY, bytes)``, ``(OP_PING, bytes)``,
        ``(OP_PONG, bytes)`` and ``(OP_CLOSE, (code, reason))``. Raises WebSocketError.
        """
        return self.feed_c(data)

    cdef list feed_c(self, object data):
        """:meth:`feed` for compiled callers (the server's WebSocket read path)."""
        if self._error is not None:
            raise WebSocketError(*self._error)
        cdef bytes chunk = _as_bytes(data)
        cdef const unsigned char* src = <const unsigned char*>PyBytes_AS_STRING(chunk)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(chunk)
        cdef Py_ssize_t used
        cdef list out = []
        try:
            if self._len == 0:
                # Common case: nothing pending, parse the received bytes where they are.
                used = self._parse(src, n, out)
                if used < n:
                    self._reserve(n - used)
                    memcpy(self._buf, src + used, n - used)
                    self._len = n - used
            else:
                self._reserve(self._len + n)
                memcpy(self._buf + self._len, src, n)
                self._len += n
                used = self._parse(self._buf, self._len, out)
                if used:
                    self._len -= used
                    memmove(self._buf, self._buf + used, self._len)
                if self._len == 0 and self._cap > KEEP_BUFFER:
                    self._drop_buffer()
        except WebSocketError as exc:
            self._error = (exc.code, str(exc))
            self._drop_buffer()
            self._frag = bytearray()
            self._utf8 = None
            self._inflater = None
            raise
        return out

    cdef Py_ssize_t _parse(self, const unsigned char* p, Py_ssize_t end, list out) except -1:
        cdef Py_ssize_t pos = 0, header, stop, start
        cdef uint64_t length
        cdef int opcode, i
        cdef bint fin, masked, compressed
        cdef const unsigned char* body
        cdef bytes payload
        cdef bytearray message
        cdef const unsigned char* key
        while end - pos >= 2:
            opcode = p[pos] & 0x0F
            fin = (p[pos] & 0x80) != 0
            compressed = False
            if p[pos] & 0x70:
                if (p[pos] & 0x70) != C_RSV1 or not self.per_message_deflate:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_RSV)
                if opcode != C_OP_TEXT and opcode != C_OP_BINARY:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_RSV1_FRAME)
                compressed = True
            if not _known_opcode(opcode):
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_UNKNOWN_OPCODE.format(opcode))
            masked = (p[pos + 1] & 0x80) != 0
            if masked and not self.expect_masked:
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_MASKED_FROM_SERVER)
            if not masked and self.expect_masked:
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_UNMASKED_FROM_CLIENT)
            length = p[pos + 1] & 0x7F
            if opcode >= C_OP_CLOSE:
                if not fin:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_CONTROL_FRAGMENTED_IN)
                if length > C_MAX_CONTROL:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_CONTROL_TOO_BIG_IN)
            elif opcode == C_OP_CONTINUATION:
                if self._frag_opcode == 0:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_ORPHAN_CONTINUATION)
            elif self._frag_opcode != 0:
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_NESTED_MESSAGE)
            header = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = (<uint64_t>p[pos + 2] << 8) | p[pos + 3]
                header = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = 0
                for i in range(8):
                    length = (length << 8) | p[pos + 2 + i]
                if length >> 63:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_LENGTH_TOP_BIT)
                header = 10
            # Checked on the declared length, before a single payload byte is kept.
            if opcode == C_OP_CONTINUATION:
                if <uint64_t>PyByteArray_GET_SIZE(self._frag) + length > <uint64_t>self.max_message_size:
                    raise WebSocketError(CLOSE_TOO_BIG, ERR_TOO_BIG)
            elif opcode < C_OP_CLOSE and length > <uint64_t>self.max_message_size:
                raise WebSocketError(CLOSE_TOO_BIG, ERR_TOO_BIG)
            if masked:
                header += 4
            if end - pos < header or <uint64_t>(end - pos - header) < length:
                break
            stop = pos + header + <Py_ssize_t>length
            body = p + pos + header
            key = p + pos + header - 4 if masked else NULL
            if opcode == C_OP_TEXT and fin and not compressed:
                # Whole text message in one frame: decode without an intermediate bytes object.
                out.append((C_OP_TEXT, self._decode_text(body, <Py_ssize_t>length, key)))
                pos = stop
                continue
            if opcode == C_OP_CONTINUATION or not fin:
                if opcode != C_OP_CONTINUATION:
                    self._frag_opcode = opcode
                    self._frag_compressed = compressed
                    if opcode == C_OP_TEXT and not compressed:  # deflated bytes: checked once inflated
                        self._utf8 = _Utf8Decoder()
                start = PyByteArray_GET_SIZE(self._frag)
                self._append_fragment(body, <Py_ssize_t>length, key)
                pos = stop
                if not fin:
                    if self._utf8 is not None and length:
                        # Only non-final fragments: the complete message is decoded once it ends.
                        try:
                            self._utf8.decode(self._frag[start:])
                        except UnicodeDecodeError:
                            raise WebSocketError(CLOSE_INVALID_DATA, ERR_TEXT_UTF8) from None
                    continue
                opcode = self._frag_opcode
                message = self._frag
                compressed = self._frag_compressed
                self._frag_opcode = 0
                self._frag = bytearray()
                self._frag_compressed = False
                self._utf8 = None
                if compressed:
                    payload = self._inflate(message)
                    if opcode == C_OP_TEXT:
                        out.append((C_OP_TEXT, self._decode_text(<const unsigned char*>PyBytes_AS_STRING(payload),
                                                         PyBytes_GET_SIZE(payload), NULL)))
                    else:
                        out.append((C_OP_BINARY, payload))
                elif opcode == C_OP_TEXT:
                    out.append((C_OP_TEXT, self._decode_text(<const unsigned char*>PyByteArray_AS_STRING(message),
                                                     PyByteArray_GET_SIZE(message), NULL)))
                else:
                    out.append((C_OP_BINARY, PyBytes_FromStringAndSize(PyByteArray_AS_STRING(message),
                                                             PyByteArray_GET_SIZE(message))))
                continue
            payload = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>length)
            if masked:
                _xor_mask(<unsigned char*>PyBytes_AS_STRING(payload), body, <Py_ssize_t>length, key)
            else:
                memcpy(PyBytes_AS_STRING(payload), body, <size_t>length)
            pos = stop
            if opcode == C_OP_CLOSE:
                out.append((C_OP_CLOSE, _parse_close(<const unsigned char*>PyBytes_AS_STRING(payload),
                                            <Py_ssize_t>length)))
            elif compressed:
                payload = self._inflate(payload)
                if opcode == C_OP_TEXT:
                    out.append((C_OP_TEXT, self._decode_text(<const unsigned char*>PyBytes_AS_STRING(payload),
                                                     PyBytes_GET_SIZE(payload), NULL)))
                else:
                    out.append((C_OP_BINARY, payload))
            else:
                out.append((opcode, payload))
        return pos

    cdef bytes _inflate(self, object data):
        """The inflated message ``data`` (RFC 7692 7.2.2), refused past ``max_message_size``.

        zlib is asked for one byte more than the limit at most, so a message that would inflate
        to gigabytes costs ``max_message_size`` bytes of output before it is refused.
        """
        cdef bytes out
        # One byte past the limit tells "too big" from "exactly the limit" (sys.maxsize: no limit).
        cdef Py_ssize_t cap = self.max_message_size
        if cap < PY_SSIZE_T_MAX:
            cap += 1
        inflater = self._inflater
        if inflater is None:
            inflater = zlib.decompressobj(-C_INFLATE_WINDOW_BITS)
            if not self.peer_no_context_takeover:
                self._inflater = inflater
        try:
            out = inflater.decompress(bytes(data) + C_DEFLATE_TAIL, cap)
        except zlib.error as exc:
            raise WebSocketError(CLOSE_INVALID_DATA, ERR_INFLATE.format(exc)) from None
        if PyBytes_GET_SIZE(out) > self.max_message_size:
            raise WebSocketError(CLOSE_TOO_BIG, ERR_TOO_BIG_INFLATED)
        if inflater.eof:
            # The peer ended its deflate stream (a final block): the next message starts a new one.
            self._inflater = None
        return out

    cdef int _append_fragment(self, const unsigned char* body, Py_ssize_t n,
                              const unsigned char* key) except -1:
        cdef Py_ssize_t old = PyByteArray_GET_SIZE(self._frag)
        cdef unsigned char* dst
        if n == 0:
            return 0
        PyByteArray_Resize(self._frag, old + n)
        dst = <unsigned char*>PyByteArray_AS_STRING(self._frag) + old
        if key != NULL:
            _xor_mask(dst, body, n, key)
        else:
            memcpy(dst, body, n)
        return 0

    cdef object _decode_text(self, const unsigned char* body, Py_ssize_t n, const unsigned char* key):
        cdef bytes tmp
        cdef const char* src = <const char*>body
        if key != NULL:
            if n <= SCRATCH_SIZE:
                _xor_mask(_SCRATCH, body, n, key)
                src = <const char*>_SCRATCH
            else:
                tmp = PyBytes_FromStringAndSize(NULL, n)
                _xor_mask(<unsigned char*>PyBytes_AS_STRING(tmp), body, n, key)
                src = PyBytes_AS_STRING(tmp)
        try:
            return PyUnicode_DecodeUTF8(src, n, NULL)
        except UnicodeDecodeError:
            raise WebSocketError(CLOSE_INVALID_DATA, ERR_TEXT_UTF8) from None
