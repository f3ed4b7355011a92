"""WebSocket framing (RFC 6455) for sans-I/O users and tools.

The implementation is ``hypersio.protocol.websocket.frames`` (compiled, or its pure twin).
"""

from hypersio.protocol.websocket.frames import *  # noqa: F403
from hypersio.protocol.websocket.frames import IMPLEMENTATION, __all__  # noqa: F401
