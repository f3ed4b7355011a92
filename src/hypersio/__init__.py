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

# Importing the selectors here makes HAS_SPEEDUPS describe every compiled module, not only the
# ones some earlier import happened to touch.
from . import eio_parser, msgpack_parser, parser, wsframe  # noqa: E402

HAS_SPEEDUPS: bool = _speedups.has_speedups()

_LAZY = {
    "Server": "hypersio.server",
    "Namespace": "hypersio.namespace",
    "Socket": "hypersio.socket",
    "BroadcastOperator": "hypersio.broadcast",
    "Recovery": "hypersio.server",
    "AsyncClient": "hypersio.client",
    "connect": "hypersio.client",
    "engine": "hypersio.engine",
}

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
    "eio_parser",
    "engine",
    "msgpack_parser",
    "parser",
    "wsframe",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'hypersio' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name == f"hypersio.{name}" else getattr(module, name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from . import engine
    from .broadcast import BroadcastOperator
    from .client import AsyncClient, connect
    from .namespace import Namespace
    from .server import Recovery, Server
    from .socket import Socket
