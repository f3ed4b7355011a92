"""The Socket.IO v5 packet vocabulary, defined once for every codec and both ends.

Packet-type numbers, the event names a peer may not emit, and the largest ack id: the JSON and
msgpack codecs (both twins of each), the incoming dispatch, the server and the client all take
them from here, so no layer restates a wire number.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CONNECT",
    "DISCONNECT",
    "EVENT",
    "ACK",
    "CONNECT_ERROR",
    "BINARY_EVENT",
    "BINARY_ACK",
    "TYPE_NAMES",
    "RESERVED_EVENTS",
    "MAX_ACK_ID",
    "MAX_ACK_ID_DIGITS",
    "BINARY_SHIFT",
]

CONNECT: Final = 0
DISCONNECT: Final = 1
EVENT: Final = 2
ACK: Final = 3
CONNECT_ERROR: Final = 4
BINARY_EVENT: Final = 5
BINARY_ACK: Final = 6

#: The name of each packet type, indexed by its number (for repr and error messages).
TYPE_NAMES: Final = ("CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK")

#: Event names a peer may not emit: they mean something to the Socket.IO layers themselves.
RESERVED_EVENTS: Final[frozenset[str]] = frozenset(
    ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener")
)

#: Ack ids are JavaScript numbers on the other side: beyond 2**53 they would silently change.
MAX_ACK_ID: Final = 2**53 - 1
#: Decimal digits of MAX_ACK_ID: a decoder refuses a longer ack id before converting it.
MAX_ACK_ID_DIGITS: Final = len(str(MAX_ACK_ID))

#: A binary type minus this is its plain type (BINARY_EVENT - EVENT == BINARY_ACK - ACK): decoders
#: deliver binary packets as EVENT/ACK, and encoders fall back to them when there is no binary.
BINARY_SHIFT: Final = BINARY_EVENT - EVENT
