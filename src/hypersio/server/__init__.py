"""Step 4: the Socket.IO server: ``Server`` on the engine, its namespaces, sockets, connections and
broadcast operators.
"""

from hypersio.server.broadcast import BroadcastOperator
from hypersio.server.namespace import Namespace
from hypersio.server.server import Recovery, Server
from hypersio.server.socket import Socket

__all__ = ["BroadcastOperator", "Namespace", "Recovery", "Server", "Socket"]
