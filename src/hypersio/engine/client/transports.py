"""The two Engine.IO client transports: HTTP long-polling and WebSocket.

A transport only moves Engine.IO packets; its owner, the session
(:class:`hypersio.engine.client.client.EngineClient`), owns the state machine, the heartbeat and
the upgrade. What a transport needs of its owner is the :class:`TransportOwner` protocol below:
where to connect, and where to report incoming packets (``handle_packet(type, data)``) and
failures (``transport_failed(reason, description)``).
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from typing import Any, Protocol

from hypersio.engine.client.http import HttpConnection, build_request, open_connection
from hypersio.engine.client.websocket import WebSocketConnection, open_websocket
from hypersio.exceptions import ParseError
from hypersio.protocol.engineio import packets as eio_parser

__all__ = ["PollingTransport", "TransportOwner", "WebSocketTransport"]

logger = logging.getLogger("hypersio.client.client")

Packet = tuple[int, Any]


class TransportOwner(Protocol):
    """What a client transport needs of the session that owns it (``EngineClient`` has it)."""

    @property
    def host(self) -> str:
        """The server's host name or address, to connect to."""

    @property
    def port(self) -> int:
        """The server's TCP port."""

    @property
    def ssl(self) -> bool | _ssl.SSLContext:
        """True (default context) or an SSL context for TLS; False for plain TCP."""

    @property
    def timeout(self) -> float:
        """Seconds a connect or a request may take."""

    @property
    def host_header(self) -> str:
        """The ``Host`` header value."""

    @property
    def extra_headers(self) -> list[tuple[str, str]]:
        """Headers to send with every request (the user's)."""

    @property
    def max_payload(self) -> int:
        """The server's ``maxPayload``: the largest POST body it takes."""

    def target(self, transport: str, sid: str | None = None) -> str:
        """The request target (path and query string) for one request of ``transport``."""

    def handle_packet(self, ptype: int, data: Any) -> None:
        """An Engine.IO packet arrived from the server."""

    def transport_failed(self, reason: str, description: str) -> None:
        """The transport failed or the server closed it (``reason``: a JavaScript close reason)."""


class PollingTransport:
    """Long-polling: a GET loop for server→client, POSTs (batched) for client→server.

    Two keep-alive HTTP connections: one carries the (long) GETs, the other the POSTs, so a
    pending GET never delays a write.
    """

    name = "polling"

    def __init__(self, session: TransportOwner) -> None:
        self.session = session
        self.closed = False
        self.paused = False
        self._get_conn: HttpConnection | None = None
        self._post_conn: HttpConnection | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._post_task: asyncio.Task[None] | None = None
        self._final_post: asyncio.Task[None] | None = None  # the POST carrying the close packet
        self._outbox: list[str] = []
        self._close_after_drain = False

    @property
    def writable(self) -> bool:
        """True when no POST is in flight (new packets would go out at once)."""
        return self._post_task is None

    async def _conn(self, which: str) -> HttpConnection:
        conn = self._get_conn if which == "get" else self._post_conn
        if conn is None or conn.closed:
            s = self.session
            conn = await open_connection(s.host, s.port, s.ssl, s.timeout)
            if which == "get":
                self._get_conn = conn
            else:
                self._post_conn = conn
        return conn

    async def _request(self, which: str, method: str, body: bytes | None = None) -> bytes:
        s = self.session
        headers = list(s.extra_headers)
        if body is not None:
            headers.append(("Content-Type", "text/plain;charset=UTF-8"))
        request = build_request(method, s.host_header, s.target("polling"), headers, body)
        conn = await self._conn(which)
        try:
            response = await conn.request(request)
        except ConnectionError:
            # A kept-alive connection the server closed while idle (node drops them after
            # 5 s) fails before any answer; the request never reached the application, so
            # one retry on a fresh connection is safe.
            if not conn.completed or conn.answering:
                raise
            conn.close()
            conn = await self._conn(which)
            response = await conn.request(request)
        if response.status != 200:
            detail = response.body[:200].decode("utf-8", "replace")
            raise ConnectionError(f"{method} answered HTTP {response.status}: {detail}")
        return response.body

    async def handshake(self) -> list[tuple[int, Any]]:
        """The opening GET (no sid yet): returns the decoded packets, OPEN first."""
        body = await asyncio.wait_for(self._request("get", "GET"), self.session.timeout)
        return eio_parser.decode_payload(body)

    def start(self) -> None:
        """Start the GET loop (after the handshake)."""
        if self._poll_task is None and not self.closed:
            self._poll_task = asyncio.ensure_future(self._poll_loop())

    async def _poll_loop(self) -> None:
        try:
            while not self.closed and not self.paused:
                try:
                    body = await self._request("get", "GET")
                    packets = eio_parser.decode_payload(body)
                except ParseError as exc:
                    self.session.transport_failed("parse error", f"bad polling payload: {exc}")
                    return
                except (ConnectionError, OSError) as exc:
                    if not self.closed:
                        self.session.transport_failed("transport error", f"polling GET failed: {exc}")
                    return
                for ptype, data in packets:
                    if self.closed:
                        return
                    self.session.handle_packet(ptype, data)
        finally:
            self._poll_task = None

    def write(self, packets: list[Packet]) -> None:
        """Queue packets for the next POST (several packets ride in one body)."""
        for ptype, data in packets:
            self._outbox.append(eio_parser.encode_packet(ptype, data, b64=True))  # type: ignore[arg-type]
        if self._post_task is None and not self.closed:
            self._post_task = asyncio.ensure_future(self._post_loop())

    async def _post_loop(self) -> None:
        max_payload = self.session.max_payload
        try:
            # Runs on after close() too: the queued packets leave, then a POST of "1".
            while self._outbox or self._close_after_drain:
                if not self._outbox:
                    self._close_after_drain = False
                    self._outbox.append(eio_parser.encode_packet(eio_parser.CLOSE))  # type: ignore[arg-type]
                # Respect the server's maxPayload by splitting the outbox over several POSTs.
                size = 0
                count = 0
                for item in self._outbox:
                    size += len(item) + 1
                    if count and size > max_payload:
                        break
                    count += 1
                batch, self._outbox = self._outbox[:count], self._outbox[count:]
                body = eio_parser.encode_payload(batch).encode("utf-8")
                try:
                    await asyncio.wait_for(self._request("post", "POST", body), self.session.timeout)
                except (TimeoutError, ConnectionError, OSError) as exc:
                    if not self.closed:
                        self.session.transport_failed("transport error", f"polling POST failed: {exc}")
                    return
        finally:
            self._post_task = None
            if self.closed:
                for conn in (self._get_conn, self._post_conn):
                    if conn is not None:
                        conn.close()

    async def pause(self) -> None:
        """Stop polling for the upgrade: let the pending GET return and the pending POST finish."""
        self.paused = True
        waiting = [t for t in (self._poll_task, self._post_task) if t is not None]
        if waiting:
            await asyncio.wait(waiting)

    def close(self, send_close: bool) -> None:
        """Stop; with ``send_close`` the queued packets and a close packet go out in a last POST.

        The JS client also ends a polling session with a POSTed "1", so the server learns at
        once instead of waiting for a ping timeout.
        """
        if self.closed:
            return
        self.closed = True
        if self._poll_task is not None:
            self._poll_task.cancel()
        if send_close:
            # The pending GET stays open until the close POST is answered: the server sees a GET
            # dropped mid-poll as a transport error, not as the orderly close it is.
            # The close packet goes in a POST of its own after the queued ones, as the JS client
            # waits for "drain": the Node server handles a message's effects on the next tick,
            # so a "1" in the same body would close the session before they happen.
            self._close_after_drain = True
            if self._post_task is None:
                self._post_task = asyncio.ensure_future(self._post_loop())
            self._final_post = self._post_task
        else:
            self._outbox = []
            if self._post_task is not None:
                self._post_task.cancel()
            for conn in (self._get_conn, self._post_conn):
                if conn is not None:
                    conn.close()

    async def wait_closed(self) -> None:
        """Wait for the last POST started by :meth:`close` to finish."""
        task = self._final_post
        if task is not None and not task.done():
            await asyncio.wait([task])


class WebSocketTransport:
    """One WebSocket: each Engine.IO packet is one frame (binary messages as binary frames)."""

    name = "websocket"
    writable = True

    def __init__(self, session: TransportOwner, conn: WebSocketConnection) -> None:
        self.session = session
        self.conn = conn
        self.closed = False

    @classmethod
    async def open(cls, session: TransportOwner, sid: str | None) -> WebSocketTransport:
        """Open the WebSocket (with ``sid`` when probing for an upgrade)."""
        conn = await open_websocket(
            session.host,
            session.port,
            session.target("websocket", sid),
            list(session.extra_headers),
            session.ssl,
            session.timeout,
        )
        return cls(session, conn)

    def attach(self) -> None:
        """Route this WebSocket's messages and closure to the session."""
        self.conn.set_handlers(self._on_message, self._on_close)

    def _on_message(self, opcode: int, data: Any) -> None:
        try:
            ptype, payload = eio_parser.decode_packet(data)
        except ParseError as exc:
            self.session.transport_failed("parse error", f"bad Engine.IO packet: {exc}")
            return
        self.session.handle_packet(ptype, payload)

    def _on_close(self, reason: str, description: str) -> None:
        if not self.closed:
            self.closed = True
            self.session.transport_failed(reason, description)

    def write(self, packets: list[Packet]) -> None:
        """Send packets, one frame each (joined into one write at the end of the loop turn)."""
        send = self.conn.send
        for ptype, data in packets:
            send(eio_parser.encode_packet(ptype, data))

    def close(self, send_close: bool) -> None:
        """Close the WebSocket (a close frame after anything queued)."""
        if self.closed:
            return
        self.closed = True
        self.conn.close()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is gone (the queued frames were written)."""
        await asyncio.shield(self.conn.lost)
