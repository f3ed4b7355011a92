"""Engine.IO v4 server on uvloop + httptools: long-polling, WebSocket, upgrade, heartbeat.

``Server`` accepts connections and hands each new ``Session`` to its ``connection`` handlers;
``PreparedMessage`` lets a broadcast encode a message once for every recipient. The Socket.IO
layer (``hypersio.Server``) is built on these three names.
"""

from .http import Request
from .message import PreparedMessage
from .server import Server
from .session import Session

__all__ = ["PreparedMessage", "Request", "Server", "Session"]
