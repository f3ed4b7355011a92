"""At-least-once delivery for the client's ``retries`` option, as socket.io-client does it.

With ``retries=N`` every (non-volatile) emit goes through a FIFO queue: one packet is in flight
at a time, always with an acknowledgement; when its ack times out (or the connection drops) it
is sent again, up to N more times, and then fails. The next packet leaves only once the head is
acknowledged or has failed, so order is kept. The server may see a packet more than once; the
application makes its handler idempotent if that matters.

The queue sits below the client: it reads the client through :class:`RetryOwner`, sends through
the ``send`` callable the client hands in, and registers its waits in the client's acks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from hypersio.events.acks import PendingAcks, run_callback, unpack_ack_args

__all__ = ["RetryOwner", "RetryQueue", "SendEvent"]

#: ``send(event, args, ack_id, volatile)``: write one EVENT packet (the client's send path).
SendEvent = Callable[[str, list[Any], int | None, bool], None]


class RetryOwner(Protocol):
    """What the queue reads of its client."""

    @property
    def connected(self) -> bool:
        """True while the namespace is connected (only then does the head leave)."""
        ...

    @property
    def retries(self) -> int:
        """How many times a packet is sent again before it fails."""
        ...


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

    def __init__(self, owner: RetryOwner, send: SendEvent, acks: PendingAcks) -> None:
        self._owner = owner
        self._send = send
        self._acks = acks
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
        if not self._owner.connected or not self._entries:
            return
        entry = self._entries[0]
        if entry.pending and not force:
            return
        entry.pending = True
        entry.tries += 1
        self._send(entry.event, entry.args, self._register(entry), False)

    def _register(self, entry: _Entry) -> int:
        acks = self._acks
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
            if entry.tries > self._owner.retries:
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
