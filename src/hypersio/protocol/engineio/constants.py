"""The Engine.IO v4 wire vocabulary, defined once: packet types, the polling separator, limits, error texts.

Both builds of ``_packets`` (the pure module and the same source compiled) take every number and
every message from here, and the public names of this module are part of their ``__all__``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "OPEN",
    "CLOSE",
    "PING",
    "PONG",
    "MESSAGE",
    "UPGRADE",
    "NOOP",
    "SEPARATOR",
    "DEFAULT_MAX_PACKETS",
]

OPEN: Final = 0
CLOSE: Final = 1
PING: Final = 2
PONG: Final = 3
MESSAGE: Final = 4
UPGRADE: Final = 5
NOOP: Final = 6

#: Joins the packets of one long-polling body (the ASCII record separator).
SEPARATOR: Final = "\x1e"

#: A polling body is already capped in bytes by maxHttpBufferSize; this caps the number of decoded
#: packets too, so a body of one-byte records cannot become half a million tuples. It is set high
#: on purpose: engine.io-client batches a whole burst of emits into one POST of up to maxPayload
#: (1 MB), which at 8 bytes per minimal event is ~125,000 packets, and the official server has no
#: such limit at all. Servers with a larger maxHttpBufferSize pass their own value.
DEFAULT_MAX_PACKETS: Final = 100_000

# Error texts, formatted with str.format where they name a value.
ERR_UNKNOWN_TYPE: Final = "unknown Engine.IO packet type {!r}"
ERR_BINARY_NOT_MESSAGE: Final = "only MESSAGE packets may carry binary data"
ERR_DATA_TYPE: Final = "Engine.IO packet data must be str, bytes or None, not {}"
ERR_PACKET_TYPE: Final = "Engine.IO packet must be str or bytes, not {}"
ERR_EMPTY_PACKET: Final = "empty Engine.IO packet"
ERR_BAD_BASE64: Final = "invalid base64 in Engine.IO binary packet: {}"
ERR_EMPTY_PAYLOAD: Final = "an Engine.IO payload needs at least one packet"
ERR_PAYLOAD_NOT_UTF8: Final = "Engine.IO payload is not valid UTF-8: {}"
ERR_TOO_MANY_PACKETS: Final = "Engine.IO payload holds more than {} packets"
