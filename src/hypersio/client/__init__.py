"""Step 4: the Socket.IO client: ``AsyncClient`` (one namespace), its ``Manager`` (the Engine.IO
connection and reconnection shared by namespaces) and the retry queue of ``retries=``.
"""

from hypersio.client.client import AsyncClient, connect

__all__ = ["AsyncClient", "connect"]
