"""Engine.IO v4 packets and long-polling payloads, the pure twin of ``_packets_c`` and its spec.

The compiled twin is hand-written rather than this source compiled by Cython: compiled from here,
encode and decode measured 10-20 % slower (Cython slices a typed str with a rescan of every
character; see the notes in ``_packets_c.pyx``). Both take their constants, ``__all__`` and error
texts from :mod:`hypersio.protocol.engineio.constants`.

Wire rules (engine.io-parser 5.x, the reference):

- a text packet is its type digit followed by its data, if any (``"4hello"``, ``"2probe"``, ``"6"``);
  every type may carry data, a packet with nothing after the digit has no data (``None``);
- a binary packet is always a MESSAGE: over WebSocket it is the raw bytes of a binary frame, over
  long-polling it is ``"b"`` followed by the standard base64 of the bytes;
- a polling body is the encoded packets joined by the record separator ``"\\x1e"``.

Anything else raises :class:`hypersio.exceptions.ParseError`; the engine then closes the session.
"""

from __future__ import annotations

import binascii

from hypersio.exceptions import ParseError
from hypersio.protocol.engineio import constants

# The wire vocabulary is part of this module's API (__all__ below): re-exported whole.
from hypersio.protocol.engineio.constants import *  # noqa: F403
from hypersio.protocol.engineio.constants import (
    DEFAULT_MAX_PACKETS,
    ERR_BAD_BASE64,
    ERR_BINARY_NOT_MESSAGE,
    ERR_DATA_TYPE,
    ERR_EMPTY_PACKET,
    ERR_EMPTY_PAYLOAD,
    ERR_PACKET_TYPE,
    ERR_PAYLOAD_NOT_UTF8,
    ERR_TOO_MANY_PACKETS,
    ERR_UNKNOWN_TYPE,
    MESSAGE,
    NOOP,
    OPEN,
    SEPARATOR,
)

__all__ = ["encode_packet", "decode_packet", "encode_payload", "decode_payload"]
__all__ += constants.__all__

Data = str | bytes | None

# The type digits "0".."6" and, for the packets that carry nothing, one shared decoded tuple per
# type: "2", "3" and "6" are most of a quiet session.
_DIGITS = tuple(str(t) for t in range(OPEN, NOOP + 1))
_LAST_DIGIT = _DIGITS[NOOP]
_BARE = tuple((t, None) for t in range(OPEN, NOOP + 1))


def encode_packet(
    type: int, data: str | bytes | bytearray | memoryview | None = None, b64: bool = False
) -> str | bytes:
    """Encode one Engine.IO packet for the wire.

    Text data gives ``"<digit><data>"``. Binary data (only valid for MESSAGE) gives the raw bytes,
    ready to send as a WebSocket binary frame, or with ``b64=True`` the ``"b<base64>"`` text used
    inside a long-polling body. Raises ValueError for an unknown type or binary data on a
    non-MESSAGE packet (a programming error, never peer input).
    """
    if not OPEN <= type <= NOOP:
        raise ValueError(ERR_UNKNOWN_TYPE.format(type))
    # Indexed before the data is looked at: a type such as 4.0 passes the range test but is no
    # packet type, and must fail here (the compiled twin's TypeError, from the same indexing)
    # rather than slip through the binary branch, where MESSAGE == 4.0.
    digit = _DIGITS[type]
    if data is None:
        return digit
    if isinstance(data, str):
        return digit + data
    if isinstance(data, (bytes, bytearray, memoryview)):
        if type != MESSAGE:
            raise ValueError(ERR_BINARY_NOT_MESSAGE)
        if b64:
            return "b" + binascii.b2a_base64(data, newline=False).decode("ascii")
        return bytes(data)
    raise TypeError(ERR_DATA_TYPE.format(data.__class__.__name__))


def decode_packet(data: str | bytes | bytearray | memoryview) -> tuple[int, Data]:
    """Decode one Engine.IO packet received from a peer.

    A str (a WebSocket text frame or one record of a polling body) gives ``(type, text or None)``,
    or ``(MESSAGE, bytes)`` for a ``"b<base64>"`` record. Bytes (a WebSocket binary frame) give
    ``(MESSAGE, bytes)``. Raises ParseError for an empty packet, an unknown type, bad base64.
    """
    if type(data) is str:
        return _decode_text(data)
    if type(data) is bytes:
        return MESSAGE, data
    if isinstance(data, str):
        return _decode_text(str(data))
    if isinstance(data, (bytes, bytearray, memoryview)):
        return MESSAGE, bytes(data)
    raise TypeError(ERR_PACKET_TYPE.format(data.__class__.__name__))


def _decode_text(data: str) -> tuple[int, Data]:
    """Decode one text packet (``data`` is an exact str)."""
    n = len(data)
    if n == 0:
        raise ParseError(ERR_EMPTY_PACKET)
    head = data[0]
    if head == "b":
        try:
            return MESSAGE, binascii.a2b_base64(data[1:], strict_mode=True)
        except (binascii.Error, ValueError) as exc:
            # ValueError: non-ASCII characters, which a2b_base64 refuses before decoding.
            raise ParseError(ERR_BAD_BASE64.format(exc)) from None
    if not "0" <= head <= _LAST_DIGIT:
        raise ParseError(ERR_UNKNOWN_TYPE.format(head))
    code = ord(head) - ord("0")
    if n == 1:
        return _BARE[code]
    return code, data[1:]


def encode_payload(packets: list[str]) -> str:
    """Join already-encoded text packets (``encode_packet(..., b64=True)``) into one polling body.

    Raises ValueError for an empty list (a polling response always carries at least a NOOP) and
    TypeError if an item is not a str.
    """
    if not packets:
        raise ValueError(ERR_EMPTY_PAYLOAD)
    return SEPARATOR.join(packets)


def decode_payload(
    body: str | bytes | bytearray | memoryview, max_packets: int = DEFAULT_MAX_PACKETS
) -> list[tuple[int, Data]]:
    """Split and decode a long-polling body (the body of a client POST or a server GET answer).

    Bytes are decoded as UTF-8 first. Raises ParseError for a body that is not UTF-8, an empty
    record (including an empty body), more than ``max_packets`` records, or any bad packet.
    """
    if isinstance(body, str):
        return _decode_body(str(body), max_packets)
    try:
        text = str(body, "utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(ERR_PAYLOAD_NOT_UTF8.format(exc)) from None
    return _decode_body(text, max_packets)


def _decode_body(text: str, max_packets: int) -> list[tuple[int, Data]]:
    """Decode the records of a polling body (``text`` is an exact str)."""
    # Count separators before splitting so an oversized body never becomes a huge list.
    if text.count(SEPARATOR) >= max_packets:
        raise ParseError(ERR_TOO_MANY_PACKETS.format(max_packets))
    return [_decode_text(record) for record in text.split(SEPARATOR)]
