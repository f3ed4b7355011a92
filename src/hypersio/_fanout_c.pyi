# Type stub of the compiled fan-out; the pure twin _fanout_py is its readable definition.
from typing import Any, Callable, Final

DEFAULT_HIGH_WATER: Final[int]
DEFAULT_HARD_LIMIT: Final[int]

class Corker:
    def __init__(self, loop: Any) -> None: ...
    def mark(self, item: Any) -> None: ...
    def flush(self) -> None: ...

class CorkedWriter:
    transport: Any
    _corker: Corker
    _out: list[bytes]
    _out_size: int
    _corked: bool
    _paused_writing: bool
    _close_after_flush: bool
    _write_closed: bool
    _backlog: int
    high_water: int
    hard_limit: int
    def _init_writer(self, corker: Corker, high_water: int = ..., hard_limit: int = ...) -> None: ...
    def write(self, data: bytes) -> None: ...
    def close_after_flush(self) -> None: ...
    def buffered_size(self) -> int: ...
    def congested(self) -> bool: ...
    def _flush_output(self) -> None: ...
    def _write_overflow(self, size: int) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...

class Outlet:
    closed: bool
    _ws_out: CorkedWriter | None
    _tx: Any
    _message_handlers: tuple[Callable[..., Any], ...]
    _awaiting_pong: bool
    def send(self, data: str | bytes | bytearray | memoryview, volatile: bool = False) -> None: ...
    def send_prepared(self, msg: Any, volatile: bool = False) -> None: ...

class Member:
    sid: str
    rooms: set[str]
    socket: Any
    alive: bool
    def __init__(self, sid: str) -> None: ...
    def bind(self, sock: Any) -> None: ...

def deliver(
    rooms: dict[str, dict[str, Member]],
    members: dict[str, Member],
    target_rooms: Any,
    except_rooms: Any,
    sockets: dict[str, Any],
    prepared: list[Any],
    is_volatile: bool,
    data: list[Any],
    on_client: Callable[[Any, int], None] | None = None,
    ack_id: int = 0,
) -> int: ...
def deliver_messages(session: Outlet, ws: Any, frames: list[tuple[int, Any]]) -> int: ...
