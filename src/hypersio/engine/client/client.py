"""The Engine.IO v4 client session: handshake, heartbeat, transport upgrade, buffered writes.

:class:`EngineClient` is what ``hypersio.AsyncClient``'s Manager sits on, the client-side twin
of the server's session. It opens over long-polling or WebSocket (``transports`` order, like the
JS client), upgrades polling→websocket when the server offers it (``2probe``/``3probe``, polling
paused, ``5``), answers the server's pings and closes with "ping timeout" when none arrives in
``ping_interval + ping_timeout``. Messages sent during one event-loop turn are handed to the
transport together (one POST body, or one socket write for the WebSocket frames).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from hypersio.engine.client.transports import PollingTransport, WebSocketTransport
from hypersio.exceptions import HypersioError
from hypersio.protocol.engineio import packets as eio_parser

__all__ = ["EngineClient", "EngineConnectError"]

logger = logging.getLogger("hypersio.client.client")

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class EngineConnectError(HypersioError, ConnectionError):
    """The Engine.IO connection could not be opened (refused, unreachable, bad handshake)."""


class EngineClient:
    """One Engine.IO client session. Call :meth:`open`, then :meth:`send`; :meth:`close` ends it.

    Set ``on_message(data)`` (str or bytes) and ``on_close(reason, description)`` before opening.
    ``on_close`` runs exactly once per opened session, with the JS reasons: "transport close",
    "transport error", "ping timeout", "parse error" or "forced close" (after :meth:`close`).
    """

    def __init__(
        self,
        url: str,
        *,
        path: str = "/engine.io/",
        transports: Iterable[str] = ("polling", "websocket"),
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 20.0,
        upgrade: bool = True,
        ssl: Any = None,
    ) -> None:
        parts = urlsplit(url)
        scheme = (parts.scheme or "http").lower()
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(f"unsupported URL scheme {scheme!r} (use http, https, ws or wss)")
        self.transports = tuple(transports)
        for name in self.transports:
            if name not in ("polling", "websocket"):
                raise ValueError(f"unknown transport {name!r} (use 'polling' and/or 'websocket')")
        if not self.transports:
            raise ValueError("transports must name at least one transport")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or _DEFAULT_PORTS[scheme]
        secure = scheme in ("https", "wss")
        self.ssl = ssl if ssl is not None else secure
        default_port = self.port == _DEFAULT_PORTS[scheme]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if default_port else f"{host}:{self.port}"
        self.path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
        self.query = {str(k): str(v) for k, v in (query or {}).items()}
        self.extra_headers = [(str(k), str(v)) for k, v in (headers or {}).items()]
        self.timeout = timeout
        self.upgrade = upgrade

        self.on_message: Callable[[str | bytes], None] = lambda data: None
        self.on_close: Callable[[str, str], None] = lambda reason, description: None

        self.state = "closed"  # closed → opening → open → closed
        self.sid: str | None = None
        self.upgrades: list[str] = []
        self.ping_interval = 25.0
        self.ping_timeout = 20.0
        self.max_payload = 1_000_000
        self._transport: PollingTransport | WebSocketTransport | None = None
        self._buffer: list[tuple[int, Any]] = []
        self._flush_scheduled = False
        self._upgrading = False
        self._ping_timer: asyncio.TimerHandle | None = None
        self._upgrade_task: asyncio.Task[None] | None = None
        self._opened: asyncio.Future[None] | None = None
        self._closing_transport: PollingTransport | WebSocketTransport | None = None

    # --- public ---------------------------------------------------------------------------

    @property
    def transport(self) -> str | None:
        """The current transport's name ("polling" or "websocket"), None before opening."""
        return self._transport.name if self._transport is not None else None

    @property
    def connected(self) -> bool:
        """True between a successful :meth:`open` and the close."""
        return self.state == "open"

    def target(self, transport: str, sid: str | None = None) -> str:
        """The request target (path and query string) for one transport request."""
        query = dict(self.query)
        query["EIO"] = "4"
        query["transport"] = transport
        sid = sid or self.sid
        if sid:
            query["sid"] = sid
        if transport == "polling":
            # Cache buster, as the JS client's timestampRequests: proxies must not answer a GET.
            query["t"] = format(time.time_ns() // 1_000_000, "x")
        return self.path + "?" + urlencode(query)

    async def open(self) -> None:
        """Connect with the first transport of ``transports``; return once the handshake is done.

        Raises :class:`EngineConnectError` when the server cannot be reached or refuses.
        """
        if self.state != "closed":
            raise RuntimeError("this Engine.IO session was already opened")
        self.state = "opening"
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        first = self.transports[0]
        try:
            if first == "websocket":
                ws = await WebSocketTransport.open(self, None)
                self._transport = ws
                ws.attach()
                await asyncio.wait_for(asyncio.shield(self._opened), self.timeout)
            else:
                polling = PollingTransport(self)
                self._transport = polling
                packets = await polling.handshake()
                if not packets or packets[0][0] != eio_parser.OPEN:
                    raise EngineConnectError("the server's first packet was not an Engine.IO OPEN")
                for ptype, data in packets:
                    self.handle_packet(ptype, data)
                await asyncio.wait_for(asyncio.shield(self._opened), self.timeout)
        except BaseException as exc:
            transport, self._transport = self._transport, None
            if transport is not None:
                transport.close(False)
            self.state = "closed"
            self._cancel_ping_timer()
            if isinstance(exc, EngineConnectError):
                raise
            if isinstance(exc, (OSError, asyncio.TimeoutError, HypersioError, ValueError)):
                detail = str(exc) or exc.__class__.__name__
                raise EngineConnectError(f"cannot connect to {self.host_header}: {detail}") from exc
            raise
        if isinstance(self._transport, PollingTransport):
            self._transport.start()
            if self.upgrade and "websocket" in self.transports and "websocket" in self.upgrades:
                self._upgrade_task = asyncio.ensure_future(self._probe_websocket())

    def send(self, data: str | bytes, volatile: bool = False) -> bool:
        """Queue one message; it leaves at the end of this loop turn. False when dropped.

        A volatile message is dropped unless it can leave right away (session open, transport
        not busy), as the JS client does.
        """
        if self.state != "open":
            return False
        if volatile and not self.can_send_now():
            return False
        self._queue(eio_parser.MESSAGE, data)
        return True

    def can_send_now(self) -> bool:
        """True when a message sent now leaves at once (no upgrade pause, transport not busy)."""
        return self.state == "open" and not self._upgrading and self._transport is not None and self._transport.writable

    def close(self, reason: str = "forced close", description: str = "the client closed the connection") -> None:
        """Close the session: tell the server, close the transport, run ``on_close(reason, ...)``.

        Messages sent before the call still leave first. Other reasons than "forced close"
        (such as "parse error" when the layer above received garbage) are only reported.
        """
        if self.state == "closed":
            return
        transport = self._transport
        if transport is not None and self._buffer:
            # What was sent before close() still leaves, in order. Mid-upgrade this is still the
            # polling transport, which the server keeps serving until it receives "5".
            packets, self._buffer = self._buffer, []
            transport.write(packets)
        self._closing_transport = transport
        self._shutdown(reason, description, send_close=True)

    async def wait_closed(self, timeout: float = 2.0) -> None:
        """Wait until the transport of a closed session has sent its last bytes (bounded)."""
        transport = self._closing_transport
        if transport is not None:
            try:
                await asyncio.wait_for(transport.wait_closed(), timeout)
            except (TimeoutError, OSError, ConnectionError):
                pass

    # --- TransportOwner: what the transports call ------------------------------------------

    def handle_packet(self, ptype: int, data: Any) -> None:
        """An Engine.IO packet arrived from the server (called by the transports)."""
        if self.state == "closed":
            return
        if ptype == eio_parser.MESSAGE:
            if self.state == "open":
                try:
                    self.on_message(data)
                except Exception:
                    logger.exception("error in the Engine.IO message handler")
            return
        if ptype == eio_parser.PING:
            self._queue(eio_parser.PONG, data)
            self._reset_ping_timer()
            return
        if ptype == eio_parser.OPEN:
            if self.state != "opening":
                self._protocol_error("an OPEN packet arrived on an open session")
                return
            self._on_handshake(data)
            return
        if ptype == eio_parser.CLOSE:
            self._shutdown("transport close", "the server closed the session", send_close=False)
            return
        if ptype == eio_parser.NOOP:
            return
        # PONG and UPGRADE are client→server packets; a server sending them is broken.
        self._protocol_error(f"unexpected Engine.IO packet type {ptype} from the server")

    def transport_failed(self, reason: str, description: str) -> None:
        """A transport failed or was closed by the server (called by the transports)."""
        if self.state == "opening":
            self._fail_open(EngineConnectError(description))
            return
        if reason == "parse error":
            logger.error("Engine.IO: %s; closing the connection", description)
        elif reason == "transport error":
            logger.warning("Engine.IO transport error: %s", description)
        else:
            logger.info("Engine.IO connection closed by the server: %s", description)
        self._shutdown(reason, description, send_close=False)

    # --- internals ------------------------------------------------------------------------

    def _queue(self, ptype: int, data: Any = None) -> None:
        self._buffer.append((ptype, data))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._upgrading or self._transport is None or not self._buffer or self.state == "closed":
            return
        packets, self._buffer = self._buffer, []
        self._transport.write(packets)

    def _on_handshake(self, data: Any) -> None:
        try:
            if not isinstance(data, str):
                raise TypeError("the OPEN packet carries no text")
            info: Any = json.loads(data)
            sid = info["sid"]
            ping_interval = float(info.get("pingInterval", 25000)) / 1000.0
            ping_timeout = float(info.get("pingTimeout", 20000)) / 1000.0
            max_payload = int(info.get("maxPayload", 1_000_000))
            upgrades = [str(u) for u in info.get("upgrades", [])]
            if not isinstance(sid, str) or not sid:
                raise ValueError("missing sid")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self._fail_open(EngineConnectError(f"bad Engine.IO handshake {data!r}: {exc}"))
            return
        self.sid = sid
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_payload = max_payload
        self.upgrades = upgrades
        self.state = "open"
        self._reset_ping_timer()
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)

    def _fail_open(self, exc: Exception) -> None:
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(exc)

    def _reset_ping_timer(self) -> None:
        self._cancel_ping_timer()
        delay = self.ping_interval + self.ping_timeout
        self._ping_timer = asyncio.get_running_loop().call_later(delay, self._ping_timed_out)

    def _cancel_ping_timer(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None

    def _ping_timed_out(self) -> None:
        self._ping_timer = None
        logger.warning("no ping from the server in %.1f s: closing", self.ping_interval + self.ping_timeout)
        self._shutdown("ping timeout", "no ping from the server in time", send_close=False)

    def _protocol_error(self, message: str) -> None:
        logger.error("Engine.IO protocol error: %s; closing the connection", message)
        if self.state == "opening":
            self._fail_open(EngineConnectError(message))
            return
        self._shutdown("parse error", message, send_close=False)

    def _shutdown(self, reason: str, description: str, send_close: bool) -> None:
        if self.state == "closed":
            return
        was_open = self.state == "open"
        self.state = "closed"
        self._cancel_ping_timer()
        if self._upgrade_task is not None:
            self._upgrade_task.cancel()
            self._upgrade_task = None
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close(send_close and was_open)
        self._buffer = []
        self._fail_open(EngineConnectError(f"connection closed during the handshake: {description}"))
        if was_open:
            try:
                self.on_close(reason, description)
            except Exception:
                logger.exception("error in the Engine.IO close handler")

    async def _probe_websocket(self) -> None:
        """Try to move the session from polling to WebSocket; stay on polling if it fails."""
        ws: WebSocketTransport | None = None
        try:
            ws = await WebSocketTransport.open(self, self.sid)
            loop = asyncio.get_running_loop()
            probe: asyncio.Future[None] = loop.create_future()

            def on_probe_message(opcode: int, data: Any) -> None:
                if not probe.done():
                    if data == "3probe":
                        probe.set_result(None)
                    else:
                        probe.set_exception(ConnectionError(f"unexpected probe answer {data!r}"))

            def on_probe_close(reason: str, description: str) -> None:
                if not probe.done():
                    probe.set_exception(ConnectionError(description))

            ws.conn.set_handlers(on_probe_message, on_probe_close)
            ws.conn.send("2probe")
            await asyncio.wait_for(probe, self.timeout)
            if self.state != "open" or not isinstance(self._transport, PollingTransport):
                ws.close(False)
                return
            # Hold writes until the switch so that no packet goes out over a dying transport.
            self._upgrading = True
            polling = self._transport
            await asyncio.wait_for(polling.pause(), self.timeout)
            if self.state != "open" or ws.conn.closed:
                self._upgrading = False
                ws.close(False)
                if self.state == "open":
                    self._shutdown("transport error", "the WebSocket closed during the upgrade", False)
                return
            ws.attach()
            ws.conn.send(eio_parser.encode_packet(eio_parser.UPGRADE))
            self._transport = ws
            polling.close(False)
            self._upgrading = False
            logger.debug("Engine.IO session %s upgraded to websocket", self.sid)
            if self._buffer:
                self._flush()
        except asyncio.CancelledError:
            if ws is not None and self._transport is not ws:
                ws.close(False)
            raise
        except Exception as exc:
            logger.debug("WebSocket upgrade failed, staying on polling: %s", exc)
            if ws is not None and self._transport is not ws:
                ws.close(False)
            if self._upgrading:
                # Polling was already paused: without a transport the session cannot go on.
                self._upgrading = False
                self._shutdown("transport error", f"upgrade failed: {exc}", send_close=False)
        finally:
            if self._upgrade_task is asyncio.current_task():
                self._upgrade_task = None
