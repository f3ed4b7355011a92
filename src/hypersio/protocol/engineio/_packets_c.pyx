# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Engine.IO v4 packets and long-polling payloads, compiled twin of ``_eio_parser_py``.

Same API and same results as the pure twin, whose docstring states the wire rules. The gain is
in the per-packet dispatch (the type digit read as a code point, no dict lookups) on the path
every WebSocket message and every polling record takes.
"""

import binascii

from cpython.unicode cimport PyUnicode_GET_LENGTH, PyUnicode_READ_CHAR, PyUnicode_Substring

from hypersio.exceptions import ParseError

__all__ = [
    "OPEN",
    "CLOSE",
    "PING",
    "PONG",
    "MESSAGE",
    "UPGRADE",
    "NOOP",
    "SEPARATOR",
    "DEFAULT_MAX_PACKETS",
    "encode_packet",
    "decode_packet",
    "encode_payload",
    "decode_payload",
]

OPEN = 0
CLOSE = 1
PING = 2
PONG = 3
MESSAGE = 4
UPGRADE = 5
NOOP = 6

SEPARATOR = "\x1e"
DEFAULT_MAX_PACKETS = 100_000  # why this value: see _eio_parser_py

cdef tuple _DIGITS = ("0", "1", "2", "3", "4", "5", "6")
# Decoded packets without data are shared tuples: "2", "3" and "6" are most of a quiet session.
cdef tuple _BARE = tuple((t, None) for t in range(7))


def encode_packet(int type, data=None, bint b64=False):
    """Encode one Engine.IO packet for the wire.

    Text data gives ``"<digit><data>"``. Binary data (only valid for MESSAGE) gives the raw bytes,
    ready to send as a WebSocket binary frame, or with ``b64=True`` the ``"b<base64>"`` text used
    inside a long-polling body. Raises ValueError for an unknown type or binary data on a
    non-MESSAGE packet (a programming error, never peer input).
    """
    if not 0 <= type <= 6:
        raise ValueError(f"unknown Engine.IO packet type {type!r}")
    if data is None:
        return _DIGITS[type]
    if isinstance(data, str):
        return <str>_DIGITS[type] + <str>data
    if isinstance(data, (bytes, bytearray, memoryview)):
        if type != 4:
            raise ValueError("only MESSAGE packets may carry binary data")
        if b64:
            return "b" + binascii.b2a_base64(data, newline=False).decode("ascii")
        return bytes(data)
    raise TypeError(f"Engine.IO packet data must be str, bytes or None, not {data.__class__.__name__}")


cdef tuple _decode_text(str data):
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(data)
    if n == 0:
        raise ParseError("empty Engine.IO packet")
    cdef Py_UCS4 head = PyUnicode_READ_CHAR(data, 0)
    if head == u"b":
        try:
            return (4, binascii.a2b_base64(PyUnicode_Substring(data, 1, n), strict_mode=True))
        except (binascii.Error, ValueError) as exc:
            raise ParseError(f"invalid base64 in Engine.IO binary packet: {exc}") from None
    if head < 48 or head > 54:  # not "0".."6"
        raise ParseError(f"unknown Engine.IO packet type {str(head)!r}")
    cdef int type = <int>head - 48
    if n == 1:
        return <tuple>_BARE[type]
    return (type, PyUnicode_Substring(data, 1, n))


def decode_packet(data) -> tuple:
    """Decode one Engine.IO packet received from a peer.

    A str (a WebSocket text frame or one record of a polling body) gives ``(type, text or None)``,
    or ``(MESSAGE, bytes)`` for a ``"b<base64>"`` record. Bytes (a WebSocket binary frame) give
    ``(MESSAGE, bytes)``. Raises ParseError for an empty packet, an unknown type, bad base64.
    """
    if type(data) is str:
        return _decode_text(<str>data)
    if type(data) is bytes:
        return (4, data)
    if isinstance(data, str):
        return _decode_text(str(data))
    if isinstance(data, (bytes, bytearray, memoryview)):
        return (4, bytes(data))
    raise TypeError(f"Engine.IO packet must be str or bytes, not {data.__class__.__name__}")


def encode_payload(list packets) -> str:
    """Join already-encoded text packets (``encode_packet(..., b64=True)``) into one polling body.

    Raises ValueError for an empty list (a polling response always carries at least a NOOP) and
    TypeError if an item is not a str.
    """
    if not packets:
        raise ValueError("an Engine.IO payload needs at least one packet")
    return SEPARATOR.join(packets)


def decode_payload(body, Py_ssize_t max_packets=DEFAULT_MAX_PACKETS) -> list:
    """Split and decode a long-polling body (the body of a client POST or a server GET answer).

    Bytes are decoded as UTF-8 first. Raises ParseError for a body that is not UTF-8, an empty
    record (including an empty body), more than ``max_packets`` records, or any bad packet.
    """
    cdef str text
    if isinstance(body, str):
        text = str(body)
    else:
        try:
            text = str(body, "utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"Engine.IO payload is not valid UTF-8: {exc}") from None
    # Count separators before splitting so an oversized body never becomes a huge list.
    if text.count(SEPARATOR) >= max_packets:
        raise ParseError(f"Engine.IO payload holds more than {max_packets} packets")
    cdef list out = []
    cdef str record
    for record in text.split(SEPARATOR):
        out.append(_decode_text(record))
    return out
