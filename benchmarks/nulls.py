"""Stand-ins for the event loop and the transport in the micro-benchmarks.

What they do costs (almost) nothing, so a micro-benchmark times the server's own work: the loop
never runs the corker's end-of-turn callback (the benchmark flushes it itself) and the transport's
methods are C builtins.
"""

from __future__ import annotations

from typing import Any


class NullLoop:
    """Takes ``call_soon`` and drops it: the benchmark flushes the corker itself."""

    def call_soon(self, cb: Any, *args: Any) -> None:
        pass


class NullTransport:
    """Its methods are C builtins, so the benchmark times the server's work, not a fake's."""

    write = len  # a builtin is not bound as a method: transport.write(data) is len(data)
    is_closing = bool  # bool() is False
    get_write_buffer_size = int  # int() is 0
