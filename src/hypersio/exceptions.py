"""Exceptions raised by hypersio. All derive from :class:`HypersioError`."""

from __future__ import annotations

from typing import Any


class HypersioError(Exception):
    """Base class of every exception hypersio raises on purpose."""


class ParseError(HypersioError, ValueError):
    """A packet (Socket.IO, Engine.IO or a WebSocket frame) broke the wire format.

    The message says what was wrong; on a server the connection that sent it is closed.
    """


class WebSocketError(ParseError):
    """A WebSocket protocol violation; ``code`` is the RFC 6455 close code to answer with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ConnectError(HypersioError):
    """A namespace connection was refused.

    Raised by a middleware on the server to refuse a client (the client receives
    ``{"message": message, "data": data}``), and raised by the client's ``connect()`` when the
    server refused it.
    """

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class AckTimeoutError(HypersioError, TimeoutError):
    """An acknowledgement did not arrive within the ``timeout()`` given for the emit."""


class DisconnectedError(HypersioError, ConnectionError):
    """The operation needs a connection that is closed (or was closed while waiting)."""


class ClusterTimeoutError(HypersioError, TimeoutError):
    """The other servers of a cluster did not all answer a request in time (``fetch_sockets``,
    ``server_side_emit_with_ack``, ``all_rooms``). ``responses`` holds what did arrive."""

    def __init__(self, message: str, responses: list[Any] | None = None) -> None:
        super().__init__(message)
        self.responses: list[Any] = [] if responses is None else responses
