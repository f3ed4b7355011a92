"""MemoryBudget: two process-wide totals (output waiting for slow clients, unfinished incoming
packets) and what happens when one passes its limit.

Each connection's buffers are capped on their own (``write_buffer_limit``, ``max_http_buffer_size``,
``max_attachments``), but a few dozen clients at their caps add up to gigabytes. The budget
bounds the sums. Keeping them costs nothing on the hot paths because only the bytes past what a
healthy connection holds are counted, at the places where their size is already known:

- output: the transport's write buffer of a connection whose transport paused writing (past
  ``write_buffer_high_water``), taken at each flush while paused and dropped on resume; a
  long-polling queue once it passes the high water, at each push and dropped when answered;
- input: a WebSocket parser's partial frame or unfinished fragmented message once it holds
  :data:`INPUT_COUNTED_FROM` bytes or more (taken after each read), a POST body from that size
  while it arrives, and the parts of a Socket.IO packet waiting for its binary attachments.

A connection that is not behind is not counted at all (it holds at most the high water or
:data:`INPUT_COUNTED_FROM` bytes of each kind). Past a limit, the holders are asked for their
exact size and the largest ones are closed until the total is back under the limit (each close
logged, rate-limited, and counted in ``EngineStats.budget_closes``). When the totals fall a long
way from their high point (the offenders gone, a burst drained), glibc is asked to give the
freed memory back to the system (``malloc_trim``), at most once every :data:`TRIM_INTERVAL`.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import sys
import time
from typing import Any, Protocol

from hypersio.engine.ratelog import RateLimitedLog

__all__ = [
    "DEFAULT_MAX_BUFFERED_OUTPUT",
    "DEFAULT_MAX_UNFINISHED_INPUT",
    "INPUT_COUNTED_FROM",
    "TRIM_DROP",
    "TRIM_INTERVAL",
    "BudgetHolder",
    "MemoryBudget",
    "malloc_trim",
]

logger = logging.getLogger("hypersio.engine")

#: Output waiting for slow clients, all connections together: sixteen clients at the default
#: per-connection ``write_buffer_limit`` (16 MiB). Healthy clients are not counted (under 1 MiB).
DEFAULT_MAX_BUFFERED_OUTPUT = 256 << 20
#: Unfinished incoming packets, all connections together: 64 messages of the default
#: ``max_http_buffer_size`` (1 MB) in the middle of arriving at once, or six clients each holding
#: a packet whose ten attachments have not all arrived.
DEFAULT_MAX_UNFINISHED_INPUT = 64 << 20
#: A WebSocket parser or a POST body holding less than this is not counted (a large message
#: split over a few reads is normal; asking for the exact figure on every read is not free).
INPUT_COUNTED_FROM = 64 << 10
#: The totals must fall this far from their high point before memory is handed back...
TRIM_DROP = 16 << 20
#: ... and ``malloc_trim`` runs at most once per this many seconds (it walks the whole heap).
TRIM_INTERVAL = 5.0

OUTPUT = "output"
INPUT = "input"


class BudgetHolder(Protocol):
    """Something the budget counts bytes for: an HTTP/WebSocket connection, a long-polling
    queue, a Socket.IO connection's decoder."""

    def budget_size(self, kind: str) -> int:
        """The exact number of bytes of ``kind`` ("output" or "input") it counts now."""

    def budget_close(self, kind: str) -> None:
        """Close this connection: it is among the largest holders of ``kind`` past the limit."""


def _load_malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        gnu_get_libc_version = libc.gnu_get_libc_version  # only glibc has it (not musl)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    gnu_get_libc_version.restype = ctypes.c_char_p
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _load_malloc_trim()


def malloc_trim() -> bool:
    """Ask glibc to return the free memory at the top of its heaps to the system; True when it
    ran (False off glibc). Freed memory otherwise stays in the process after a burst."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


class MemoryBudget:
    """The two totals of one Engine.IO server and their limits (None: that total is not bounded).

    ``output`` and ``input`` are the bytes counted now; ``closes`` counts the connections closed
    because a total passed its limit, by kind (``{"output": n, "input": m}``); ``trims`` counts
    the ``malloc_trim`` calls. The engine
    parts report with :meth:`set_output`, :meth:`set_input` and :meth:`release`; nothing here is
    called for a connection that is not behind.
    """

    __slots__ = (
        "output_limit",
        "input_limit",
        "output",
        "input",
        "closes",
        "trims",
        "stats",
        "_out",
        "_in",
        "_enforce_scheduled",
        "_high",
        "_trim_handle",
        "_trimmed_at",
        "_log",
    )

    def __init__(self, output_limit: int | None, input_limit: int | None, stats: Any = None) -> None:
        for name, value in (("max_buffered_output", output_limit), ("max_unfinished_input", input_limit)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
                raise ValueError(f"{name} must be a positive number of bytes or None")
        self.output_limit = output_limit
        self.input_limit = input_limit
        self.output = 0
        self.input = 0
        self.closes: dict[str, int] = {OUTPUT: 0, INPUT: 0}
        self.trims = 0
        self.stats = stats
        self._out: dict[BudgetHolder, int] = {}
        self._in: dict[BudgetHolder, int] = {}
        self._enforce_scheduled = False
        self._high = 0
        self._trim_handle: asyncio.Handle | None = None
        self._trimmed_at = -1e9
        self._log = RateLimitedLog(logger, 10.0)

    def __repr__(self) -> str:
        return (
            f"<MemoryBudget output={self.output}/{self.output_limit} input={self.input}/{self.input_limit}"
            f" holders={len(self._out)}+{len(self._in)}>"
        )

    def holders(self, kind: str) -> dict[BudgetHolder, int]:
        """The holders counted for ``kind`` with their bytes (a copy; for tests and metrics)."""
        return dict(self._out if kind == OUTPUT else self._in)

    # ---- reporting (called by the engine parts, only for connections that are behind) --------
    def set_output(self, holder: BudgetHolder, nbytes: int) -> None:
        """``holder`` now holds ``nbytes`` of output past its high water (0: none)."""
        old = self._out.pop(holder, 0)
        if nbytes > 0:
            self._out[holder] = nbytes
        else:
            nbytes = 0
        self.output += nbytes - old
        self._changed(nbytes - old, self.output_limit is not None and self.output > self.output_limit)

    def set_input(self, holder: BudgetHolder, nbytes: int) -> None:
        """``holder`` now holds ``nbytes`` of unfinished incoming packets (0: none)."""
        old = self._in.pop(holder, 0)
        if nbytes > 0:
            self._in[holder] = nbytes
        else:
            nbytes = 0
        self.input += nbytes - old
        self._changed(nbytes - old, self.input_limit is not None and self.input > self.input_limit)

    def release(self, holder: BudgetHolder) -> None:
        """``holder`` is gone: it counts for nothing any more (called when a connection closes)."""
        old_out = self._out.pop(holder, 0)
        old_in = self._in.pop(holder, 0)
        if old_out or old_in:
            self.output -= old_out
            self.input -= old_in
            self._changed(-(old_out + old_in), False)

    def _changed(self, delta: int, over: bool) -> None:
        if delta > 0:
            total = self.output + self.input
            self._high = max(self._high, total)
            if over and not self._enforce_scheduled:
                # Not now: the caller may be in the middle of a flush or a read.
                self._enforce_scheduled = True
                try:
                    asyncio.get_running_loop().call_soon(self.enforce)
                except RuntimeError:  # no loop (a test driving the parts by hand)
                    self.enforce()
        elif delta < 0 and self._trim_handle is None and self._high - (self.output + self.input) >= TRIM_DROP:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            wait = max(0.5, self._trimmed_at + TRIM_INTERVAL - time.monotonic())
            self._trim_handle = loop.call_later(wait, self._trim)

    # ---- past a limit -------------------------------------------------------------------------
    def enforce(self) -> None:
        """Close the largest holders of each total that is over its limit until it is under."""
        # Stays set while enforcing: the refreshes and closes below must not schedule another pass.
        self._enforce_scheduled = True
        try:
            self._enforce(OUTPUT, self._out, self.output_limit)
            self._enforce(INPUT, self._in, self.input_limit)
        finally:
            self._enforce_scheduled = False

    def _enforce(self, kind: str, held: dict[BudgetHolder, int], limit: int | None) -> None:
        if limit is None or self._total(kind) <= limit:
            return
        # The counted figures can be stale (a paused transport drains between flushes): ask.
        for holder in list(held):
            size = holder.budget_size(kind)
            (self.set_output if kind == OUTPUT else self.set_input)(holder, size)
        for holder, size in sorted(held.items(), key=lambda item: item[1], reverse=True):
            total = self._total(kind)
            if total <= limit:
                break
            self.closes[kind] += 1
            if self.stats is not None:
                self.stats.budget_closes += 1
            self._log(
                kind,
                "closing %r: it holds %d bytes of %s; %s of all connections %d > limit %d",
                holder,
                size,
                "buffered output" if kind == OUTPUT else "unfinished incoming packets",
                "buffered output" if kind == OUTPUT else "unfinished input",
                total,
                limit,
            )
            self.release(holder)  # at once: the close itself may take a loop turn
            try:
                holder.budget_close(kind)
            except Exception:  # one failing close must not keep the others open
                logger.exception("error while closing %r for the memory budget", holder)

    def _total(self, kind: str) -> int:
        return self.output if kind == OUTPUT else self.input

    # ---- giving memory back -------------------------------------------------------------------
    def _trim(self) -> None:
        self._trim_handle = None
        now = time.monotonic()
        if now - self._trimmed_at < TRIM_INTERVAL:
            return
        self._trimmed_at = now
        self._high = self.output + self.input
        if malloc_trim():
            self.trims += 1
            logger.debug("malloc_trim after the buffered totals fell (%d ms)", (time.monotonic() - now) * 1000)
