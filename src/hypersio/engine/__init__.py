"""Engine.IO v4 server on uvloop + httptools: long-polling, WebSocket, upgrade, heartbeat.

``Server`` accepts connections and hands each new ``Session`` to its ``connection`` handlers
(``Session.request`` is the handshake ``Request``); ``PreparedMessage`` lets a broadcast encode a
message once for every recipient. The Socket.IO layer (``hypersio.Server``) is built on these.

Inside: ``outlet`` (the per-connection output buffers and corking, a compiled twin),
``message``, ``options`` (``EngineOptions``, the server's settings), then ``server/`` and, beside
it and independent of it, ``client/`` (the Engine.IO client ``hypersio.AsyncClient`` sits on).
"""

from hypersio.engine.message import PreparedMessage
from hypersio.engine.server.http import Request
from hypersio.engine.server.server import Server
from hypersio.engine.server.session import Session

__all__ = ["PreparedMessage", "Request", "Server", "Session"]
