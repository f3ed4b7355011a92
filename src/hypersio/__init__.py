"""hypersio: Socket.IO v4 for Python, wire-compatible with the official JavaScript server and client.

The public names are listed in ``__all__`` and documented in README.md. Heavy modules (the server,
the client) load on first attribute access, so ``import hypersio`` stays cheap for a process that
only needs the parser.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hypersio import _speedups
from hypersio.exceptions import (
    AckTimeoutError,
    ClusterTimeoutError,
    ConnectError,
    DisconnectedError,
    HypersioError,
    ParseError,
    WebSocketError,
)

__version__ = "0.1.0"

_LAZY = {
    "ASGIApp": "hypersio.asgi",
    "Server": "hypersio.server.server",
    "Namespace": "hypersio.server.namespace",
    "Socket": "hypersio.server.socket",
    "BroadcastOperator": "hypersio.server.broadcast",
    "Recovery": "hypersio.server.server",
    "AsyncClient": "hypersio.client.client",
    "connect": "hypersio.client.client",
    "engine": "hypersio.engine",
    "parser": "hypersio.parser",
    "msgpack_parser": "hypersio.msgpack_parser",
    "eio_parser": "hypersio.eio_parser",
    "wsframe": "hypersio.wsframe",
    "admin": "hypersio.admin",
    "metrics": "hypersio.metrics",
}

HAS_SPEEDUPS: bool

__all__ = [
    "HAS_SPEEDUPS",
    "ASGIApp",
    "AckTimeoutError",
    "ClusterTimeoutError",
    "AsyncClient",
    "BroadcastOperator",
    "ConnectError",
    "DisconnectedError",
    "HypersioError",
    "Namespace",
    "ParseError",
    "Recovery",
    "Server",
    "Socket",
    "WebSocketError",
    "admin",
    "connect",
    "eio_parser",
    "engine",
    "metrics",
    "msgpack_parser",
    "parser",
    "wsframe",
]


def __getattr__(name: str) -> Any:
    if name == "HAS_SPEEDUPS":
        return _speedups.has_speedups()
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'hypersio' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name == f"hypersio.{name}" else getattr(module, name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from hypersio import admin, eio_parser, engine, metrics, msgpack_parser, parser, wsframe
    from hypersio.asgi import ASGIApp
    from hypersio.client.client import AsyncClient, connect
    from hypersio.server.broadcast import BroadcastOperator
    from hypersio.server.namespace import Namespace
    from hypersio.server.server import Recovery, Server
    from hypersio.server.socket import Socket
