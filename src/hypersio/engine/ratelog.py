"""Warnings that a peer cannot multiply: at most one line per kind per interval, the next one
saying how many were left out. Bad input from the network is logged this way everywhere (the
WebSocket protocol errors, the cluster messages), so garbage on every message, or from many
connections, costs the log a line every few seconds instead of one per packet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """``log(kind, message, *args)`` warns on ``logger`` unless ``kind`` was logged less than
    ``interval`` seconds ago; then it only counts, and the next line of that kind says how many
    were left out."""

    __slots__ = ("logger", "interval", "_last", "_suppressed")

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[Hashable, float] = {}
        self._suppressed: dict[Hashable, int] = {}

    def __call__(self, kind: Hashable, message: str, *args: object) -> None:
        """Log ``message % args`` as a warning, or count it (see the class docstring)."""
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        self._last[kind] = now
        left_out = self._suppressed.pop(kind, 0)
        if left_out:
            message += " (%d more like it in the last %.0f s not logged)"
            args = (*args, left_out, self.interval)
        self.logger.warning(message, *args)
