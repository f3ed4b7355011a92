"""At-least-once delivery for the client's ``retries`` option, as socket.io-client does it.

With ``retries=N`` every (non-volatile) emit goes through a FIFO queue: one packet is in flight
at a time, always with an acknowledgement; when its ack times out (or the connection drops) it
is sent again, up to N more times, and then fails. The next packet leaves only once the head is
acknowledged or has failed, so order is kept. The server may see a packet more than once; the
application makes its handler idempotent if that matters.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hypersio.events.acks import run_callback, unpack_ack_args

if TYPE_CHECKING:
    from hypersio.client.client import AsyncClient

__all__ = ["RetryQueue"]


class _Entry:
    __slots__ = ("event", "args", "callback", "timeout", "tries", "pending")

    def __init__(self, event: str, args: list[Any], callback: Callable[..., Any] | None, timeout: float | None) -> None:
        self.event = event
        self.args = args
        self.callback = callback
        self.timeout = timeout
        self.tries = 0
        self.pending = False


class RetryQueue:
    """The queue of one client; see the module docstring."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._entries: deque[_Entry] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, event: str, args: list[Any], callback: Callable[..., Any] | None, timeout: float | None) -> None:
        """Queue one emit; ``callback`` gets ``(err, *args)`` with a timeout, else ``(*args)``."""
        self._entries.append(_Entry(event, args, callback, timeout))
        self.drain()

    def add_future(self, event: str, args: list[Any], timeout: float | None) -> asyncio.Future[Any]:
        """Queue one emit and return a future for its ack (fails with the last error)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def done(*result: Any) -> None:
            if fut.done():
                return
            if timeout is None:
                fut.set_result(unpack_ack_args(result))
            elif result[0] is not None:
                fut.set_exception(result[0])
            else:
                fut.set_result(unpack_ack_args(result[1:]))

        self.add(event, args, done, timeout)
        return fut

    def clear(self) -> None:
        """Forget every queued emit (the client was disconnected on purpose)."""
        self._entries.clear()

    def drain(self, force: bool = False) -> None:
        """Send the head of the queue if nothing is in flight (``force``: after a reconnection)."""
        client = self._client
        if not client.connected or not self._entries:
            return
        entry = self._entries[0]
        if entry.pending and not force:
            return
        entry.pending = True
        entry.tries += 1
        client._send_event(entry.event, entry.args, self._register(entry), False)

    def _register(self, entry: _Entry) -> int:
        acks = self._client._acks
        if entry.timeout is None:
            return acks.register(lambda args: self._answered(entry, None, args))
        return acks.register(
            lambda args: self._answered(entry, None, args),
            lambda exc: self._answered(entry, exc, []),
            entry.timeout,
        )

    def _answered(self, entry: _Entry, error: BaseException | None, args: list[Any]) -> None:
        if not self._entries or self._entries[0] is not entry:
            return  # an earlier try of this packet was already acknowledged
        if error is not None:
            if entry.tries > self._client.retries:
                self._entries.popleft()
                if entry.callback is not None:
                    run_callback(entry.callback, (error,), "ack callback")
        else:
            self._entries.popleft()
            if entry.callback is not None:
                call_args = args if entry.timeout is None else [None, *args]
                run_callback(entry.callback, call_args, "ack callback")
        entry.pending = False
        self.drain()
