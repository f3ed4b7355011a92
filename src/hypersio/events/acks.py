"""Acknowledgements, shared by the server sockets and the client: ids, waiting callbacks, timeouts.

Nothing here knows about servers, namespaces or transports; the caller supplies a function that
sends an ACK packet and calls :meth:`PendingAcks.resolve` when one arrives.

How a socket-like object (server ``Socket`` or ``hypersio.AsyncClient``) uses this module:

* Outgoing emit that wants an answer: ``ack_id = pending.register_callback(cb, timeout)`` (the
  callback receives ``(*args)`` without a timeout, ``(err, *args)`` with one) or
  ``ack_id, fut = pending.register_future(timeout)`` (the future resolves to
  :func:`unpack_ack_args` of the answer, or fails with ``AckTimeoutError``); put ``ack_id`` in the
  EVENT packet.
* Incoming ACK packet: ``pending.resolve(packet.id, packet.data)``.
* Disconnect: ``pending.cancel_all(DisconnectedError(...))`` so nobody waits forever.
* Incoming EVENT with an id: build ``AckCallback(send)`` where ``send(args: list)`` writes the ACK
  packet; hand it to the handler (see :mod:`hypersio.events.emitter`); it sends at most once.
* ``takes_extra_arg(handler, n)`` tells whether a handler called with ``n`` positional arguments
  can take one more (the ack callable); the answer is cached per function.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import time
import weakref
from collections.abc import Callable, Iterator
from types import FunctionType, MethodType
from typing import Any, Protocol

from hypersio.exceptions import AckTimeoutError

logger = logging.getLogger("hypersio")

# Strong references to tasks started for coroutine handlers/callbacks: the event loop only keeps
# weak ones, and a task collected mid-flight would silently vanish.
_background_tasks: set[asyncio.Task[Any]] = set()


def run_callback(fn: Callable[..., Any], args: tuple[Any, ...] | list[Any], what: str = "callback") -> Any:
    """Call ``fn(*args)``; a coroutine result is scheduled as a task; an exception is logged.

    Used for every user-supplied function (handlers, ack callbacks, listeners) so that one bad
    handler is logged and never takes the connection or the server down. Returns the function's
    result (the task when it returned an awaitable, ``None`` when it raised).
    """
    try:
        result = fn(*args)
    except Exception:
        logger.exception("error in %s %r", what, fn)
        return None
    if inspect.isawaitable(result):
        return spawn(result, what, fn)
    return result


def spawn(awaitable: Any, what: str = "task", fn: Any = None) -> asyncio.Task[Any]:
    """Run ``awaitable`` as a task kept alive until done, logging any exception it raises."""
    task: asyncio.Task[Any] = asyncio.ensure_future(awaitable)
    _background_tasks.add(task)
    task.add_done_callback(_TaskDone(what, fn))
    return task


class _TaskDone:
    """Done-callback of a :func:`spawn` task: forget it, and log its exception with what it ran."""

    __slots__ = ("what", "fn")

    def __init__(self, what: str, fn: Any) -> None:
        self.what = what
        self.fn = fn

    def __call__(self, task: asyncio.Task[Any]) -> None:
        _background_tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error("error in %s %r", self.what, self.fn, exc_info=exc)


async def call_next_style(fn: Callable[..., Any], arg: Any) -> None:
    """Run a JS-style middleware ``fn(arg, next)`` and wait until it calls ``next()``.

    ``next(err)`` with an exception (or any non-None value, wrapped in ``ConnectError``) makes
    this raise it; an exception raised by ``fn`` itself propagates too. Used for namespace and
    socket middlewares ported from JavaScript.
    """
    from hypersio.exceptions import ConnectError

    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def next_(err: Any = None) -> None:
        if fut.done():
            return
        if err is None:
            fut.set_result(None)
        else:
            fut.set_exception(err if isinstance(err, BaseException) else ConnectError(str(err)))

    result = fn(arg, next_)
    if inspect.isawaitable(result):
        await result
    await fut


def unpack_ack_args(args: list[Any] | tuple[Any, ...]) -> Any:
    """Turn the argument list of an ACK into one Python value.

    ``[]`` → ``None``, ``[x]`` → ``x``, several → a tuple. This is what ``emit_with_ack``
    returns, so the common single-value answer needs no indexing.
    """
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


def pack_ack_result(result: Any) -> list[Any]:
    """Turn a handler's return value into ACK arguments: a tuple spreads, anything else is one."""
    if isinstance(result, tuple):
        return list(result)
    return [result]


# --- "can this handler take the ack callable?" ----------------------------------------------

# function -> (positional parameter count, accepts *args, is a coroutine function); keyed weakly
# on the function so handlers defined per connection do not accumulate. Plain functions skip it:
# their code object answers directly, faster than a cache lookup.
_shape_cache: weakref.WeakKeyDictionary[Any, tuple[int, bool, bool]] = weakref.WeakKeyDictionary()
_CO_VARARGS = inspect.CO_VARARGS
_CO_COROUTINE = inspect.CO_COROUTINE


def handler_shape(fn: Callable[..., Any]) -> tuple[int, bool, bool]:
    """(positional parameter count, has ``*args``, is a coroutine function) of ``fn``.

    A bound method's ``self`` is not counted. Computed once per handler when it is registered,
    so dispatching an event never inspects a signature.
    """
    bound = 0
    target: Any = fn
    if type(fn) is MethodType:
        target = fn.__func__
        bound = 1
    # A plain function with no attributes has no __wrapped__/__signature__ for inspect to follow,
    # so its code object is the whole truth (and a handler built per connection costs nothing).
    # (Reading ``__dict__`` would create an empty dict on the function, 64 bytes per handler
    # closure, so the attributes inspect follows are looked up instead.)
    if (
        type(target) is FunctionType
        and getattr(target, "__wrapped__", None) is None
        and getattr(target, "__signature__", None) is None
        and getattr(target, "_partialmethod", None) is None
    ):
        code = target.__code__
        flags = code.co_flags
        return (code.co_argcount - bound, bool(flags & _CO_VARARGS), bool(flags & _CO_COROUTINE))
    try:
        cached = _shape_cache.get(target)
    except TypeError:  # unhashable callable object
        cached = None
    if cached is None:
        count = 0
        var = False
        try:
            sig = inspect.signature(target)
        except (TypeError, ValueError):
            var = True  # builtins without a signature: assume they take anything
        else:
            for param in sig.parameters.values():
                if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
                    count += 1
                elif param.kind is param.VAR_POSITIONAL:
                    var = True
        cached = (count, var, inspect.iscoroutinefunction(target))
        try:
            _shape_cache[target] = cached
        except TypeError:
            pass  # not weak-referenceable or unhashable: recompute next time
    count, var, coro = cached
    return (count - bound, var, coro)


def _capacity(fn: Callable[..., Any]) -> tuple[int, bool]:
    """(positional parameter count, has *args) of ``fn``, bound ``self`` excluded."""
    count, var, _ = handler_shape(fn)
    return (count, var)


def takes_extra_arg(fn: Callable[..., Any], nargs: int) -> bool:
    """True when ``fn`` called with ``nargs`` positional arguments can take one more.

    That extra argument is the ack callable, passed last like in the JavaScript API, only to
    handlers that have room for it (a spare positional parameter or ``*args``).
    """
    count, var = _capacity(fn)
    return var or count > nargs


# --- the once-only ack callable ------------------------------------------------------------


class Ack(Protocol):
    """What a handler's ack callable offers: :class:`AckCallback` and the server's
    ``hypersio.events.dispatch.SocketAck`` both are one."""

    def __call__(self, *args: Any) -> None:
        """Send the ACK with ``args`` (only the first answer is sent)."""
        ...

    def send_result(self, result: Any) -> None:
        """Answer with a handler's return value (a tuple spreads into several arguments)."""
        ...

    def from_task(self, task: asyncio.Task[Any]) -> None:
        """Done-callback of a coroutine handler's task: its non-None result is the answer."""
        ...


class AckCallback:
    """The callable a handler receives to answer an event that asked for an acknowledgement.

    ``ack(*args)`` sends the ACK with ``args``; only the first call sends, later ones are ignored
    (and logged at debug level), so a handler that both calls it and returns a value is safe.
    ``send`` is the owner's function that writes the ACK packet from a list of arguments.
    """

    __slots__ = ("_send", "sent")

    def __init__(self, send: Callable[[list[Any]], None]) -> None:
        self._send = send
        self.sent = False

    def __call__(self, *args: Any) -> None:
        if self.sent:
            logger.debug("ack already sent; ignoring %r", args)
            return
        self.sent = True
        self._send(list(args))

    def send_result(self, result: Any) -> None:
        """Answer with a handler's return value (a tuple spreads into several arguments)."""
        if self.sent:
            logger.debug("ack already sent; ignoring the return value %r", result)
            return
        self.sent = True
        self._send(list(result) if isinstance(result, tuple) else [result])

    def from_task(self, task: asyncio.Task[Any]) -> None:
        """Done-callback of a coroutine handler's task: its non-None result is the answer."""
        if task.cancelled() or task.exception() is not None:
            return  # the failure was logged by spawn(); a broken handler sends no ack
        result = task.result()
        if result is not None:
            self.send_result(result)

    def __repr__(self) -> str:
        return f"<AckCallback sent={self.sent}>"


# --- waiting for answers to our own emits ---------------------------------------------------


class _Pending:
    __slots__ = ("on_ack", "on_error", "timer")

    def __init__(
        self,
        on_ack: Callable[[list[Any]], None],
        on_error: Callable[[BaseException], None] | None,
        timer: asyncio.TimerHandle | None,
    ) -> None:
        self.on_ack = on_ack
        self.on_error = on_error
        self.timer = timer


# The pending table of every registry that has registered nothing yet: only read, never written
# (``register`` swaps in a dict of its own first).
_NO_PENDING: dict[int, _Pending] = {}


class PendingAcks:
    """The acks one socket is waiting for: id → what to do when the answer (or no answer) comes.

    ``ids`` is the id source; pass one shared iterator when several registries must never reuse
    an id (a server namespace shares one between its sockets and its broadcasts, as socket.io
    does), or leave it ``None`` for a private counter starting at 0.

    ``latency_observer`` (None unless metrics are on) is called with the seconds between the
    registration of an ack and its answer; only then is the start time taken.
    """

    def __init__(self, ids: Iterator[int] | None = None) -> None:
        self._ids = ids if ids is not None else itertools.count()
        # The shared empty table until the first ack is registered: a socket that never waits
        # for an ack (most of an idle server's) does not pay ~64 bytes for an empty dict.
        self._pending: dict[int, _Pending] = _NO_PENDING
        self.latency_observer: Callable[[float], None] | None = None
        # Made on the first measured ack: an empty dict per socket would cost ~64 bytes each.
        self._started: dict[int, float] | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, ack_id: object) -> bool:
        return ack_id in self._pending

    def next_id(self) -> int:
        """A fresh ack id from this registry's id source."""
        return next(self._ids)

    def register(
        self,
        on_ack: Callable[[list[Any]], None],
        on_error: Callable[[BaseException], None] | None = None,
        timeout: float | None = None,
        ack_id: int | None = None,
    ) -> int:
        """Wait for the ACK ``ack_id`` (a new id when None) and return the id.

        ``on_ack(args)`` runs when it arrives; ``on_error(exc)`` runs with ``AckTimeoutError``
        after ``timeout`` seconds, or with the error given to :meth:`cancel_all`. Exactly one of
        them runs, at most once. This is the low-level form used by broadcasts; see
        :meth:`register_callback` and :meth:`register_future` for the usual ones.
        """
        if ack_id is None:
            ack_id = next(self._ids)
        timer = None
        if timeout is not None:
            timer = asyncio.get_running_loop().call_later(timeout, self._expire, ack_id)
        pending = self._pending
        if pending is _NO_PENDING:
            pending = self._pending = {}
        pending[ack_id] = _Pending(on_ack, on_error, timer)
        if self.latency_observer is not None:
            if self._started is None:
                self._started = {}
            self._started[ack_id] = time.monotonic()
        return ack_id

    def register_callback(self, callback: Callable[..., Any], timeout: float | None = None) -> int:
        """Wait for an answer delivered to ``callback``; returns the ack id to put in the packet.

        Without a timeout the callback receives the ack arguments; with one it receives
        ``(None, *args)``, or ``(AckTimeoutError(...),)`` when no answer came in time (the JS
        error-first convention, as ``socket.timeout(t).emit(..., cb)`` promises).
        """
        if timeout is None:
            return self.register(lambda args: run_callback(callback, args, "ack callback"))
        return self.register(
            lambda args: run_callback(callback, [None, *args], "ack callback"),
            lambda exc: run_callback(callback, (exc,), "ack callback"),
            timeout,
        )

    def register_future(self, timeout: float | None = None) -> tuple[int, asyncio.Future[Any]]:
        """Wait for an answer as a future: resolves to :func:`unpack_ack_args` of the ACK."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def on_ack(args: list[Any]) -> None:
            if not fut.done():
                fut.set_result(unpack_ack_args(args))

        def on_error(exc: BaseException) -> None:
            if not fut.done():
                fut.set_exception(exc)

        return self.register(on_ack, on_error, timeout), fut

    def resolve(self, ack_id: int | None, args: list[Any] | None) -> bool:
        """Deliver an incoming ACK; False when nobody waits for that id (late or bogus)."""
        entry = self._pending.pop(ack_id, None)  # type: ignore[arg-type]
        if entry is None:
            return False
        if entry.timer is not None:
            entry.timer.cancel()
        if self._started:
            started = self._started.pop(ack_id, None)  # type: ignore[arg-type]
            if started is not None and self.latency_observer is not None:
                self.latency_observer(time.monotonic() - started)
        try:
            entry.on_ack(list(args) if args is not None else [])
        except Exception:
            logger.exception("error while handling ack %s", ack_id)
        return True

    def discard(self, ack_id: int) -> None:
        """Stop waiting for ``ack_id`` without calling anything."""
        if self._started:
            self._started.pop(ack_id, None)
        entry = self._pending.pop(ack_id, None)
        if entry is not None and entry.timer is not None:
            entry.timer.cancel()

    def _expire(self, ack_id: int) -> None:
        if self._started:
            self._started.pop(ack_id, None)
        entry = self._pending.pop(ack_id, None)
        if entry is None:
            return
        if entry.on_error is not None:
            try:
                entry.on_error(AckTimeoutError(f"ack {ack_id} timed out"))
            except Exception:
                logger.exception("error while handling ack timeout %s", ack_id)

    def cancel_all(self, error: BaseException) -> None:
        """Fail every waiting ack with ``error`` (callers pass DisconnectedError on disconnect).

        Entries without an error handler (plain callbacks without timeout) are dropped: their
        callback is never called, as in socket.io.
        """
        pending, self._pending = self._pending, _NO_PENDING
        if self._started:
            self._started.clear()
        for entry in pending.values():
            if entry.timer is not None:
                entry.timer.cancel()
            if entry.on_error is not None:
                try:
                    entry.on_error(error)
                except Exception:
                    logger.exception("error while cancelling an ack")
