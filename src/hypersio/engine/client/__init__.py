"""The Engine.IO client: an HTTP/1.1 connection, the WebSocket connection, both transports, and
``client.EngineClient`` (handshake, upgrade, heartbeat) on top of them.
"""
