"""A minimal HTTP/1.1 client connection for the Engine.IO long-polling transport.

One :class:`HttpConnection` is one keep-alive TCP (or TLS) connection carrying one request at a
time, parsed with httptools like the server side. Long-polling needs exactly two of them per
session (a pending GET and a POST may overlap), so there is no pool: the polling transport owns
its two connections and reopens one when the server closes it.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from dataclasses import dataclass, field
from typing import Any

import httptools

__all__ = ["HttpConnection", "HttpResponse", "open_connection", "build_request"]


@dataclass
class HttpResponse:
    """A complete HTTP response: status code, lowercased headers, and the whole body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def build_request(
    method: str, host: str, target: str, headers: list[tuple[str, str]], body: bytes | None = None
) -> bytes:
    """Serialize one HTTP/1.1 request head (and body) into bytes ready to write."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    names = set()
    for name, value in headers:
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
        names.add(name.lower())
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    if "connection" not in names:
        lines.append("Connection: keep-alive")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


# A server answer bigger than this is refused: memory must not grow at a hostile server's will.
MAX_RESPONSE_SIZE = 100_000_000


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; :meth:`request` sends a request and awaits the reply."""

    def __init__(self, max_response_size: int = MAX_RESPONSE_SIZE) -> None:
        self.max_response_size = max_response_size
        self._size = 0
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[HttpResponse] | None = None
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._keep_alive = True
        self.completed = 0  # responses received on this connection
        self.answering = False  # bytes of the current response have arrived

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """asyncio callback: keep the transport requests are written to."""
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        """asyncio callback: feed response bytes to httptools; a malformed response fails the waiting request."""
        self.answering = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"malformed HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        """asyncio callback: fail the waiting request, since its response can no longer arrive."""
        self.closed = True
        self._fail(ConnectionError(f"connection closed by the server{': ' + str(exc) if exc else ''}"))

    # --- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        """httptools callback: start collecting a new response."""
        self._size = 0
        self._status = 0
        self._headers = {}
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        """httptools callback: record one header, name lowercased."""
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        """httptools callback: note the status and whether the server keeps the connection alive."""
        self._status = self._parser.get_status_code()
        self._keep_alive = self._parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        """httptools callback: collect body bytes, failing the request past max_response_size."""
        self._size += len(body)
        if self._size > self.max_response_size:
            self._fail(ConnectionError(f"HTTP response larger than {self.max_response_size} bytes"))
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        """httptools callback: hand the finished response to the request waiting for it."""
        response = HttpResponse(self._status, self._headers, b"".join(self._body))
        self.completed += 1
        self.answering = False
        waiter, self._waiter = self._waiter, None
        if not self._keep_alive:
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    # --- API -----------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while a request waits for its response."""
        return self._waiter is not None

    async def request(self, data: bytes) -> HttpResponse:
        """Write one serialized request (see :func:`build_request`) and return its response.

        Raises ConnectionError when the connection breaks first.
        """
        if self.closed or self.transport is None:
            raise ConnectionError("connection closed")
        if self._waiter is not None:
            raise RuntimeError("a request is already in flight on this connection")
        waiter: asyncio.Future[HttpResponse] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self.transport.write(data)
        return await waiter

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        """Close the connection; a request in flight fails with ConnectionError."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._fail(ConnectionError("connection closed"))


async def open_connection(
    host: str, port: int, ssl: bool | _ssl.SSLContext | None = None, timeout: float = 20.0
) -> HttpConnection:
    """Open a TCP (TLS when ``ssl``) connection to ``host:port`` speaking HTTP/1.1."""
    loop = asyncio.get_running_loop()
    kwargs: dict[str, Any] = {}
    if ssl:
        kwargs["ssl"] = ssl if isinstance(ssl, _ssl.SSLContext) else _ssl.create_default_context()
        kwargs["server_hostname"] = host
    _, protocol = await asyncio.wait_for(loop.create_connection(HttpConnection, host, port, **kwargs), timeout)
    return protocol
