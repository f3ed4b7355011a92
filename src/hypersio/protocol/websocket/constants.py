"""The RFC 6455 wire vocabulary, defined once: opcodes, close codes, limits, error texts.

Both twins of ``_frames`` (pure and compiled) take every number and every message from here,
and the public names of this module are part of their ``__all__``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "OP_CONTINUATION",
    "OP_TEXT",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "CLOSE_NORMAL",
    "CLOSE_GOING_AWAY",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_NO_STATUS",
    "CLOSE_INVALID_DATA",
    "CLOSE_TOO_BIG",
    "WS_GUID",
]

OP_CONTINUATION: Final = 0
OP_TEXT: Final = 1
OP_BINARY: Final = 2
OP_CLOSE: Final = 8
OP_PING: Final = 9
OP_PONG: Final = 10

CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_NO_STATUS: Final = 1005
CLOSE_INVALID_DATA: Final = 1007
CLOSE_TOO_BIG: Final = 1009

WS_GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# The close codes a peer may put on the wire (RFC 6455 7.4, checked as the ws package does): the
# IANA-registered range less the codes that are reserved (1004) or only reported locally (1005,
# 1006; 1015 lies past the range), and the range for libraries and applications.
CLOSE_REGISTERED_MIN: Final = 1000
CLOSE_REGISTERED_MAX: Final = 1014
CLOSE_NOT_SENDABLE: Final = (1004, CLOSE_NO_STATUS, 1006)
CLOSE_PRIVATE_MIN: Final = 3000
CLOSE_PRIVATE_MAX: Final = 4999

#: The RSV1 bit of a frame's first byte: set on the first frame of a compressed message
#: (permessage-deflate, RFC 7692 6.1); RSV2 and RSV3 have no meaning here.
RSV1: Final = 0x40
#: What a sender strips from the end of a deflated message and a receiver appends before
#: inflating it (RFC 7692 7.2.1: the empty stored block of a sync flush).
DEFLATE_TAIL: Final = b"\x00\x00\xff\xff"
#: The LZ77 window (log2 bytes) the inflater of a permessage-deflate receiver uses: the largest
#: there is, so whatever window the peer compressed with, its messages inflate.
INFLATE_WINDOW_BITS: Final = 15

#: A control frame (close, ping, pong) carries at most this many payload bytes.
MAX_CONTROL_PAYLOAD: Final = 125
#: Client masking keys (RFC 6455 5.3: unpredictable) are drawn from os.urandom this many bytes at
#: a time, so a client frame costs a 4-byte copy instead of a system call.
MASK_KEY_BATCH: Final = 4096

# Error texts, formatted with str.format where they name a value.
ERR_KEY_SIZE: Final = "a WebSocket masking key is exactly 4 bytes"
ERR_UNKNOWN_OPCODE: Final = "unknown WebSocket opcode {!r}"
ERR_CONTROL_TOO_BIG: Final = "a WebSocket control frame carries at most 125 bytes"
ERR_CONTROL_FRAGMENTED: Final = "a WebSocket control frame cannot be fragmented"
ERR_NOT_BYTES: Final = "expected a bytes-like object, not {}"
ERR_REASON_WITHOUT_STATUS: Final = "a close without status code cannot carry a reason"
ERR_CODE_NOT_SENDABLE: Final = "WebSocket close code {} may not be sent"
ERR_REASON_TOO_LONG: Final = "a WebSocket close reason is at most 123 UTF-8 bytes"
ERR_CLOSE_ONE_BYTE: Final = "WebSocket close payload of 1 byte"
ERR_CLOSE_CODE: Final = "invalid WebSocket close code {}"
ERR_CLOSE_REASON_UTF8: Final = "WebSocket close reason is not UTF-8"
ERR_HANDSHAKE_KEY: Final = "invalid Sec-WebSocket-Key {!r}"
ERR_NEGATIVE_SIZE: Final = "max_message_size cannot be negative"
ERR_RSV: Final = "WebSocket RSV bits set without a negotiated extension"
ERR_RSV1_BUILD: Final = "only the first frame of a data message can carry RSV1 (compressed)"
ERR_RSV1_FRAME: Final = "WebSocket RSV1 set outside the first frame of a data message"
ERR_INFLATE: Final = "WebSocket compressed message does not inflate: {}"
ERR_TOO_BIG_INFLATED: Final = "WebSocket message over the size limit once inflated"
ERR_MASKED_FROM_SERVER: Final = "masked frame from a WebSocket server"
ERR_UNMASKED_FROM_CLIENT: Final = "unmasked frame from a WebSocket client"
ERR_CONTROL_FRAGMENTED_IN: Final = "fragmented WebSocket control frame"
ERR_CONTROL_TOO_BIG_IN: Final = "WebSocket control frame over 125 bytes"
ERR_ORPHAN_CONTINUATION: Final = "WebSocket continuation frame without a message"
ERR_NESTED_MESSAGE: Final = "new WebSocket message inside a fragmented one"
ERR_LENGTH_TOP_BIT: Final = "WebSocket frame length has its top bit set"
ERR_TOO_BIG: Final = "WebSocket message over the size limit"
ERR_TEXT_UTF8: Final = "WebSocket text message is not UTF-8"
