"""hypersio: Socket.IO v4 for Python, wire-compatible with the official JavaScript server and client.

The public names are listed in ``__all__`` and documented in README.md. Heavy modules (the server,
the client) load on first attribute access, so ``import hypersio`` stays cheap for a process that
only needs the parser.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _speedups
from .exceptions import (
    AckTimeoutError,
    ConnectError,
    DisconnectedError,
    HypersioError,
    ParseError,
    WebSocketError,
)

__version__ = "0.1.0"

_LAZY = {
    "Server": "hypersio.server",
    "Namespace": "hypersio.namespace",
    "Socket": "hypersio.socket",
    "BroadcastOperator": "hypersio.broadcast",
    "Recovery": "hypersio.server",
    "AsyncClient": "hypersio.client",
    "connect": "hypersio.client",
    "engine": "hypersio.engine",
    "parser": "hypersio.parser",
    "msgpack_parser": "hypersio.msgpack_parser",
    "eio_parser": "hypersio.eio_parser",
    "wsframe": "hypersio.wsframe",
    "fanout": "hypersio.fanout",
    "dispatch": "hypersio.dispatch",
}
_TWIN_SELECTORS = ("parser", "msgpack_parser", "eio_parser", "wsframe", "fanout", "dispatch")

HAS_SPEEDUPS: bool

__all__ = [
    "HAS_SPEEDUPS",
    "AckTimeoutError",
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
    "connect",
    "dispatch",
    "eio_parser",
    "engine",
    "fanout",
    "msgpack_parser",
    "parser",
    "wsframe",
]


def __getattr__(name: str) -> Any:
    if name == "HAS_SPEEDUPS":
        # Import every twin selector first, so the answer covers all compiled modules rather
        # than only those some earlier import happened to touch.
        for selector in _TWIN_SELECTORS:
            importlib.import_module(f"hypersio.{selector}")
        return _speedups.has_speedups()
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'hypersio' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name == f"hypersio.{name}" else getattr(module, name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from . import dispatch, engine, eio_parser, fanout, msgpack_parser, parser, wsframe
    from .broadcast import BroadcastOperator
    from .client import AsyncClient, connect
    from .namespace import Namespace
    from .server import Recovery, Server
    from .socket import Socket
