"""Output corking: one ``transport.write`` per connection per event-loop turn.

Everything a session sends during one loop turn is appended to its connection's output buffer;
a single ``loop.call_soon`` callback (the :class:`Corker`) then flushes every dirty buffer at the
end of the turn. A broadcast to 10,000 clients therefore costs 10,000 list appends and one write
per socket, instead of one syscall per message per socket.

:class:`CorkedWriter` is the buffer half, mixed into an ``asyncio.Protocol``; it also watches
backpressure (``pause_writing``/``resume_writing`` and the transport's buffered size) so that a
client that stops reading costs bounded memory: past the high-water mark volatile messages are
dropped, past the hard limit the connection is closed with a logged reason.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

from .. import fanout

logger = logging.getLogger("hypersio.engine")

# The buffer and the corker are compiled (hypersio.fanout): a broadcast appends to the buffers
# of its recipients from C, and the end-of-turn flush runs there too.
DEFAULT_HIGH_WATER = fanout.DEFAULT_HIGH_WATER
DEFAULT_HARD_LIMIT = fanout.DEFAULT_HARD_LIMIT
Corker = fanout.Corker
CorkedWriter = fanout.CorkedWriter


class Flushable(Protocol):
    """Anything the corker can flush: it owns a buffer and writes it out in one call."""

    def _flush_output(self) -> None: ...


_corkers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Corker]" = weakref.WeakKeyDictionary()


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
