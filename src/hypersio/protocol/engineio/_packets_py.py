"""Engine.IO v4 packets and long-polling payloads, pure-Python twin of ``_eio_parser_c``.

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
from typing import Union

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
# A polling body is already capped in bytes by maxHttpBufferSize; this caps the number of
# decoded packets too, so a body of one-byte records cannot become half a million tuples. It is
# set high on purpose: engine.io-client batches a whole burst of emits into one POST of up to
# maxPayload (1 MB), which at 8 bytes per minimal event is ~125,000 packets, and the official
# server has no such limit at all. Servers with a larger maxHttpBufferSize pass their own value.
DEFAULT_MAX_PACKETS = 100_000

Data = Union[str, bytes, None]

_TYPE_OF_DIGIT = {str(t): t for t in range(7)}
_DIGITS = tuple(str(t) for t in range(7))


def encode_packet(
    type: int, data: str | bytes | bytearray | memoryview | None = None, b64: bool = False
) -> str | bytes:
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
        return _DIGITS[type] + data
    if isinstance(data, (bytes, bytearray, memoryview)):
        if type != MESSAGE:
            raise ValueError("only MESSAGE packets may carry binary data")
        if b64:
            return "b" + binascii.b2a_base64(data, newline=False).decode("ascii")
        return bytes(data)
    raise TypeError(f"Engine.IO packet data must be str, bytes or None, not {data.__class__.__name__}")


def decode_packet(data: str | bytes | bytearray | memoryview) -> tuple[int, Data]:
    """Decode one Engine.IO packet received from a peer.

    A str (a WebSocket text frame or one record of a polling body) gives ``(type, text or None)``,
    or ``(MESSAGE, bytes)`` for a ``"b<base64>"`` record. Bytes (a WebSocket binary frame) give
    ``(MESSAGE, bytes)``. Raises ParseError for an empty packet, an unknown type, bad base64.
    """
    if isinstance(data, str):
        if not data:
            raise ParseError("empty Engine.IO packet")
        head = data[0]
        if head == "b":
            return MESSAGE, _b64decode(data)
        type = _TYPE_OF_DIGIT.get(head)
        if type is None:
            raise ParseError(f"unknown Engine.IO packet type {head!r}")
        if len(data) == 1:
            return type, None
        return type, data[1:]
    if isinstance(data, bytes):
        return MESSAGE, data
    if isinstance(data, (bytearray, memoryview)):
        return MESSAGE, bytes(data)
    raise TypeError(f"Engine.IO packet must be str or bytes, not {data.__class__.__name__}")


def _b64decode(record: str) -> bytes:
    try:
        return binascii.a2b_base64(record[1:], strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        # ValueError: non-ASCII characters, which a2b_base64 refuses before decoding.
        raise ParseError(f"invalid base64 in Engine.IO binary packet: {exc}") from None


def encode_payload(packets: list[str]) -> str:
    """Join already-encoded text packets (``encode_packet(..., b64=True)``) into one polling body.

    Raises ValueError for an empty list (a polling response always carries at least a NOOP) and
    TypeError if an item is not a str.
    """
    if not packets:
        raise ValueError("an Engine.IO payload needs at least one packet")
    return SEPARATOR.join(packets)


def decode_payload(
    body: str | bytes | bytearray | memoryview, max_packets: int = DEFAULT_MAX_PACKETS
) -> list[tuple[int, Data]]:
    """Split and decode a long-polling body (the body of a client POST or a server GET answer).

    Bytes are decoded as UTF-8 first. Raises ParseError for a body that is not UTF-8, an empty
    record (including an empty body), more than ``max_packets`` records, or any bad packet.
    """
    if not isinstance(body, str):
        try:
            body = str(body, "utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"Engine.IO payload is not valid UTF-8: {exc}") from None
    # Count separators before splitting so an oversized body never becomes a huge list.
    if body.count(SEPARATOR) >= max_packets:
        raise ParseError(f"Engine.IO payload holds more than {max_packets} packets")
    return [decode_packet(record) for record in body.split(SEPARATOR)]
