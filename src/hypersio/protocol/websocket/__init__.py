"""WebSocket (RFC 6455) without I/O: frame building and parsing, close payloads, the handshake key.

``frames`` selects the compiled or the pure twin; ``hypersio.wsframe`` is its public face.
"""
