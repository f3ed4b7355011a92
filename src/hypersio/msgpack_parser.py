"""The Socket.IO packet codec of socket.io-msgpack-parser: the same API as ``hypersio.parser``.

The implementation is ``hypersio.protocol.socketio.msgpack_codec`` (compiled, or its pure twin).
"""

from hypersio.protocol.socketio.msgpack_codec import *  # noqa: F403
from hypersio.protocol.socketio.msgpack_codec import IMPLEMENTATION, __all__  # noqa: F401
