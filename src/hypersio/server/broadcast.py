"""BroadcastOperator: an immutable description of "these sockets, with these flags".

Returned by ``sio.to(...)``, ``socket.broadcast``, ``nsp.except_(...)`` and friends; every
chaining method returns a new operator, so a saved operator can be reused safely::

    room = sio.to("room1")
    room.emit("a")                          # everyone in room1
    room.except_("muted").volatile.emit("b")
    answers = await sio.timeout(2).emit_with_ack("ping")
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from hypersio.adapters.base import BroadcastAdapter, BroadcastOptions, SocketView
from hypersio.events.acks import run_callback, unpack_ack_args
from hypersio.exceptions import AckTimeoutError
from hypersio.protocol.socketio.packet import RESERVED_EVENTS

__all__ = ["BroadcastOperator", "room_set"]


def room_set(rooms: str | Iterable[str]) -> frozenset[str]:
    """The room names of a ``to``/``except_``/``join`` argument: one name, or several."""
    if isinstance(rooms, str):
        return frozenset((rooms,))
    return frozenset(rooms)


class BroadcastOperator:
    """Targets a set of sockets of one namespace: rooms to reach, rooms to skip, and flags."""

    __slots__ = ("_adapter", "_opts")

    def __init__(self, adapter: BroadcastAdapter, opts: BroadcastOptions | None = None) -> None:
        self._adapter = adapter
        self._opts = opts if opts is not None else BroadcastOptions()

    def _with(self, **changes: Any) -> BroadcastOperator:
        return BroadcastOperator(self._adapter, self._opts.replace(**changes))

    def __repr__(self) -> str:
        o = self._opts
        return (
            f"<BroadcastOperator nsp={self._adapter.nsp.name!r} rooms={sorted(o.rooms)} "
            f"except={sorted(o.except_rooms)} volatile={o.volatile} local={o.local} timeout={o.timeout}>"
        )

    # --- chaining -----------------------------------------------------------------------------

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """A new operator that also targets ``rooms`` (a name or several); union with earlier ones."""
        current = self._opts.rooms
        added = room_set(rooms)
        return self._with(rooms=current | added if current else added)

    def in_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Alias of :meth:`to` (``in`` is a Python keyword)."""
        return self.to(rooms)

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """A new operator that skips the sockets in ``rooms``."""
        return self._with(except_rooms=self._opts.except_rooms | room_set(rooms))

    @property
    def volatile(self) -> BroadcastOperator:
        """A new operator whose packets may be dropped for clients that are not ready (slow)."""
        return self._with(volatile=True)

    @property
    def local(self) -> BroadcastOperator:
        """A new operator that only reaches sockets of this process (matters with a cluster adapter)."""
        return self._with(local=True)

    def compress(self, flag: bool) -> BroadcastOperator:
        """A new operator with the compression flag set (kept for API parity with socket.io)."""
        return self._with(compress=bool(flag))

    def timeout(self, seconds: float) -> BroadcastOperator:
        """A new operator whose acks must arrive within ``seconds``."""
        return self._with(timeout=float(seconds))

    # --- emitting -----------------------------------------------------------------------------

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` to every targeted socket; never blocks.

        A trailing callable asks every client for an ack: it is called once as
        ``callback(err, responses)`` — ``err`` is None, or an ``AckTimeoutError`` when some
        clients did not answer within ``timeout()``; ``responses`` lists one answer per client
        that answered (a client's answer is its single ack argument, a tuple for several).
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        if args and callable(args[-1]):
            callback = args[-1]
            self._emit_with_ack_callback(
                [event, *args[:-1]], lambda err, res: run_callback(callback, (err, res), "ack callback")
            )
            return
        self._adapter.broadcast([event, *args], self._opts)

    def _emit_with_ack_callback(self, data: list[Any], done: Callable[[Any, list[Any]], None]) -> None:
        responses: list[Any] = []
        state = _AckCount()
        timer: asyncio.TimerHandle | None = None

        def finish(err: Any) -> None:
            if state.finished:
                return
            state.finished = True
            if timer is not None:
                timer.cancel()
            done(err, responses)

        def check() -> None:
            expected = state.expected
            if expected is not None and len(responses) + state.failed >= expected:
                if state.failed and self._opts.timeout is not None:
                    return  # a client left: let the timer report the missing answers
                finish(None)

        def on_client(sock: SocketView, ack_id: int) -> None:
            def on_ack(args: list[Any]) -> None:
                responses.append(unpack_ack_args(args))
                check()

            def on_error(exc: BaseException) -> None:
                state.failed += 1
                check()

            sock.acks.register(on_ack, on_error, None, ack_id)

        if self._opts.timeout is not None:
            timeout = self._opts.timeout
            timer = asyncio.get_running_loop().call_later(
                timeout,
                lambda: finish(AckTimeoutError(f"not every client acknowledged within {timeout}s")),
            )
        try:
            state.expected = self._adapter.broadcast_with_ack(data, self._opts, on_client)
        except Exception:
            state.finished = True  # unencodable arguments: report to the caller, not later
            if timer is not None:
                timer.cancel()
            raise
        check()

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send ``event`` to every targeted socket and wait for all their acks.

        Returns the list of answers (one per client). Raises ``AckTimeoutError`` when some
        clients did not answer within ``timeout()``; without a timeout it waits until every
        client answered or disconnected.
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        def done(err: Any, responses: list[Any]) -> None:
            if fut.done():
                return
            if err is not None:
                fut.set_exception(err)
            else:
                fut.set_result(responses)

        self._emit_with_ack_callback([event, *args], done)
        return await fut

    # --- acting on the targeted sockets ---------------------------------------------------------

    async def fetch_sockets(self) -> list[Any]:
        """The targeted sockets (``Socket`` objects in memory; remote stand-ins with a cluster)."""
        return await self._adapter.fetch_sockets(self._opts)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make every targeted socket join ``rooms``."""
        self._adapter.add_sockets(self._opts, sorted(room_set(rooms)))

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make every targeted socket leave ``rooms``."""
        self._adapter.del_sockets(self._opts, sorted(room_set(rooms)))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every targeted socket; ``close=True`` also closes their connections."""
        self._adapter.disconnect_sockets(self._opts, close)


class _AckCount:
    """The answers a broadcast with acks still waits for (how many were sent, failed, done)."""

    __slots__ = ("expected", "failed", "finished")

    def __init__(self) -> None:
        self.expected: int | None = None
        self.failed = 0
        self.finished = False
