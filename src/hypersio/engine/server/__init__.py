"""The Engine.IO server: HTTP on httptools, long-polling, WebSocket, the upgrade and heartbeats.

``server.Server`` owns the listening socket and the session table; ``http`` parses requests and
hands them to the server through the ``RequestHandler`` protocol; ``polling`` and ``websocket`` are
the two transports; ``session`` is one client's Engine.IO session; ``heartbeat`` times pings.
"""
