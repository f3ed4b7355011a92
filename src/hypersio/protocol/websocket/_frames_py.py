"""RFC 6455 WebSocket frames, pure-Python twin of ``_frames_c`` and its spec.

Builds frames (server frames unmasked, client frames masked), parses an incoming byte stream into
complete messages, and owns the small pieces of the handshake and closing handshake that are pure
functions (``accept_key``, close payloads). The one extension is permessage-deflate (RFC 7692):
when the connection negotiated it, the parser inflates messages whose first frame has RSV1 set
(and ``build_frame(..., rsv1=True)`` marks a deflated payload); every other RSV bit is an error.

Every protocol violation by the peer raises :class:`hypersio.exceptions.WebSocketError` carrying
the close code to answer with: 1002 protocol error, 1007 invalid UTF-8, 1009 message too big.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import os
import re
import struct
import sys
import zlib
from typing import Any

from hypersio.exceptions import ParseError, WebSocketError
from hypersio.protocol.engineio.constants import MESSAGE
from hypersio.protocol.websocket import constants

# The wire vocabulary is part of this module's API (__all__ below): re-exported whole.
from hypersio.protocol.websocket.constants import *  # noqa: F403
from hypersio.protocol.websocket.constants import (
    CLOSE_INVALID_DATA,
    CLOSE_NO_STATUS,
    CLOSE_NOT_SENDABLE,
    CLOSE_PRIVATE_MAX,
    CLOSE_PRIVATE_MIN,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_REGISTERED_MAX,
    CLOSE_REGISTERED_MIN,
    CLOSE_TOO_BIG,
    DEFLATE_TAIL,
    ERR_CLOSE_CODE,
    ERR_CLOSE_ONE_BYTE,
    ERR_CLOSE_REASON_UTF8,
    ERR_CODE_NOT_SENDABLE,
    ERR_CONTROL_FRAGMENTED,
    ERR_CONTROL_FRAGMENTED_IN,
    ERR_CONTROL_TOO_BIG,
    ERR_CONTROL_TOO_BIG_IN,
    ERR_HANDSHAKE_KEY,
    ERR_INFLATE,
    ERR_KEY_SIZE,
    ERR_LENGTH_TOP_BIT,
    ERR_MASKED_FROM_SERVER,
    ERR_NEGATIVE_SIZE,
    ERR_NESTED_MESSAGE,
    ERR_NOT_BYTES,
    ERR_ORPHAN_CONTINUATION,
    ERR_REASON_TOO_LONG,
    ERR_REASON_WITHOUT_STATUS,
    ERR_RSV,
    ERR_RSV1_BUILD,
    ERR_RSV1_FRAME,
    ERR_TEXT_UTF8,
    ERR_TOO_BIG,
    ERR_TOO_BIG_INFLATED,
    ERR_UNKNOWN_OPCODE,
    ERR_UNMASKED_FROM_CLIENT,
    INFLATE_WINDOW_BITS,
    MASK_KEY_BATCH,
    MAX_CONTROL_PAYLOAD,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    WS_GUID,
)

__all__ = [
    "build_frame",
    "message_frame",
    "mask_payload",
    "build_close_payload",
    "parse_close_payload",
    "is_valid_close_code",
    "accept_key",
    "FrameParser",
]
__all__ += constants.__all__

_KNOWN_OPCODES = frozenset((OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG))
_pack_h2 = struct.Struct(">BB").pack
_pack_h4 = struct.Struct(">BBH").pack
_pack_h10 = struct.Struct(">BBQ").pack
_unpack_u16 = struct.Struct(">H").unpack_from
_unpack_u64 = struct.Struct(">Q").unpack_from
# _XOR_TABLES[k] maps every byte b to b ^ k, for bytes.translate.
_XOR_TABLES = [bytes(b ^ k for b in range(256)) for k in range(256)]
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")
_KEY_SHAPE = re.compile(r"[+/0-9A-Za-z]{22}==")
_TRANSLATE_FROM = 512  # measured crossover between the big-int XOR and the translate passes
# The Engine.IO type digit in front of every message sent in a text frame ("4").
_EIO_MESSAGE = str(MESSAGE)


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """``data`` as bytes; TypeError for a str or anything that is not bytes-like."""
    if type(data) is bytes:
        return data
    if isinstance(data, str):
        raise TypeError(ERR_NOT_BYTES.format("str"))
    return bytes(memoryview(data))  # bytes(int) would be that many zero bytes: not bytes-like


# Masking keys not handed out yet: a slice of os.urandom output, consumed 4 bytes at a time.
_mask_keys = b""
_mask_key_pos = 0


def _next_mask_key() -> bytes:
    """A fresh, unpredictable 4-byte masking key (RFC 6455 10.3), from batched os.urandom."""
    global _mask_keys, _mask_key_pos
    if _mask_key_pos >= len(_mask_keys):
        _mask_keys = os.urandom(MASK_KEY_BATCH)
        _mask_key_pos = 0
    key = _mask_keys[_mask_key_pos : _mask_key_pos + 4]
    _mask_key_pos += 4
    return key


def _drop_mask_keys() -> None:
    """Forget the keys not handed out yet: a forked child must never reuse its parent's."""
    global _mask_keys, _mask_key_pos
    _mask_keys = b""
    _mask_key_pos = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_mask_keys)


def mask_payload(data: bytes | bytearray | memoryview, key: bytes | bytearray | memoryview) -> bytes:
    """XOR ``data`` with the 4-byte masking ``key`` (RFC 6455 section 5.3).

    The same operation masks an outgoing client frame and unmasks an incoming one.
    """
    data = _as_bytes(data)
    key = _as_bytes(key)
    if len(key) != 4:
        raise ValueError(ERR_KEY_SIZE)
    n = len(data)
    if n < _TRANSLATE_FROM:
        if n == 0:
            return b""
        # One big-integer XOR runs in C over machine words; cheapest for short messages.
        stream = key * ((n >> 2) + 1)
        return (int.from_bytes(data, "little") ^ int.from_bytes(stream[:n], "little")).to_bytes(n, "little")
    # Longer data: every 4th byte shares a key byte, so four C-level translate passes do it all.
    buf = bytearray(data)
    for i in range(4):
        buf[i::4] = buf[i::4].translate(_XOR_TABLES[key[i]])
    return bytes(buf)


def build_frame(
    opcode: int,
    payload: bytes | bytearray | memoryview | str,
    mask: bool = False,
    fin: bool = True,
    *,
    mask_key: bytes | None = None,
    rsv1: bool = False,
) -> bytes:
    """Build one complete frame ready for ``transport.write``.

    ``str`` payloads are UTF-8 encoded. A server sends unmasked frames (``mask=False``); a client
    must mask (``mask=True``: a fresh random key per frame). ``mask_key`` forces a given key and
    implies masking; tests use it to get reproducible bytes. ``fin=False`` starts or continues a
    fragmented message. ``rsv1=True`` marks the payload as a deflated message (permessage-deflate,
    RFC 7692; only on a text or binary frame, and only when the connection negotiated it).
    Raises ValueError for an unknown opcode, a fragmented or oversized (>125 bytes) control
    frame, RSV1 on a control or continuation frame, or a key that is not 4 bytes.
    """
    payload = payload.encode("utf-8") if isinstance(payload, str) else _as_bytes(payload)
    if opcode not in _KNOWN_OPCODES:
        raise ValueError(ERR_UNKNOWN_OPCODE.format(opcode))
    n = len(payload)
    if opcode >= OP_CLOSE:
        if n > MAX_CONTROL_PAYLOAD:
            raise ValueError(ERR_CONTROL_TOO_BIG)
        if not fin:
            raise ValueError(ERR_CONTROL_FRAGMENTED)
    b0 = (opcode | 0x80) if fin else opcode
    if rsv1:
        if opcode != OP_TEXT and opcode != OP_BINARY:
            raise ValueError(ERR_RSV1_BUILD)
        b0 |= RSV1
    key: bytes | None = None
    if mask_key is not None:
        key = _as_bytes(mask_key)
        if len(key) != 4:
            raise ValueError(ERR_KEY_SIZE)
    elif mask:
        key = _next_mask_key()
    mbit = 0x80 if key is not None else 0
    if n < 126:
        header = _pack_h2(b0, mbit | n)
    elif n < 65536:
        header = _pack_h4(b0, mbit | 126, n)
    else:
        header = _pack_h10(b0, mbit | 127, n)
    if key is not None:
        return header + key + mask_payload(payload, key)
    return header + payload


def message_frame(data: str | bytes | bytearray | memoryview) -> bytes:
    """The unmasked server frame carrying one Engine.IO message: a text frame of ``"4" + data``
    for ``str``, a binary frame for bytes-like ``data``.

    The per-message send path of every WebSocket session (``Outlet.send``); the compiled twin
    writes the Engine.IO type byte in place instead of concatenating.
    """
    if isinstance(data, str):
        return build_frame(OP_TEXT, _EIO_MESSAGE + data)
    return build_frame(OP_BINARY, data)


def is_valid_close_code(code: int) -> bool:
    """True for a close code a peer may put on the wire (1005, 1006 and 1015 are local-only)."""
    return (
        CLOSE_REGISTERED_MIN <= code <= CLOSE_REGISTERED_MAX and code not in CLOSE_NOT_SENDABLE
    ) or CLOSE_PRIVATE_MIN <= code <= CLOSE_PRIVATE_MAX


def build_close_payload(code: int, reason: str = "") -> bytes:
    """Payload of a CLOSE frame: the 2-byte status code, then the UTF-8 reason.

    ``code=1005`` (no status) gives the empty payload. Raises ValueError for a code that may not be
    sent or a reason longer than 123 UTF-8 bytes (a control frame holds 125 bytes).
    """
    if code == CLOSE_NO_STATUS:
        if reason:
            raise ValueError(ERR_REASON_WITHOUT_STATUS)
        return b""
    if not is_valid_close_code(code):
        raise ValueError(ERR_CODE_NOT_SENDABLE.format(code))
    raw = reason.encode("utf-8")
    if len(raw) > MAX_CONTROL_PAYLOAD - 2:
        raise ValueError(ERR_REASON_TOO_LONG)
    return code.to_bytes(2, "big") + raw


def parse_close_payload(payload: bytes | bytearray | memoryview) -> tuple[int, str]:
    """Decode a received CLOSE payload into ``(code, reason)``; empty gives ``(1005, "")``.

    Raises WebSocketError 1002 for a 1-byte payload or a code that may not be sent, 1007 for a
    reason that is not UTF-8.
    """
    payload = _as_bytes(payload)
    n = len(payload)
    if n == 0:
        return CLOSE_NO_STATUS, ""
    if n == 1:
        raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_CLOSE_ONE_BYTE)
    code = _unpack_u16(payload)[0]
    if not is_valid_close_code(code):
        raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_CLOSE_CODE.format(code))
    try:
        reason = str(payload[2:], "utf-8")
    except UnicodeDecodeError:
        raise WebSocketError(CLOSE_INVALID_DATA, ERR_CLOSE_REASON_UTF8) from None
    return code, reason


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value answering a client's ``Sec-WebSocket-Key``.

    Raises ParseError when the key is not the base64 of 16 bytes (RFC 6455 4.2.1): the server
    should answer such a handshake with 400, as the ``ws`` package does.
    """
    if not isinstance(key, str) or _KEY_SHAPE.fullmatch(key) is None:
        raise ParseError(ERR_HANDSHAKE_KEY.format(key))
    digest = hashlib.sha1((key + WS_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


class FrameParser:
    """Incremental frame reader for one connection: ``feed`` bytes, get complete messages.

    Partial frames are buffered across calls; fragmented messages are reassembled (control frames
    may arrive between fragments and are returned at once). A frame whose declared length would
    take the message past ``max_message_size`` is refused before any of its payload is buffered,
    so a peer can never make this object hold more than about twice that size.

    ``expect_masked=True`` is the server side (client frames must be masked), ``False`` the client
    side (server frames must not be). After a WebSocketError the parser stays failed.

    ``per_message_deflate=True`` (the connection negotiated RFC 7692): a message whose first frame
    has RSV1 set is inflated before it is returned, and ``max_message_size`` holds for the
    inflated size too, checked while inflating (so a zip bomb costs at most that much memory
    before the 1009). ``peer_no_context_takeover=True``: the peer compresses every message on its
    own (``client_no_context_takeover`` on a server), so each one is inflated with a fresh
    inflater and no inflate state outlives a message; otherwise the parser keeps one inflater for
    the connection (created with the first compressed message).
    """

    __slots__ = (
        "max_message_size",
        "expect_masked",
        "per_message_deflate",
        "peer_no_context_takeover",
        "_buf",
        "_frag_opcode",
        "_frag",
        "_frag_compressed",
        "_utf8",
        "_inflater",
        "_error",
    )

    def __init__(
        self,
        max_message_size: int = 1_000_000,
        expect_masked: bool = True,
        per_message_deflate: bool = False,
        peer_no_context_takeover: bool = False,
    ) -> None:
        if max_message_size < 0:
            raise ValueError(ERR_NEGATIVE_SIZE)
        self.max_message_size = max_message_size
        self.expect_masked = expect_masked
        self.per_message_deflate = per_message_deflate
        self.peer_no_context_takeover = peer_no_context_takeover
        self._frag_compressed = False  # the fragmented message in progress had RSV1 on its first frame
        self._inflater: Any = None  # zlib's decompress object (context takeover), made on first use
        self._buf = bytearray()
        self._frag_opcode = 0  # opcode of the fragmented message in progress, 0 when none
        # One growing buffer, not a list of parts: a flood of 1-byte fragments costs 1 byte each.
        self._frag = bytearray()
        # Validates a fragmented text message as it arrives, so bad UTF-8 fails fast (RFC 6455 8.1).
        self._utf8: codecs.IncrementalDecoder | None = None
        self._error: tuple[int, str] | None = None

    @property
    def pending(self) -> int:
        """Bytes held for messages not complete yet: a partial frame plus the fragments of a
        fragmented message in progress (what the server's memory budget counts as unfinished)."""
        return len(self._buf) + len(self._frag)

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, object]]:
        """Consume received bytes; return the messages they completed, in order.

        Items are ``(OP_TEXT, str)``, ``(OP_BINARY, bytes)``, ``(OP_PING, bytes)``,
        ``(OP_PONG, bytes)`` and ``(OP_CLOSE, (code, reason))``. Raises WebSocketError.
        """
        if self._error is not None:
            raise WebSocketError(*self._error)
        chunk = _as_bytes(data)
        try:
            return self._feed(chunk)
        except WebSocketError as exc:
            self._error = (exc.code, str(exc))
            self._buf = bytearray()
            self._frag = bytearray()
            self._utf8 = None
            self._inflater = None
            raise

    def _feed(self, data: bytes) -> list[tuple[int, object]]:
        buf: bytes | bytearray
        if self._buf:
            self._buf += data
            buf = self._buf
        else:
            buf = data
        out: list[tuple[int, object]] = []
        pos = 0
        end = len(buf)
        expect_masked = self.expect_masked
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            compressed = False
            if b0 & 0x70:
                if b0 & 0x70 != RSV1 or not self.per_message_deflate:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_RSV)
                if opcode != OP_TEXT and opcode != OP_BINARY:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_RSV1_FRAME)
                compressed = True
            if opcode not in _KNOWN_OPCODES:
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_UNKNOWN_OPCODE.format(opcode))
            masked = b1 & 0x80
            if masked and not expect_masked:
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_MASKED_FROM_SERVER)
            if not masked and expect_masked:
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_UNMASKED_FROM_CLIENT)
            length = b1 & 0x7F
            if opcode >= OP_CLOSE:
                if not fin:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_CONTROL_FRAGMENTED_IN)
                if length > MAX_CONTROL_PAYLOAD:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_CONTROL_TOO_BIG_IN)
            elif opcode == OP_CONTINUATION:
                if not self._frag_opcode:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_ORPHAN_CONTINUATION)
            elif self._frag_opcode:
                raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_NESTED_MESSAGE)
            header = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = _unpack_u16(buf, pos + 2)[0]
                header = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = _unpack_u64(buf, pos + 2)[0]
                if length >> 63:
                    raise WebSocketError(CLOSE_PROTOCOL_ERROR, ERR_LENGTH_TOP_BIT)
                header = 10
            # Checked on the declared length, before a single payload byte is kept.
            if opcode == OP_CONTINUATION:
                if len(self._frag) + length > self.max_message_size:
                    raise WebSocketError(CLOSE_TOO_BIG, ERR_TOO_BIG)
            elif opcode < OP_CLOSE and length > self.max_message_size:
                raise WebSocketError(CLOSE_TOO_BIG, ERR_TOO_BIG)
            if masked:
                header += 4
            stop = pos + header + length
            if stop > end:
                break
            if masked:
                payload = mask_payload(buf[pos + header : stop], buf[pos + header - 4 : pos + header])
            else:
                payload = bytes(buf[pos + header : stop])
            pos = stop
            if opcode >= OP_CLOSE:
                if opcode == OP_CLOSE:
                    out.append((OP_CLOSE, parse_close_payload(payload)))
                else:
                    out.append((opcode, payload))
                continue
            message: bytes | bytearray = payload
            if opcode == OP_CONTINUATION:
                self._frag += payload
                if not fin:
                    self._check_utf8(payload)
                    continue
                opcode = self._frag_opcode
                message = self._frag
                compressed = self._frag_compressed
                self._frag_opcode = 0
                self._frag = bytearray()
                self._frag_compressed = False
                self._utf8 = None
            elif not fin:
                self._frag_opcode = opcode
                self._frag = bytearray(payload)
                self._frag_compressed = compressed
                if opcode == OP_TEXT and not compressed:  # deflated bytes are checked once inflated
                    self._utf8 = _Utf8Decoder()
                    self._check_utf8(payload)
                continue
            if compressed:
                message = self._inflate(message)
            if opcode == OP_TEXT:
                try:
                    out.append((OP_TEXT, message.decode("utf-8")))
                except UnicodeDecodeError:
                    raise WebSocketError(CLOSE_INVALID_DATA, ERR_TEXT_UTF8) from None
            else:
                out.append((OP_BINARY, bytes(message)))
        if buf is self._buf:
            del self._buf[:pos]
        elif pos < end:
            self._buf = bytearray(buf[pos:])
        return out

    def _inflate(self, data: bytes | bytearray) -> bytes:
        """The inflated message ``data`` (RFC 7692 7.2.2), refused past ``max_message_size``.

        zlib is asked for one byte more than the limit at most, so a message that would inflate
        to gigabytes costs ``max_message_size`` bytes of output before it is refused.
        """
        inflater = self._inflater
        if inflater is None:
            inflater = zlib.decompressobj(-INFLATE_WINDOW_BITS)
            if not self.peer_no_context_takeover:
                self._inflater = inflater
        limit = self.max_message_size
        # One byte past the limit tells "too big" from "exactly the limit" (sys.maxsize: no limit).
        cap = limit + 1 if limit < sys.maxsize else limit
        try:
            out: bytes = inflater.decompress(bytes(data) + DEFLATE_TAIL, cap)
        except zlib.error as exc:
            raise WebSocketError(CLOSE_INVALID_DATA, ERR_INFLATE.format(exc)) from None
        if len(out) > limit:
            raise WebSocketError(CLOSE_TOO_BIG, ERR_TOO_BIG_INFLATED)
        if inflater.eof:
            # The peer ended its deflate stream (a final block): the next message starts a new one.
            self._inflater = None
        return out

    def _check_utf8(self, fragment: bytes) -> None:
        # Only non-final fragments come here; the complete message is decoded once it ends.
        if self._utf8 is not None:
            try:
                self._utf8.decode(fragment)
            except UnicodeDecodeError:
                raise WebSocketError(CLOSE_INVALID_DATA, ERR_TEXT_UTF8) from None
