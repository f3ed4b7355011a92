# Type stub of the compiled WebSocket frame codec; the pure twin _wsframe_py is its readable definition.
from typing import Final

OP_CONTINUATION: Final[int]
OP_TEXT: Final[int]
OP_BINARY: Final[int]
OP_CLOSE: Final[int]
OP_PING: Final[int]
OP_PONG: Final[int]
CLOSE_NORMAL: Final[int]
CLOSE_GOING_AWAY: Final[int]
CLOSE_PROTOCOL_ERROR: Final[int]
CLOSE_NO_STATUS: Final[int]
CLOSE_INVALID_DATA: Final[int]
CLOSE_TOO_BIG: Final[int]
WS_GUID: Final[str]

def mask_payload(data: bytes | bytearray | memoryview, key: bytes) -> bytes: ...
def build_frame(
    opcode: int,
    payload: bytes | bytearray | memoryview | str,
    mask: bool = False,
    fin: bool = True,
    *,
    mask_key: bytes | None = None,
) -> bytes: ...
def message_frame(data: str | bytes | bytearray | memoryview) -> bytes: ...
def is_valid_close_code(code: int) -> bool: ...
def build_close_payload(code: int, reason: str = "") -> bytes: ...
def parse_close_payload(payload: bytes | bytearray | memoryview) -> tuple[int, str]: ...
def accept_key(key: str) -> str: ...

class FrameParser:
    max_message_size: int
    expect_masked: bool
    def __init__(self, max_message_size: int = 1_000_000, expect_masked: bool = True) -> None: ...
    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, object]]: ...
