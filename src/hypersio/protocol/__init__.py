"""Step 1 of the staircase: the wire formats, with no I/O.

Nothing here imports asyncio, sockets or uvloop (ruff's banned-api rule for this folder says so):
``websocket`` (RFC 6455 frames and the handshake key), ``engineio`` (Engine.IO v4 packets and
long-polling payloads) and ``socketio`` (Socket.IO v5 packets in the JSON and msgpack formats).
Each hot codec is a twin family (see ``hypersio._speedups``): a compiled module and a pure one.
"""
