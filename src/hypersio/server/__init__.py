"""Step 4: the Socket.IO server: ``Server`` on the engine, its namespaces, sockets, connections and
broadcast operators.

Inside the step, imports go one way: ``broadcast`` < ``socket`` < ``connection`` < ``namespace``
< ``parent_namespace`` < ``server``; where a lower module calls a higher one, the lower one
declares a Protocol of what it needs (``socket.NamespaceView``, ``socket.ConnectionView``,
``namespace.ServerView``) or takes a callable (the connection's ``on_connect``/``on_closed``).
"""

from hypersio.server.broadcast import BroadcastOperator
from hypersio.server.namespace import Namespace
from hypersio.server.server import Recovery, Server
from hypersio.server.socket import Socket

__all__ = ["BroadcastOperator", "Namespace", "Recovery", "Server", "Socket"]
