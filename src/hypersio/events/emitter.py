"""EventEmitter: the handler registry shared by server sockets, namespaces and the client.

It holds event handlers, catch-all ("any") listeners for incoming events and for outgoing ones,
and dispatches one incoming event the way socket.io does: any-listeners first, then the event's
handlers in registration order. Sync handlers run inline; a handler that returns an awaitable
(a coroutine function) has it scheduled as a task. A handler that raises is logged and the next
one still runs.

How an owner (server ``Socket``, ``Namespace``, ``hypersio.AsyncClient``) uses it:

* subclass it (it uses ``__slots__``-free plain attributes, call ``super().__init__()``);
* incoming EVENT → ``self._dispatch_event(event, args, ack)`` where ``ack`` is an
  :class:`hypersio.events.acks.AckCallback` (or the server's ``hypersio.events.dispatch.SocketAck``, same
  interface: call, ``send_result``, ``from_task``) when the peer asked for one, else ``None``;
* reserved local events (``connect``, ``disconnect`` ...) → ``self._emit_reserved(name, *args)``
  (handlers only, no any-listeners, no ack);
* before sending an EVENT → ``self._notify_outgoing(event, args)`` when
  ``self._any_outgoing`` is non-empty (check first: the common case costs one truth test).

Ack rules (API.md "Handlers and acks"): with an ack, each handler gets the ack callable as one
more positional argument when it can take it (:func:`hypersio.events.acks.takes_extra_arg`); a
non-``None`` return value (or coroutine result) is also sent as the ack, a tuple spreading into
several arguments; the ack callable sends only once, so both styles coexist safely.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from hypersio.events.acks import AckCallback, spawn, takes_extra_arg
from hypersio.events.dispatch import HandlerEntry

logger = logging.getLogger("hypersio")

F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[..., Any]

# Return values that are certainly not awaitable: checked by exact type before inspect.isawaitable
# (an ABC instance check), since most handlers that answer return plain data.
_PLAIN_RESULTS = frozenset((str, int, float, bool, list, dict, tuple, bytes))


def _awaitable(result: Any) -> bool:
    return type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result)


# The handler entry (shape computed at registration) lives with the dispatch twins, where the
# compiled server path reads its fields directly.
_Entry = HandlerEntry


class EventEmitter:
    """Event handlers plus incoming/outgoing catch-all listeners, with socket.io's dispatch rules."""

    def __init__(self) -> None:
        # Tuples are rebuilt on change so dispatch iterates them without copying.
        self._handlers: dict[Any, tuple[_Entry, ...]] = {}
        # Events that have a once-handler: dispatch of the others skips the removal scan.
        self._once_events: set[Any] = set()
        self._any: tuple[Handler, ...] = ()
        self._any_outgoing: tuple[Handler, ...] = ()

    # --- registration -----------------------------------------------------------------------

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler`` for ``event``; without a handler, return a decorator.

        ``@socket.on("chat")`` or ``socket.on("chat", fn)``. Handlers may be sync or async and
        receive the event's arguments (plus the ack callable when asked for and there is room).
        """
        if handler is None:

            def decorator(fn: F) -> F:
                self._add(event, _Entry(fn, False))
                return fn

            return decorator
        self._add(event, _Entry(handler, False))
        return handler

    def once(self, event: str, handler: Handler | None = None) -> Any:
        """Like :meth:`on`, but the handler is removed after its first call."""
        if handler is None:

            def decorator(fn: F) -> F:
                self._add(event, _Entry(fn, True))
                return fn

            return decorator
        self._add(event, _Entry(handler, True))
        return handler

    def _add(self, event: Any, entry: _Entry) -> None:
        self._handlers[event] = (*self._handlers.get(event, ()), entry)
        if entry.once:
            self._once_events.add(event)

    def _set_entries(self, event: Any, entries: tuple[_Entry, ...]) -> None:
        if entries:
            self._handlers[event] = entries
        else:
            self._handlers.pop(event, None)
        if any(e.once for e in entries):
            self._once_events.add(event)
        else:
            self._once_events.discard(event)

    def off(self, event: str | None = None, handler: Handler | None = None) -> None:
        """Remove ``handler`` from ``event``, all handlers of ``event`` (no handler), or all."""
        if event is None:
            self._handlers.clear()
            self._once_events.clear()
            return
        if handler is None:
            self._set_entries(event, ())
            return
        entries = self._handlers.get(event, ())
        for i, entry in enumerate(entries):
            if entry.fn is handler:
                self._set_entries(event, entries[:i] + entries[i + 1 :])
                return

    def listeners(self, event: str) -> list[Handler]:
        """The handlers registered for ``event``, in call order."""
        return [e.fn for e in self._handlers.get(event, ())]

    def has_listeners(self, event: str) -> bool:
        """True when at least one handler is registered for ``event``."""
        return event in self._handlers

    def on_any(self, listener: Handler) -> Handler:
        """Call ``listener(event, *args)`` for every incoming event, before its handlers.

        Usable as a decorator. Any-listeners do not receive the ack callable.
        """
        self._any = (*self._any, listener)
        return listener

    def prepend_any(self, listener: Handler) -> Handler:
        """Like :meth:`on_any`, but the listener runs before those already registered."""
        self._any = (listener, *self._any)
        return listener

    def off_any(self, listener: Handler | None = None) -> None:
        """Remove one any-listener, or all of them when ``listener`` is None."""
        self._any = () if listener is None else tuple(x for x in self._any if x is not listener)

    def listeners_any(self) -> list[Handler]:
        """The incoming any-listeners, in call order."""
        return list(self._any)

    def on_any_outgoing(self, listener: Handler) -> Handler:
        """Call ``listener(event, *args)`` for every event this object emits (ack callback excluded)."""
        self._any_outgoing = (*self._any_outgoing, listener)
        return listener

    def prepend_any_outgoing(self, listener: Handler) -> Handler:
        """Like :meth:`on_any_outgoing`, but first in line."""
        self._any_outgoing = (listener, *self._any_outgoing)
        return listener

    def off_any_outgoing(self, listener: Handler | None = None) -> None:
        """Remove one outgoing any-listener, or all of them when ``listener`` is None."""
        self._any_outgoing = () if listener is None else tuple(x for x in self._any_outgoing if x is not listener)

    def listeners_any_outgoing(self) -> list[Handler]:
        """The outgoing any-listeners, in call order."""
        return list(self._any_outgoing)

    # --- dispatch (internal API for owners) ---------------------------------------------------

    def _take_handlers(self, event: Any) -> tuple[_Entry, ...]:
        entries = self._handlers.get(event, ())
        if event in self._once_events:
            self._set_entries(event, tuple(e for e in entries if not e.once))
        return entries

    def _emit_reserved(self, event: str, *args: Any) -> None:
        """Run the handlers of a local reserved event (connect, disconnect, ...); no ack."""
        for entry in self._take_handlers(event):
            self._run(entry, args, None, event)

    def _dispatch_event(self, event: Any, args: list[Any], ack: AckCallback | None = None) -> None:
        """Deliver one incoming event: any-listeners, then handlers (see the module docstring)."""
        if self._any:
            self._dispatch_any(event, args)
        self._dispatch_handlers(event, args, ack)

    def _dispatch_any(self, event: Any, args: list[Any]) -> None:
        """The any-listener half of :meth:`_dispatch_event` (for owners that run middlewares between)."""
        for listener in self._any:
            self._invoke(listener, (event, *args), None, "any listener")

    def _dispatch_handlers(self, event: Any, args: list[Any], ack: AckCallback | None = None) -> None:
        """The handler half of :meth:`_dispatch_event`."""
        for entry in self._take_handlers(event):
            self._run(entry, args, ack, event)

    def _notify_outgoing(self, event: Any, args: list[Any] | tuple[Any, ...]) -> None:
        """Tell the outgoing any-listeners about an event being sent."""
        for listener in self._any_outgoing:
            self._invoke(listener, (event, *args), None, "outgoing any listener")

    def _run(self, entry: _Entry, args: Any, ack: AckCallback | None, what: Any) -> None:
        """Call one registered handler (its shape is known): ack placement, result, task."""
        fn = entry.fn
        try:
            if ack is not None and (entry.var or entry.count > len(args)):
                result = fn(*args, ack)
            else:
                result = fn(*args)
        except Exception:
            logger.exception("error in handler for %r", what)
            return
        if result is None:
            return
        if entry.coro or _awaitable(result):
            task = spawn(result, f"handler for {what!r}", fn)
            if ack is not None:
                task.add_done_callback(ack.from_task)
            return
        if ack is not None:
            ack.send_result(result)

    def _invoke(self, fn: Handler, args: Any, ack: AckCallback | None, what: Any) -> None:
        """Call a listener that is not a registered entry (any-listeners): same rules as _run."""
        if ack is not None and takes_extra_arg(fn, len(args)):
            call_args = (*args, ack)
        else:
            call_args = args
        try:
            result = fn(*call_args)
        except Exception:
            logger.exception("error in handler for %r", what)
            return
        if result is None:
            return
        if _awaitable(result):
            task = spawn(result, f"handler for {what!r}", fn)
            if ack is not None:
                task.add_done_callback(ack.from_task)
            return
        if ack is not None:
            ack.send_result(result)
