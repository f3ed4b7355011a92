"""Engine.IO v4 packets and long-polling payloads, for sans-I/O users and tools.

The implementation is ``hypersio.protocol.engineio.packets`` (compiled, or its pure twin).
"""

from hypersio.protocol.engineio.packets import *  # noqa: F403
from hypersio.protocol.engineio.packets import IMPLEMENTATION, __all__  # noqa: F401
