# Type stub of the compiled Engine.IO codec; the pure twin _eio_parser_py is its readable definition.
from typing import Final, Union

_Data = Union[str, bytes, None]

OPEN: Final[int]
CLOSE: Final[int]
PING: Final[int]
PONG: Final[int]
MESSAGE: Final[int]
UPGRADE: Final[int]
NOOP: Final[int]
SEPARATOR: Final[str]
DEFAULT_MAX_PACKETS: Final[int]

def encode_packet(
    type: int, data: str | bytes | bytearray | memoryview | None = None, b64: bool = False
) -> str | bytes: ...
def decode_packet(data: str | bytes | bytearray | memoryview) -> tuple[int, _Data]: ...
def encode_payload(packets: list[str]) -> str: ...
def decode_payload(
    body: str | bytes | bytearray | memoryview, max_packets: int = ...
) -> list[tuple[int, _Data]]: ...
