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
from typing import Any, Protocol

logger = logging.getLogger("hypersio.engine")

# Defaults: the kernel socket buffer absorbs the first few hundred KiB on its own; past 1 MiB
# waiting in user space a client is slow, past 16 MiB it is not coming back.
DEFAULT_HIGH_WATER = 1 << 20
DEFAULT_HARD_LIMIT = 16 << 20


class Flushable(Protocol):
    """Anything the corker can flush: it owns a buffer and writes it out in one call."""

    def _flush_output(self) -> None: ...


class Corker:
    """Collects the objects written to during a loop turn and flushes them once, at its end.

    One corker serves every connection of a loop (see :func:`get_corker`); objects call
    :meth:`mark` the first time they buffer something in a turn.
    """

    __slots__ = ("_loop", "_dirty", "_scheduled", "__weakref__")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._dirty: list[Flushable] = []
        self._scheduled = False

    def mark(self, item: Flushable) -> None:
        """Queue ``item._flush_output()`` for the end of the current loop turn.

        The caller keeps its own "already marked" flag, so an item is marked at most once a turn.
        """
        self._dirty.append(item)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Flush every marked item now (normally called by the loop; also at shutdown)."""
        dirty = self._dirty
        self._dirty = []
        # A flush may mark further items (a polling session writing its answer into its HTTP
        # connection); those land in the new list and are flushed in the same pass.
        while dirty:
            for item in dirty:
                try:
                    item._flush_output()
                except Exception:  # one broken connection must not keep the others unflushed
                    logger.exception("error while flushing output of %r", item)
            dirty = self._dirty
            self._dirty = []
        self._scheduled = False


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


class CorkedWriter:
    """Output buffer for one connection, flushed by the corker; mix into an asyncio.Protocol.

    Subclasses call :meth:`_init_writer` in ``__init__``, set ``self.transport`` in
    ``connection_made`` and implement :meth:`_write_overflow` (what to do when a peer is so slow
    that the hard limit is passed; normally: log and close).
    """

    __slots__ = (
        "transport",
        "_corker",
        "_out",
        "_out_size",
        "_corked",
        "_paused_writing",
        "_close_after_flush",
        "_write_closed",
        "high_water",
        "hard_limit",
    )

    transport: Any
    _corker: Corker
    _out: list[bytes]
    _out_size: int
    _corked: bool
    _paused_writing: bool
    _close_after_flush: bool
    _write_closed: bool
    high_water: int
    hard_limit: int

    def _init_writer(self, corker: Corker, high_water: int = DEFAULT_HIGH_WATER, hard_limit: int = DEFAULT_HARD_LIMIT) -> None:
        self.transport = None
        self._corker = corker
        self._out = []
        self._out_size = 0
        self._corked = False
        self._paused_writing = False
        self._close_after_flush = False
        self._write_closed = False
        self.high_water = high_water
        self.hard_limit = hard_limit

    def write(self, data: bytes) -> None:
        """Append ``data`` to the output buffer; it goes out at the end of this loop turn.

        Past the hard limit the data is dropped and the connection is closed when the turn ends,
        not here: the caller may be in the middle of a broadcast loop.
        """
        if self._write_closed:
            return
        self._out.append(data)
        self._out_size += len(data)
        if not self._corked:
            self._corked = True
            self._corker.mark(self)
        if self._out_size > self.hard_limit:
            self._write_closed = True  # the corker calls _write_overflow at the end of the turn

    def close_after_flush(self) -> None:
        """Close the transport once what is buffered has been handed to it; later writes are dropped."""
        if self._write_closed:
            return
        self._close_after_flush = True
        self._write_closed = True
        if not self._corked:
            self._corked = True
            self._corker.mark(self)

    def buffered_size(self) -> int:
        """Bytes accepted but not yet sent: this turn's buffer plus the transport's backlog."""
        transport = self.transport
        backlog = transport.get_write_buffer_size() if transport is not None else 0
        return self._out_size + backlog

    def congested(self) -> bool:
        """True when the peer reads slower than we write: volatile messages should be dropped."""
        return self._paused_writing or self.buffered_size() > self.high_water

    def _flush_output(self) -> None:
        self._corked = False
        transport = self.transport
        out = self._out
        if self._out_size > self.hard_limit and not self._close_after_flush:
            size = self._out_size
            self._out = []
            self._out_size = 0
            self._write_overflow(size)
            return
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            self._out = []
            self._out_size = 0
            if transport is None or transport.is_closing():
                return
            transport.write(data)
            if not self._close_after_flush and transport.get_write_buffer_size() > self.hard_limit:
                self._write_overflow(transport.get_write_buffer_size())
                return
        if self._close_after_flush and transport is not None:
            self._close_after_flush = False
            transport.close()

    def _write_overflow(self, size: int) -> None:
        raise NotImplementedError

    # asyncio.Protocol flow control callbacks
    def pause_writing(self) -> None:
        """The transport's buffer passed its high-water mark: the peer is slow."""
        self._paused_writing = True

    def resume_writing(self) -> None:
        """The transport drained below its low-water mark."""
        self._paused_writing = False
