"""Type stub of the compiled Socket.IO JSON codec (same API as ``hypersio._parser_py``)."""

from typing import Any, Final

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

CONNECT: Final[int]
DISCONNECT: Final[int]
EVENT: Final[int]
ACK: Final[int]
CONNECT_ERROR: Final[int]
BINARY_EVENT: Final[int]
BINARY_ACK: Final[int]
RESERVED_EVENTS: Final[frozenset[str]]
MAX_ACK_ID: Final[int]

class Packet:
    """One Socket.IO packet: what an Encoder turns into wire chunks and a Decoder returns."""

    type: int
    nsp: str
    data: Any
    id: int | None
    attachments: int
    def __init__(self, type: int, nsp: str = "/", data: Any = None, id: int | None = None) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...

def encode_packet(type: int, nsp: str | None = "/", data: Any = None, id: int | None = None) -> list[str | bytes]:
    """Encode one packet straight from its fields: ``[str, *bytes]`` as socket.io-parser does."""

class Encoder:
    """Turns Packets into wire chunks; stateless, one can serve every connection."""

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Return ``[str, *bytes]``: the packet text and its binary attachments, if any."""

class Decoder:
    """Reassembles packets from wire chunks, one Decoder per connection (it keeps state)."""

    max_attachments: int
    def __init__(self, max_attachments: int = 10) -> None: ...
    def reset(self) -> None:
        """Forget a half-received binary packet (after an error or when the connection closes)."""
    def add(self, chunk: str | bytes | bytearray | memoryview) -> Packet | None:
        """Feed one wire chunk; return the Packet it completes, else None. Raises ParseError."""
