"""What the incoming dispatch needs of the objects above it: the connection it routes for and the
socket it delivers to (httptools' callback-Protocol style).

The dispatch twins (:mod:`hypersio.events.dispatch`) sit below the server; the server's
``Connection`` and ``Socket`` implement these protocols, so the dispatch never imports them. The
fields named here are the owners' public interface: the compiled twin reads them once per socket
(:class:`~hypersio.events.dispatch.SocketRoute`) or once per event, so they must keep their
identity for the owner's life where the docstrings say so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from hypersio.exceptions import ParseError

__all__ = ["DispatchTarget", "Encode", "HandlerShape", "PacketDecoder", "RoutedConnection", "Sender"]

#: ``encode(type, nsp, data, ack_id)``: a codec's ``encode_packet``, returning the packet's parts.
Encode = Callable[[int, str, Any, int | None], list[Any]]


class Sender(Protocol):
    """The Engine.IO session an answer is written to."""

    @property
    def closed(self) -> bool:
        """True once nothing can be sent any more."""
        ...

    def send(self, data: Any, volatile: bool = False, /) -> None:
        """Queue one Engine.IO message (``volatile``: may be dropped when congested)."""
        ...


class HandlerShape(Protocol):
    """One registered handler and its shape (:class:`~hypersio.events.dispatch.HandlerEntry`)."""

    @property
    def fn(self) -> Callable[..., Any]:
        """The handler."""
        ...

    @property
    def once(self) -> bool:
        """Registered with ``once``."""
        ...

    @property
    def count(self) -> int:
        """Positional parameters (a bound ``self`` excluded)."""
        ...

    @property
    def var(self) -> bool:
        """Takes ``*args``."""
        ...

    @property
    def coro(self) -> bool:
        """A coroutine function."""
        ...


class DispatchTarget(Protocol):
    """A socket the dispatch delivers incoming EVENTs to and answers ACKs for.

    ``handlers`` (event -> tuple of entries), ``packet_middlewares``, ``session``, ``encode`` and
    ``nsp_name`` keep their identity for the socket's life (the handler dict and the middleware
    list change in place); ``route`` is the :class:`~hypersio.events.dispatch.SocketRoute` built
    from them once they exist. ``any_listeners`` is read on every event.
    """

    @property
    def connected(self) -> bool:
        """False once the socket left its namespace: no answer is sent then."""
        ...

    @property
    def route(self) -> object:
        """The socket's :class:`~hypersio.events.dispatch.SocketRoute`."""
        ...

    @property
    def session(self) -> Sender:
        """The Engine.IO session under the socket."""
        ...

    @property
    def encode(self) -> Encode:
        """The codec's ``encode_packet``."""
        ...

    @property
    def nsp_name(self) -> str:
        """The namespace name put in every packet."""
        ...

    @property
    def handlers(self) -> Mapping[Any, Sequence[HandlerShape]]:
        """Event name -> the handler entries, in call order."""
        ...

    @property
    def packet_middlewares(self) -> Sequence[Callable[..., Any]]:
        """The per-packet middlewares (``socket.use``)."""
        ...

    @property
    def any_listeners(self) -> Sequence[Callable[..., Any]]:
        """The incoming catch-all listeners."""
        ...

    def dispatch_general(self, event: Any, data: list[Any], ack_id: int | None) -> None:
        """Every EVENT the straight line does not take (middlewares, any-listeners, several or
        once handlers, a non-str name, no handler)."""
        ...

    def handler_failed(self, event: Any) -> None:
        """Called inside the ``except`` block around a handler (so it can log the traceback)."""
        ...

    def answer_later(self, fn: Callable[..., Any], result: Any, event: Any, ack: Any) -> None:
        """A handler returned an awaitable ``result``; ``ack`` (a SocketAck or None) answers it."""
        ...


class PacketDecoder(Protocol):
    """A codec's ``Decoder``: one chunk in, the packet out once complete."""

    def add(self, chunk: Any, /) -> Any:
        """Feed one Engine.IO message; returns the packet, or None while attachments are due."""
        ...


class RoutedConnection(Protocol):
    """The connection a :class:`~hypersio.events.dispatch.Router` routes messages for.

    ``decoder`` and ``sockets`` (namespace name -> socket, changed in place) keep their identity
    for the connection's life.
    """

    @property
    def closed(self) -> bool:
        """True once the connection closed: messages are ignored."""
        ...

    @property
    def decoder(self) -> PacketDecoder:
        """The connection's packet decoder."""
        ...

    @property
    def sockets(self) -> Mapping[str, DispatchTarget]:
        """Namespace name -> the joined socket."""
        ...

    def parse_failed(self, exc: ParseError) -> None:
        """A message did not decode."""
        ...

    def handle_other_packet(self, packet: Any, socket: Any) -> None:
        """Every decoded packet but an EVENT for a joined namespace (``socket`` None if unjoined)."""
        ...

    def packet_unfinished(self, part: str | bytes | None) -> None:
        """The decoder kept ``part`` of a packet still waiting for attachments; None: that
        packet is complete (or was dropped) and nothing is held any more."""
        ...
