"""The Socket.IO packet codec of the default parser, byte-compatible with socket.io-parser.

``Packet``, ``Encoder``, ``Decoder`` and the packet-type constants (see API.md, "Parser"); the
implementation is ``hypersio.protocol.socketio.json_codec`` (compiled, or its pure twin).
"""

from hypersio.protocol.socketio.json_codec import *  # noqa: F403
from hypersio.protocol.socketio.json_codec import IMPLEMENTATION, __all__  # noqa: F401
