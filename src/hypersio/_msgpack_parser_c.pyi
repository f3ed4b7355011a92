# Stub of the compiled twin: the same API as the pure-Python _msgpack_parser_py.
from typing import Any

from .parser import (
    ACK as ACK,
    BINARY_ACK as BINARY_ACK,
    BINARY_EVENT as BINARY_EVENT,
    CONNECT as CONNECT,
    CONNECT_ERROR as CONNECT_ERROR,
    DISCONNECT as DISCONNECT,
    EVENT as EVENT,
    MAX_ACK_ID as MAX_ACK_ID,
    RESERVED_EVENTS as RESERVED_EVENTS,
    Packet as Packet,
)

__all__: list[str]

def encode_packet(type: int, nsp: str = "/", data: Any = None, id: int | None = None) -> list[bytes]: ...

class Encoder:
    def encode(self, packet: Packet) -> list[bytes]: ...

class Decoder:
    max_attachments: int
    def __init__(self, max_attachments: int = 10) -> None: ...
    def reset(self) -> None: ...
    def add(self, chunk: bytes | bytearray | memoryview) -> Packet: ...
