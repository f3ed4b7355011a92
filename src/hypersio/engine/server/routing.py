"""Routing and handshake decisions of the Engine.IO server, as plain functions.

What a request may do (which error refuses it), which CORS headers it gets, what the open
packet says: none of it depends on how the bytes arrived, so the uvloop driver
(``engine.server.server.Server``) and an ASGI driver can share these. Only
:func:`respond_error` touches a connection, to answer on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from hypersio.engine.options import EngineOptions
from hypersio.engine.outlet import logger
from hypersio.engine.server.http import HttpConnection, Request

__all__ = [
    "BAD_HANDSHAKE_METHOD",
    "BAD_REQUEST",
    "ERROR_MESSAGES",
    "FORBIDDEN",
    "UNKNOWN_SID",
    "UNKNOWN_TRANSPORT",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "cors_headers",
    "error_response",
    "handshake_error",
    "open_packet",
    "path_matches",
    "preflight_headers",
    "respond_error",
    "upgrade_error",
    "upgrades_of",
]

# The Engine.IO error codes, as the official server numbers them (``Server.errors``).
UNKNOWN_TRANSPORT = 0
UNKNOWN_SID = 1
BAD_HANDSHAKE_METHOD = 2
BAD_REQUEST = 3
FORBIDDEN = 4
UNSUPPORTED_PROTOCOL_VERSION = 5

ERROR_MESSAGES = {
    UNKNOWN_TRANSPORT: "Transport unknown",
    UNKNOWN_SID: "Session ID unknown",
    BAD_HANDSHAKE_METHOD: "Bad handshake method",
    BAD_REQUEST: "Bad request",
    FORBIDDEN: "Forbidden",
    UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}

_JSON_HEADERS = [("Content-Type", "application/json")]


def path_matches(options: EngineOptions, path: str) -> bool:
    """True when a request for ``path`` is for this server (with or without the trailing slash)."""
    return path == options.path or path == options.path[:-1]


def handshake_error(options: EngineOptions, method: str, query: Mapping[str, str]) -> int | None:
    """The error code refusing a request without a sid (a new session), or None to open one.

    Only long-polling opens a session over plain HTTP; a WebSocket one arrives as an upgrade
    (see :func:`upgrade_error`).
    """
    if query.get("transport") not in options.transports:
        return UNKNOWN_TRANSPORT
    if method != "GET":
        return BAD_HANDSHAKE_METHOD
    if query.get("EIO") != "4":
        return UNSUPPORTED_PROTOCOL_VERSION
    if query.get("transport") != "polling":
        return BAD_REQUEST  # a WebSocket handshake without the Upgrade headers
    return None


def upgrade_error(options: EngineOptions, query: Mapping[str, str]) -> int | None:
    """The error code refusing a (valid RFC 6455) WebSocket request, or None to go on.

    Without a sid it opens a session; with one it probes an upgrade of that session.
    """
    transport = query.get("transport")
    if transport != "websocket" or "websocket" not in options.transports:
        return UNKNOWN_TRANSPORT if transport not in options.transports else BAD_REQUEST
    if "sid" not in query and query.get("EIO") != "4":
        return UNSUPPORTED_PROTOCOL_VERSION
    return None


def error_response(code: int, cors: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` of the answer carrying Engine.IO error ``code``."""
    body = json.dumps({"code": code, "message": ERROR_MESSAGES[code]}, separators=(",", ":")).encode()
    return (403 if code == FORBIDDEN else 400), _JSON_HEADERS + cors, body


def respond_error(
    conn: HttpConnection, req: Request, code: int, cors: list[tuple[str, str]], close: bool = False
) -> None:
    """Log the refusal of ``req`` and answer it on ``conn`` with Engine.IO error ``code``."""
    logger.warning("%s: %s (%s)", conn.peer, ERROR_MESSAGES[code], req.url)
    status, headers, body = error_response(code, cors)
    conn.respond(status, headers, body, close=close)


def cors_headers(options: EngineOptions, headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The CORS headers answering a request with these (lowercased) ``headers``; [] for none."""
    allowed = options.cors_allowed_origins
    if allowed is None:
        return []
    origin = headers.get("origin")
    if not origin or (allowed != "*" and origin not in allowed):
        return []
    if allowed == "*" and not options.cors_credentials:
        # Any origin, so no credentials: reflecting any origin with credentials would let every
        # site on the web make authenticated requests as the user (only when told to).
        return [("Access-Control-Allow-Origin", "*")]
    return [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    ]


def origin_allowed(options: EngineOptions, headers: Mapping[str, str]) -> bool:
    """Whether a handshake with these (lowercased) ``headers`` may open a session.

    No ``Origin`` header (not a browser): yes. ``cors_allowed_origins="*"``: yes. A list: the
    origin must be in it. None (same origin only): the origin's host must be the request's
    ``Host``. Refusing matters for WebSocket, which browsers open cross-origin without asking.
    """
    origin = headers.get("origin")
    if not origin:
        return True
    allowed = options.cors_allowed_origins
    if allowed == "*":
        return True
    if allowed is not None:
        return origin in allowed
    host = headers.get("host", "")
    _, _, origin_host = origin.partition("://")
    return bool(host) and origin_host == host


def preflight_headers(cors: list[tuple[str, str]], headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The headers of the ``204`` answering an ``OPTIONS`` preflight (``cors``: its CORS headers)."""
    answer = list(cors)
    if cors:
        answer.append(("Access-Control-Allow-Methods", "GET, POST, OPTIONS"))
        requested = headers.get("access-control-request-headers")
        answer.append(("Access-Control-Allow-Headers", requested or "Content-Type"))
    return answer


def upgrades_of(options: EngineOptions) -> str:
    """The JSON list of upgrades a long-polling session is offered."""
    return json.dumps(["websocket"] if "websocket" in options.transports and options.allow_upgrades else [])


def open_packet(options: EngineOptions, sid: str, upgrades: str) -> str:
    """The Engine.IO OPEN packet of session ``sid`` (``upgrades``: a JSON list, see :func:`upgrades_of`)."""
    return (
        f'0{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{round(options.ping_interval * 1000)},'
        f'"pingTimeout":{round(options.ping_timeout * 1000)},"maxPayload":{options.max_http_buffer_size}}}'
    )
