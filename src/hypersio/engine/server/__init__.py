"""The Engine.IO server: HTTP on httptools, long-polling, WebSocket, the upgrade and heartbeats.

The modules, from the bottom up (each imports only those before it):

- ``heartbeat``: one loop timer for every session's deadline; a session is a ``Timed`` to it.
- ``http``: one TCP connection, its requests and responses; it hands requests to a
  ``RequestHandler`` (the server) and, after an upgrade, its bytes to the WebSocket.
- ``routing``: the plain routing and handshake decisions (errors, CORS, the open packet).
- ``protocols``: the ``TransportSession`` the two transports report to.
- ``polling`` and ``websocket``: the two transports.
- ``session``: one client's Engine.IO session, whatever transport carries it.
- ``server``: the listening socket, the session table, request routing; it implements the
  protocols above and hands each module what it needs (``EngineOptions``, the corker, the heartbeats).
"""
