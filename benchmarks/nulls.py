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


def twin(family: str, kind: str) -> Any:
    """The ``kind`` ("c" or "py") twin of a ``hypersio._speedups`` family; skips when not built."""
    import importlib

    import pytest

    from hypersio import _speedups

    base = _speedups.FAMILIES[family][0]
    try:
        return importlib.import_module(f"{base}_{kind}")
    except ImportError as exc:
        pytest.skip(f"{base}_{kind} not available: {exc}")


def fanout_twin(kind: str) -> Any:
    """The outlet (buffers) and rooms (walk) twins of one kind as one namespace."""
    from types import SimpleNamespace

    outlet, rooms = twin("outlet", kind), twin("rooms", kind)
    return SimpleNamespace(
        **{n: getattr(outlet, n) for n in outlet.__all__}, **{n: getattr(rooms, n) for n in rooms.__all__}
    )
