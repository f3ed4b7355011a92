"""The client's Manager: one Engine.IO connection shared by the namespaces of a client.

Like socket.io-client's ``Manager``, it owns the Engine.IO session, encodes and decodes Socket.IO
packets, routes incoming packets to the namespace sockets (``hypersio.AsyncClient`` objects), and
reconnects with exponential backoff and jitter when the connection is lost. Users reach it as
``client.manager``: ``client.manager.socket("/admin")`` opens another namespace over the same
connection, and ``client.manager.on("reconnect", ...)`` observes the connection itself (events
``open``, ``close`` (reason, description), ``reconnect_attempt`` (attempt), ``reconnect``
(attempt), ``reconnect_error`` (error), ``reconnect_failed``, ``error`` (error)).

The manager sits below the client: it creates namespace sockets with the ``socket_factory`` the
client hands in and drives them through :class:`NamespaceSocket`, so it never imports the client.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from hypersio.engine.client.client import EngineClient, EngineConnectError
from hypersio.events.emitter import EventEmitter
from hypersio.exceptions import ParseError
from hypersio.protocol.socketio.codecs import parser_module

__all__ = ["Backoff", "Manager", "NamespaceSocket", "SocketFactory"]

logger = logging.getLogger("hypersio.client.client")


class Backoff:
    """Exponential backoff with jitter, the schedule of the JS client's reconnection.

    The n-th delay is ``min_delay * 2**n``, moved up or down by a random share of at most
    ``jitter`` of itself, and capped at ``max_delay``. Jitter spreads the reconnections of many
    clients after a server restart so they do not all arrive in the same instant.
    """

    def __init__(
        self, min_delay: float = 1.0, max_delay: float = 5.0, jitter: float = 0.5, factor: float = 2.0
    ) -> None:
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.jitter = min(max(jitter, 0.0), 1.0)
        self.factor = factor
        self.attempts = 0

    def duration(self) -> float:
        """The next delay in seconds (and count one more attempt)."""
        delay = self.min_delay * self.factor ** min(self.attempts, 64)
        self.attempts += 1
        if self.jitter:
            deviation = random.random() * self.jitter * delay
            delay = delay - deviation if random.random() < 0.5 else delay + deviation
        return min(delay, self.max_delay)

    def reset(self) -> None:
        """Start over from the shortest delay (after a successful reconnection)."""
        self.attempts = 0


class NamespaceSocket(Protocol):
    """A namespace socket as the manager drives it (``hypersio.AsyncClient``)."""

    @property
    def nsp(self) -> str:
        """The namespace name."""
        ...

    def handle_open(self) -> None:
        """The Engine.IO connection is open: join the namespace."""
        ...

    def handle_packet(self, packet: Any) -> None:
        """A decoded packet for the namespace."""
        ...

    def handle_close(self, reason: str, description: str) -> None:
        """The connection ended."""
        ...

    def handle_connect_failed(self, message: str) -> None:
        """A reconnection attempt failed."""
        ...

    def handle_reconnect_failed(self) -> None:
        """Reconnection gave up."""
        ...


S = TypeVar("S", bound=NamespaceSocket)
S_co = TypeVar("S_co", bound=NamespaceSocket, covariant=True)


class SocketFactory(Protocol[S_co]):
    """``factory(manager, nsp, auth, **options)``: a new socket for namespace ``nsp``."""

    def __call__(self, manager: Any, nsp: str, auth: Any, /, **options: Any) -> S_co:
        """Create the socket (options: ``ack_timeout``, ``retries``)."""
        ...


class Manager(EventEmitter, Generic[S]):
    """One Engine.IO connection and the namespace sockets multiplexed over it.

    Created by :class:`hypersio.AsyncClient`, which hands in ``socket_factory``; applications use
    it through ``client.manager``.
    """

    def __init__(
        self,
        url: str,
        *,
        socket_factory: SocketFactory[S],
        transports: Iterable[str] = ("polling", "websocket"),
        path: str = "/socket.io/",
        parser: str | ModuleType = "json",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        reconnection: bool = True,
        reconnection_attempts: int | None = None,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        timeout: float = 20.0,
        upgrade: bool = True,
        ssl: Any = None,
    ) -> None:
        super().__init__()
        parts = urlsplit(url)
        self.url = urlunsplit((parts.scheme or "http", parts.netloc, "", "", ""))
        self.transports = tuple(transports)
        self.path = path
        self.parser = parser_module(parser)
        self.headers = dict(headers or {})
        self.query = dict(query or {})
        self.reconnection = reconnection
        self.reconnection_attempts = reconnection_attempts
        self.backoff = Backoff(reconnection_delay, reconnection_delay_max, randomization_factor)
        self.timeout = timeout
        self.upgrade = upgrade
        self.ssl = ssl
        self.engine: EngineClient | None = None
        self.state = "closed"  # closed, opening, open
        self.nsps: dict[str, S] = {}
        self._socket_factory = socket_factory
        self._active: set[str] = set()
        self._decoder: Any = None
        self._open_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._skip_reconnect = False
        self._closing_engine: EngineClient | None = None  # the engine _close() closed last

    # --- namespaces -------------------------------------------------------------------------

    def socket(self, nsp: str = "/", auth: Any = None, **options: Any) -> S:
        """The client for namespace ``nsp`` on this connection (created on first use).

        Call ``await sock.connect()`` on it; it shares this Engine.IO connection, reconnection
        and parser with every other namespace of the manager. ``options`` are ``ack_timeout``
        and ``retries`` (defaults: those of the client that created the manager).
        """
        if not nsp.startswith("/"):
            nsp = "/" + nsp
        sock = self.nsps.get(nsp)
        if sock is None:
            sock = self._socket_factory(self, nsp, auth, **options)
            self.nsps[nsp] = sock
        return sock

    def activate(self, sock: S) -> None:
        """A socket wants to be connected: it is served once the connection is open."""
        self.nsps[sock.nsp] = sock
        self._active.add(sock.nsp)

    def deactivate(self, sock: S) -> None:
        """A socket left (disconnect or refused): close the connection when none is left."""
        self._active.discard(sock.nsp)
        if not self._active:
            self._close()

    # --- opening and closing --------------------------------------------------------------

    async def open(self) -> None:
        """Open the Engine.IO connection (if not open yet); raises EngineConnectError on failure.

        A reconnection waiting for its delay is cut short: the caller wants a connection now.
        """
        if self.state == "open":
            return
        if self._reconnect_task is not None and self.state == "closed":
            self._reconnect_task.cancel()
            self._reconnect_task = None
        if self._open_task is None:
            self._skip_reconnect = False
            self._open_task = asyncio.ensure_future(self._open_engine())
        task = self._open_task
        try:
            await asyncio.shield(task)
        finally:
            if self._open_task is task and task.done():
                self._open_task = None

    async def _open_engine(self) -> None:
        self.state = "opening"
        engine = EngineClient(
            self.url,
            path=self.path,
            transports=self.transports,
            query=self.query,
            headers=self.headers,
            timeout=self.timeout,
            upgrade=self.upgrade,
            ssl=self.ssl,
        )
        self.engine = engine
        # Handlers go in before opening: frames may ride right behind the handshake.
        self._decoder = self.parser.Decoder()
        engine.on_message = lambda data: self._on_data(engine, data)
        engine.on_close = lambda reason, description: self._on_close(engine, reason, description)
        try:
            await engine.open()
        except BaseException:
            if self.engine is engine:
                self.engine = None
                self.state = "closed"
            raise
        if self.engine is not engine or self._skip_reconnect:
            engine.close()  # closed meanwhile by disconnect()
            raise EngineConnectError("the client was closed while connecting")
        self.state = "open"
        self._emit_reserved("open")
        for nsp in list(self._active):
            sock = self.nsps.get(nsp)
            if sock is not None:
                sock.handle_open()

    def _close(self) -> None:
        """Close on purpose (no socket left, or the user's disconnect): no reconnection."""
        self._skip_reconnect = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            self._reconnect_task = None
        if self._open_task is not None:
            self._open_task.cancel()
            self._open_task = None
        engine, self.engine = self.engine, None
        was_open = self.state == "open"
        self.state = "closed"
        self.backoff.reset()
        if engine is not None:
            engine.on_close = lambda reason, description: None
            engine.close()
            self._closing_engine = engine
        if was_open:
            self._notify_close("forced close", "the client closed the connection")

    async def wait_closed(self) -> None:
        """Wait (briefly) until the last close's final bytes have left."""
        engine = self._closing_engine
        if engine is not None:
            await engine.wait_closed()

    def _on_close(self, engine: EngineClient, reason: str, description: str) -> None:
        if engine is not self.engine:
            return
        self.engine = None
        self.state = "closed"
        self._decoder = None
        self._notify_close(reason, description)
        if self.reconnection and not self._skip_reconnect and self._active:
            self._start_reconnect()

    def _notify_close(self, reason: str, description: str) -> None:
        self._emit_reserved("close", reason, description)
        # Sockets that left on purpose already reported their own reason.
        for nsp in list(self._active):
            sock = self.nsps.get(nsp)
            if sock is not None:
                sock.handle_close(reason, description)

    # --- reconnection ---------------------------------------------------------------------

    def retry_in_background(self) -> None:
        """The first open failed: keep trying with the reconnection delays, as the JS client
        does (``reconnection`` on), until a socket connects or the attempts run out."""
        if self.reconnection and self._active and not self._skip_reconnect:
            self._start_reconnect()

    def _start_reconnect(self) -> None:
        if self._reconnect_task is None:
            self._reconnect_task = asyncio.ensure_future(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        try:
            while not self._skip_reconnect:
                limit = self.reconnection_attempts
                if limit is not None and self.backoff.attempts >= limit:
                    logger.info("giving up reconnecting after %d attempts", self.backoff.attempts)
                    self.backoff.reset()
                    self._emit_reserved("reconnect_failed")
                    for sock in list(self.nsps.values()):
                        sock.handle_reconnect_failed()
                    return
                delay = self.backoff.duration()
                logger.debug("reconnecting in %.2f s", delay)
                await asyncio.sleep(delay)
                if self._skip_reconnect:
                    return
                attempt = self.backoff.attempts
                self._emit_reserved("reconnect_attempt", attempt)
                # Through _open_task, so that a connect() meanwhile joins this attempt.
                task = self._open_task = asyncio.ensure_future(self._open_engine())
                try:
                    await asyncio.shield(task)
                except EngineConnectError as exc:
                    logger.debug("reconnection attempt %d failed: %s", attempt, exc)
                    self._emit_reserved("reconnect_error", exc)
                    for sock in list(self.nsps.values()):
                        sock.handle_connect_failed(str(exc))
                    continue
                finally:
                    if self._open_task is task and task.done():
                        self._open_task = None
                self.backoff.reset()
                self._emit_reserved("reconnect", attempt)
                return
        finally:
            if self._reconnect_task is asyncio.current_task():
                self._reconnect_task = None

    # --- packets --------------------------------------------------------------------------

    def _on_data(self, engine: EngineClient, data: str | bytes) -> None:
        decoder = self._decoder
        if decoder is None or engine is not self.engine:
            return
        try:
            packet = decoder.add(data)
        except ParseError as exc:
            logger.error("invalid Socket.IO packet from the server (%s): closing the connection", exc)
            engine = self.engine
            if engine is not None:
                engine.close("parse error", str(exc))
            return
        if packet is None:
            return
        sock = self.nsps.get(packet.nsp)
        if sock is None or packet.nsp not in self._active:
            logger.debug("packet for namespace %r that is not connected: ignored", packet.nsp)
            return
        sock.handle_packet(packet)

    def send_packet(
        self, ptype: int, nsp: str, data: Any = None, ack_id: int | None = None, volatile: bool = False
    ) -> bool:
        """Encode one Socket.IO packet and hand it to the Engine.IO session; False if dropped."""
        engine = self.engine
        if engine is None or self.state != "open":
            return False
        chunks = self.parser.encode_packet(ptype, nsp, data, ack_id)
        if volatile and not engine.can_send_now():
            return False
        for chunk in chunks:
            engine.send(chunk)
        return True

    def can_send_now(self) -> bool:
        """True when a packet handed over now leaves at once (what ``volatile`` needs)."""
        return self.engine is not None and self.state == "open" and self.engine.can_send_now()
