"""EventEmitter: the handler registry shared by server sockets, namespaces and the client.

It holds event handlers, catch-all ("any") listeners for incoming events and for outgoing ones,
and dispatches one incoming event the way socket.io does: any-listeners first, then the event's
handlers in registration order. Sync handlers run inline; a handler that returns an awaitable
(a coroutine function) has it scheduled as a task. A handler that raises is logged and the next
one still runs.

How an owner (server ``Socket``, ``Namespace``, ``hypersio.AsyncClient``) uses it:

* subclass it (it uses ``__slots__``-free plain attributes, call ``super().__init__()``);
* incoming EVENT → ``self._dispatch_event(event, args, ack)`` where ``ack`` is an
  :class:`hypersio.events.acks.Ack` (an ``AckCallback``, or the server's
  ``hypersio.events.dispatch.SocketAck``) when the peer asked for one, else ``None``;
* reserved local events (``connect``, ``disconnect`` ...) → ``self._emit_reserved(name, *args)``
  (handlers only, no any-listeners, no ack);
* before sending an EVENT → ``self.notify_outgoing(event, args)`` when
  ``self.any_outgoing_listeners`` is non-empty (check first: the common case costs one truth test).

The registry itself is public state, because the compiled paths below the owners read it: the
incoming dispatch reads ``handlers`` and ``any_listeners`` (:mod:`hypersio.events.targets`), the
broadcast room walk reads ``any_outgoing_listeners`` from the instance dict. ``handlers`` keeps its
identity for the object's life (changed in place); the listener tuples are replaced on change.

Ack rules (API.md "Handlers and acks"): with an ack, each handler gets the ack callable as one
more positional argument when it can take it (:func:`hypersio.events.acks.takes_extra_arg`); a
non-``None`` return value (or coroutine result) is also sent as the ack, a tuple spreading into
several arguments; the ack callable sends only once, so both styles coexist safely.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any, TypeVar, overload

from hypersio.events.acks import Ack, spawn, takes_extra_arg
from hypersio.events.dispatch import HandlerEntry

logger = logging.getLogger("hypersio")

F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[..., Any]

# Return values that are certainly not awaitable: checked by exact type before inspect.isawaitable
# (an ABC instance check), since most handlers that answer return plain data.
_NO_EVENTS: frozenset[Any] = frozenset()
_PLAIN_RESULTS = frozenset((str, int, float, bool, list, dict, tuple, bytes))


def _awaitable(result: Any) -> bool:
    return type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result)


class EventEmitter:
    """Event handlers plus incoming/outgoing catch-all listeners, with socket.io's dispatch rules.

    ``handlers`` maps an event to its :class:`~hypersio.events.dispatch.HandlerEntry` tuple (in
    call order), ``once_events`` holds the events that have a once-handler, ``any_listeners`` and
    ``any_outgoing_listeners`` are the catch-all listeners; see the module docstring for who reads
    them. Change them through the methods.
    """

    def __init__(self) -> None:
        # Tuples are rebuilt on change so dispatch iterates them without copying.
        self.handlers: dict[Any, tuple[HandlerEntry, ...]] = {}
        # Events that have a once-handler: dispatch of the others skips the removal scan. A shared
        # empty frozenset until the first once-handler (an idle server holds an emitter per socket,
        # and an empty set is 216 bytes).
        self.once_events: AbstractSet[Any] = _NO_EVENTS
        self.any_listeners: tuple[Handler, ...] = ()
        self.any_outgoing_listeners: tuple[Handler, ...] = ()

    # --- registration -----------------------------------------------------------------------

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F) -> F: ...

    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register ``handler`` for ``event``; without a handler, return a decorator.

        ``@socket.on("chat")`` or ``socket.on("chat", fn)``. Handlers may be sync or async and
        receive the event's arguments (plus the ack callable when asked for and there is room).
        The handler is returned unchanged, so a decorated function keeps its type.
        """
        return self._register(event, handler, False)

    @overload
    def once(self, event: str) -> Callable[[F], F]: ...

    @overload
    def once(self, event: str, handler: F) -> F: ...

    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Like :meth:`on`, but the handler is removed after its first call."""
        return self._register(event, handler, True)

    def _register(self, event: Any, handler: F | None, once: bool) -> F | Callable[[F], F]:
        if handler is None:

            def decorator(fn: F) -> F:
                self._add(event, HandlerEntry(fn, once))
                return fn

            return decorator
        self._add(event, HandlerEntry(handler, once))
        return handler

    def _add(self, event: Any, entry: HandlerEntry) -> None:
        self.handlers[event] = (*self.handlers.get(event, ()), entry)
        if entry.once:
            self._once_set().add(event)

    def _set_entries(self, event: Any, entries: tuple[HandlerEntry, ...]) -> None:
        if entries:
            self.handlers[event] = entries
        else:
            self.handlers.pop(event, None)
        if any(e.once for e in entries):
            self._once_set().add(event)
        elif event in self.once_events:
            self._once_set().discard(event)

    def _once_set(self) -> set[Any]:
        once = self.once_events
        if not isinstance(once, set):
            once = self.once_events = set(once)
        return once

    def inherit_listeners(self, parent: EventEmitter) -> None:
        """Take over ``parent``'s handlers and catch-all listeners as they are now (a dynamic
        namespace's child gets its parent's registrations; later ones do not follow)."""
        self.handlers.update(parent.handlers)
        self.once_events = set(parent.once_events) if parent.once_events else _NO_EVENTS
        self.any_listeners = parent.any_listeners
        self.any_outgoing_listeners = parent.any_outgoing_listeners

    def off(self, event: str | None = None, handler: Handler | None = None) -> None:
        """Remove ``handler`` from ``event``, all handlers of ``event`` (no handler), or all."""
        if event is None:
            self.handlers.clear()
            self.once_events = _NO_EVENTS
            return
        if handler is None:
            self._set_entries(event, ())
            return
        entries = self.handlers.get(event, ())
        for i, entry in enumerate(entries):
            if entry.fn is handler:
                self._set_entries(event, entries[:i] + entries[i + 1 :])
                return

    def listeners(self, event: str) -> list[Handler]:
        """The handlers registered for ``event``, in call order."""
        return [e.fn for e in self.handlers.get(event, ())]

    def has_listeners(self, event: str) -> bool:
        """True when at least one handler is registered for ``event``."""
        return event in self.handlers

    def on_any(self, listener: F) -> F:
        """Call ``listener(event, *args)`` for every incoming event, before its handlers.

        Usable as a decorator (the function keeps its type). Any-listeners do not receive the
        ack callable.
        """
        self.any_listeners = (*self.any_listeners, listener)
        return listener

    def prepend_any(self, listener: F) -> F:
        """Like :meth:`on_any`, but the listener runs before those already registered."""
        self.any_listeners = (listener, *self.any_listeners)
        return listener

    def off_any(self, listener: Handler | None = None) -> None:
        """Remove one any-listener, or all of them when ``listener`` is None."""
        self.any_listeners = () if listener is None else tuple(x for x in self.any_listeners if x is not listener)

    def listeners_any(self) -> list[Handler]:
        """The incoming any-listeners, in call order."""
        return list(self.any_listeners)

    def on_any_outgoing(self, listener: F) -> F:
        """Call ``listener(event, *args)`` for every event this object emits (ack callback excluded)."""
        self.any_outgoing_listeners = (*self.any_outgoing_listeners, listener)
        return listener

    def prepend_any_outgoing(self, listener: F) -> F:
        """Like :meth:`on_any_outgoing`, but first in line."""
        self.any_outgoing_listeners = (listener, *self.any_outgoing_listeners)
        return listener

    def off_any_outgoing(self, listener: Handler | None = None) -> None:
        """Remove one outgoing any-listener, or all of them when ``listener`` is None."""
        outgoing = self.any_outgoing_listeners
        self.any_outgoing_listeners = () if listener is None else tuple(x for x in outgoing if x is not listener)

    def listeners_any_outgoing(self) -> list[Handler]:
        """The outgoing any-listeners, in call order."""
        return list(self.any_outgoing_listeners)

    # --- dispatch (internal API for owners) ---------------------------------------------------

    def _take_handlers(self, event: Any) -> tuple[HandlerEntry, ...]:
        entries = self.handlers.get(event, ())
        if event in self.once_events:
            self._set_entries(event, tuple(e for e in entries if not e.once))
        return entries

    def _emit_reserved(self, event: str, *args: Any) -> None:
        """Run the handlers of a local reserved event (connect, disconnect, ...); no ack."""
        for entry in self._take_handlers(event):
            self._run(entry, args, None, event)

    def _dispatch_event(self, event: Any, args: list[Any], ack: Ack | None = None) -> None:
        """Deliver one incoming event: any-listeners, then handlers (see the module docstring)."""
        if self.any_listeners:
            self._dispatch_any(event, args)
        self._dispatch_handlers(event, args, ack)

    def _dispatch_any(self, event: Any, args: list[Any]) -> None:
        """The any-listener half of :meth:`_dispatch_event` (for owners that run middlewares between)."""
        for listener in self.any_listeners:
            self._invoke(listener, (event, *args), None, "any listener")

    def _dispatch_handlers(self, event: Any, args: list[Any], ack: Ack | None = None) -> None:
        """The handler half of :meth:`_dispatch_event`."""
        for entry in self._take_handlers(event):
            self._run(entry, args, ack, event)

    def notify_outgoing(self, event: Any, args: list[Any] | tuple[Any, ...]) -> None:
        """Tell the outgoing any-listeners about an event being sent (the broadcast room walk
        calls it for each recipient that has some)."""
        for listener in self.any_outgoing_listeners:
            self._invoke(listener, (event, *args), None, "outgoing any listener")

    def _run(self, entry: HandlerEntry, args: Any, ack: Ack | None, what: Any) -> None:
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

    def _invoke(self, fn: Handler, args: Any, ack: Ack | None, what: Any) -> None:
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
