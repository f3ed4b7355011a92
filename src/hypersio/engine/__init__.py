"""Engine.IO v4 server on uvloop + httptools: long-polling, WebSocket, upgrade, heartbeat.

``Server`` accepts connections and hands each new ``Session`` to its ``connection`` handlers;
``PreparedMessage`` lets a broadcast encode a message once for every recipient. The Socket.IO
layer (``hypersio.Server``) is built on these three names.
"""

from hypersio.engine.message import PreparedMessage
from hypersio.engine.server.http import Request
from hypersio.engine.server.server import Server
from hypersio.engine.server.session import Session

__all__ = ["PreparedMessage", "Request", "Server", "Session"]
