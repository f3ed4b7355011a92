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

_SERVER_SIDE_RESERVED = frozenset(("connect", "connection", "new_namespace", "disconnect", "disconnecting"))


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
        """A new operator with the compression flag set: ``compress(False)`` sends the broadcast
        uncompressed on every transport (it is compressed at most once either way)."""
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
        state = _AckCount(done, self._opts.timeout is not None)

        def on_client(sock: SocketView, ack_id: int) -> None:
            def on_ack(args: list[Any]) -> None:
                state.answer(unpack_ack_args(args))

            def on_error(exc: BaseException) -> None:
                state.failed += 1
                state.check()

            sock.acks.register(on_ack, on_error, None, ack_id)

        if self._opts.timeout is not None:
            timeout = self._opts.timeout
            state.timer = asyncio.get_running_loop().call_later(
                timeout,
                lambda: state.finish(AckTimeoutError(f"not every client acknowledged within {timeout}s")),
            )
        try:
            state.local = self._adapter.broadcast_with_ack(data, self._opts, on_client, state)
        except Exception:
            state.finished = True  # unencodable arguments: report to the caller, not later
            if state.timer is not None:
                state.timer.cancel()
            raise
        state.check()

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send ``event`` to every targeted socket and wait for all their acks.

        Returns the list of answers (one per client). Raises ``AckTimeoutError`` when some
        clients did not answer within ``timeout()``; without a timeout it waits until every
        client answered or disconnected.
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        fut, done = _future_callback()
        self._emit_with_ack_callback([event, *args], done)
        return await fut

    # --- the other servers of a cluster ---------------------------------------------------------

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the namespace's listeners on the other servers of a cluster.

        A trailing callable asks each of them for an answer and is called once as
        ``callback(err, responses)``: one response per other server, ``err`` a
        ``ClusterTimeoutError`` when some did not answer within ``timeout()`` (or the adapter's
        requests timeout). Rooms and flags other than the timeout do not apply.
        """
        if event in _SERVER_SIDE_RESERVED:
            raise ValueError(f'"{event}" is a reserved event name')
        if args and callable(args[-1]):
            callback = args[-1]
            self._adapter.server_side_emit(
                [event, *args[:-1]],
                lambda err, res: run_callback(callback, (err, res), "server-side emit callback"),
                self._opts.timeout,
            )
            return
        self._adapter.server_side_emit([event, *args])

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send ``event`` to the other servers' listeners and return their answers (one per
        server); raises ``ClusterTimeoutError`` (carrying the answers so far) on timeout."""
        if event in _SERVER_SIDE_RESERVED:
            raise ValueError(f'"{event}" is a reserved event name')
        fut, done = _future_callback()
        self._adapter.server_side_emit([event, *args], done, self._opts.timeout)
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


def _future_callback() -> tuple[asyncio.Future[list[Any]], Callable[[Any, list[Any]], None]]:
    """A future and the ``done(err, responses)`` callback that settles it once (the awaitable
    forms of the callback APIs)."""
    fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

    def done(err: Any, responses: list[Any]) -> None:
        if fut.done():
            return
        if err is not None:
            fut.set_exception(err)
        else:
            fut.set_result(responses)

    return fut, done


class _AckCount:
    """The answers a broadcast with acks still waits for: its local recipients (``local``, set
    once the local fan-out is done), the other servers' reports (a cluster adapter's
    :class:`~hypersio.adapters.base.RemoteAcks`), answers and failures."""

    __slots__ = ("done", "timed", "timer", "local", "servers", "reported", "remote", "failed", "responses", "finished")

    def __init__(self, done: Callable[[Any, list[Any]], None], timed: bool) -> None:
        self.done = done
        self.timed = timed
        self.timer: asyncio.TimerHandle | None = None
        self.local: int | None = None
        self.servers: int | None = 0  # other servers that will report a client count (None: not known yet)
        self.reported = 0  # of those, how many did
        self.remote = 0  # clients the other servers reached
        self.failed = 0
        self.responses: list[Any] = []
        self.finished = False

    def finish(self, err: Any) -> None:
        if self.finished:
            return
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()
        self.done(err, self.responses)

    def check(self) -> None:
        if self.local is None or self.servers is None or self.reported < self.servers:
            return
        if len(self.responses) + self.failed >= self.local + self.remote:
            if self.failed and self.timed:
                return  # a client left: let the timer report the missing answers
            self.finish(None)

    # RemoteAcks
    def expect_servers(self, count: int | None) -> None:
        self.servers = count
        self.check()

    def client_count(self, count: int) -> None:
        self.reported += 1
        self.remote += count
        self.check()

    def answer(self, value: Any) -> None:
        self.responses.append(value)
        self.check()

    def give_up(self, error: BaseException) -> None:
        self.finish(error)
