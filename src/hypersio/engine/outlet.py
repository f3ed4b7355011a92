"""Output corking: one ``transport.write`` per connection per event-loop turn.

Everything a session sends during one loop turn is appended to its connection's output buffer;
a single ``loop.call_soon`` callback (the :class:`Corker`) then flushes every dirty buffer at the
end of the turn. A broadcast to 10,000 clients therefore costs 10,000 list appends and one write
per socket, instead of one syscall per message per socket.

:class:`CorkedWriter` is the buffer half, mixed into an ``asyncio.Protocol``; it also watches
backpressure (``pause_writing``/``resume_writing`` and the transport's buffered size) so that a
client that stops reading costs bounded memory: past the high-water mark volatile messages are
dropped, past the hard limit the connection is closed with a logged reason. :class:`Outlet` is
the base of an Engine.IO session, the fields the compiled send and receive paths read.

The buffer, the corker and the outlet are the compiled ``hypersio.engine._outlet_c`` or, without
it, the pure-Python ``_outlet_py`` (same ``__all__``; type checkers read the pure twin).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Protocol

from hypersio import _speedups

if TYPE_CHECKING:
    from hypersio.engine._outlet_py import *  # noqa: F403
    from hypersio.engine._outlet_py import Corker
    from hypersio.engine._outlet_py import __all__ as _twin_all
else:
    _impl = _speedups.load("outlet")
    _twin_all = list(_impl.__all__)
    globals().update({_name: getattr(_impl, _name) for _name in _twin_all})

__all__ = ["Flushable", "get_corker", "logger"]
__all__.extend(_twin_all)

IMPLEMENTATION: str = _speedups.loaded["outlet"].__name__

logger = logging.getLogger("hypersio.engine")


class Flushable(Protocol):
    """Anything the corker can flush: it owns a buffer and writes it out in one call."""

    def flush_output(self) -> None:
        """Write out what was buffered during this loop turn."""


_corkers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Corker] = weakref.WeakKeyDictionary()


def get_corker(loop: asyncio.AbstractEventLoop | None = None) -> Corker:
    """The corker of ``loop`` (default: the running loop), created on first use.

    Servers and clients on the same loop share it, so one callback per turn flushes them all.
    """
    if loop is None:
        loop = asyncio.get_running_loop()
    corker = _corkers.get(loop)
    if corker is None:
        corker = _corkers[loop] = Corker(loop)
    return corker
