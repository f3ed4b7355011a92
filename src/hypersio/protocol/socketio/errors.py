"""The error texts of the Socket.IO packet codecs, defined once for both formats and both twins.

The JSON codec (``_json_py`` and ``_json_c``) and the msgpack codec (``_msgpack_py`` and
``_msgpack_c``) raise with these texts only, formatted with ``str.format`` where they name a value,
so a compiled twin can never word an error differently from its pure twin. A placeholder written
``{}`` takes a text the caller already made (a ``repr`` cut short, a type name); ``{!r}`` takes
the value itself.
"""

from __future__ import annotations

from typing import Final

# Encoding (a programming error on this side, never peer input).
ERR_UNKNOWN_TYPE: Final = "unknown packet type {}"
ERR_NSP_TYPE: Final = "namespace must be a str, not {}"
ERR_ACK_ID_TYPE: Final = "ack id must be an int, not {}"
ERR_ACK_ID_RANGE: Final = "ack id {} out of range (0..2**53-1)"
ERR_ACK_ID_NEGATIVE: Final = "ack id must not be negative: {}"
ERR_BINARY_NOT_EVENT: Final = "binary data can only be sent in EVENT and ACK packets, not {}"
ERR_INT_TOO_BIG: Final = "integer {} does not fit in msgpack's 64 bits"
ERR_CANNOT_PACK: Final = "cannot encode a {} as msgpack"

# Decoding the JSON format.
ERR_NOT_JSON_CONSTANT: Final = "{} is not JSON"
ERR_INVALID_JSON: Final = "invalid JSON payload: {}"
ERR_JSON_TOO_DEEP: Final = "invalid JSON payload: nested too deeply"
ERR_LONE_SURROGATE: Final = "packet text holds a lone surrogate (not valid Unicode)"
ERR_EMPTY_PACKET: Final = "empty packet"
ERR_NO_ATTACHMENTS_DASH: Final = "illegal attachments: no '-' after the attachment count"
ERR_ATTACHMENTS_COUNT: Final = "illegal attachments count {!r}"
ERR_ATTACHMENTS_DIGITS: Final = "too many attachments (more than {})"
ERR_TOO_MANY_ATTACHMENTS: Final = "too many attachments: {} > {}"
ERR_ACK_ID_TOO_LONG: Final = "ack id too long"
ERR_ACK_ID_TOO_LARGE: Final = "ack id too large"
ERR_WHITESPACE_PAYLOAD: Final = "whitespace before the payload"
ERR_PLACEHOLDER: Final = "illegal attachment placeholder {!r} ({} attachments)"
ERR_TEXT_WHILE_BINARY: Final = "got a text packet while {} binary attachment(s) were due"
ERR_BINARY_NOT_PENDING: Final = "got binary data while no binary packet was pending"
ERR_CHUNK_TYPE: Final = "cannot decode a {}: expected str or bytes"

# Decoding the msgpack format.
ERR_MSGPACK_TEXT: Final = "the msgpack parser takes binary messages, got a text one"
ERR_MSGPACK_CHUNK_TYPE: Final = "cannot decode a {}: expected bytes"
ERR_MSGPACK_TOO_DEEP: Final = "msgpack packet nested too deeply"
ERR_INVALID_MSGPACK: Final = "invalid msgpack: {}"
ERR_NOT_A_MAP: Final = "a msgpack packet must be a map, not {}"
ERR_INVALID_TYPE: Final = "invalid packet type {}"
ERR_INVALID_NSP: Final = "invalid namespace {}"
ERR_INVALID_ACK_ID: Final = "invalid ack id {}"
ERR_DATE_RANGE: Final = "date {} ms from the epoch is out of range"

# The payload rules of socket.io-parser, the same in both formats: ERR_INVALID_PAYLOAD names the
# rule a decoded payload broke.
ERR_INVALID_PAYLOAD: Final = "invalid payload: {}"
PAYLOAD_CONNECT: Final = "CONNECT payload must be an object"
PAYLOAD_DISCONNECT: Final = "DISCONNECT must not have a payload"
PAYLOAD_CONNECT_ERROR: Final = "CONNECT_ERROR payload must be a string or an object"
PAYLOAD_EVENT: Final = "EVENT payload must be a non-empty array"
PAYLOAD_RESERVED_EVENT: Final = "event name {!r} is reserved"
PAYLOAD_EVENT_NAME: Final = "event name must be a string or a number"
PAYLOAD_ACK: Final = "ACK payload must be an array"
