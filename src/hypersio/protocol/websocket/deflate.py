"""permessage-deflate (RFC 7692): the server's negotiation and the deflated message frames.

No I/O: :func:`negotiate` reads a client's ``Sec-WebSocket-Extensions`` offer and returns the
agreed :class:`Deflate` parameters (or None: no compression on that connection), whose
:attr:`Deflate.response_header` goes in the ``101`` answer; :func:`deflated_message_frame`
builds the compressed server frame of one Engine.IO message. Inflating what the client sends is
the frame parser's job (``FrameParser(per_message_deflate=True)`` in the twins of ``_frames``).

The server always answers with ``server_no_context_takeover`` (RFC 7692 7.1.1.1 lets a server
add it to any offer): every message it sends is compressed on its own. That costs some ratio on
a stream of similar messages, and buys two things: a broadcast is deflated once and the same
bytes go to every recipient (with context takeover each connection's compressor would have to
compress it again, its output depending on what that connection sent before), and no
connection holds a compressor (zlib's deflate state is about 256 KiB; one per idle client is
what makes servers turn compression off). One compressor per window size serves the process,
flushed with ``Z_FULL_FLUSH`` after each message, which empties its window: what follows never
refers back.
"""

from __future__ import annotations

import zlib
from typing import Any, Final

from hypersio.protocol.engineio.constants import MESSAGE
from hypersio.protocol.websocket import frames as wsframe
from hypersio.protocol.websocket.constants import DEFLATE_TAIL, OP_BINARY, OP_TEXT

__all__ = ["EXTENSION", "Deflate", "deflate_message", "deflated_message_frame", "negotiate", "parse_offers"]

EXTENSION: Final = "permessage-deflate"
# RFC 7692 7.1.2: window sizes are 2**8 .. 2**15 bytes. zlib cannot deflate with a 256-byte
# window (it silently uses 512), so a client that asks for 8 is answered without the extension.
_MIN_WINDOW_BITS: Final = 9
_MAX_WINDOW_BITS: Final = 15
_EIO_MESSAGE: Final = str(MESSAGE).encode("ascii")
_PARAMS: Final = frozenset(
    ("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits")
)


class Deflate:
    """The permessage-deflate parameters agreed with one client.

    ``server_window_bits``: the LZ77 window the server compresses with (15 unless the client
    asked for less with ``server_max_window_bits``). ``client_no_context_takeover``: the client
    offered it and the server accepted, so the client compresses every message on its own (each
    one is inflated with a fresh inflater). ``server_no_context_takeover`` is always agreed
    (see the module docstring).
    """

    __slots__ = ("server_window_bits", "client_no_context_takeover")

    def __init__(self, server_window_bits: int = _MAX_WINDOW_BITS, client_no_context_takeover: bool = False) -> None:
        self.server_window_bits = server_window_bits
        self.client_no_context_takeover = client_no_context_takeover

    @property
    def response_header(self) -> str:
        """The ``Sec-WebSocket-Extensions`` value of the server's ``101`` answer."""
        parts = [EXTENSION, "server_no_context_takeover"]
        if self.client_no_context_takeover:
            parts.append("client_no_context_takeover")
        if self.server_window_bits != _MAX_WINDOW_BITS:
            parts.append(f"server_max_window_bits={self.server_window_bits}")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"Deflate({self.response_header!r})"


def _unquote(value: str) -> str | None:
    """A parameter value without its quotes (RFC 7692 7.1: a quoted value must still be a token)."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    if not value or '"' in value:
        return None
    return value


def parse_offers(header: str) -> list[tuple[str, dict[str, str | None]]]:
    """The extension offers of a ``Sec-WebSocket-Extensions`` value, in order.

    Each offer is ``(name, {param: value or None})`` with lowercased names; an offer that
    repeats a parameter or holds an unparsable one gets ``"": None`` among its parameters, so
    whoever reads it declines it (RFC 7692 7: a repeated parameter makes an offer invalid).
    """
    offers: list[tuple[str, dict[str, str | None]]] = []
    for item in header.split(","):
        name, *raw_params = (part.strip() for part in item.split(";"))
        if not name:
            continue
        params: dict[str, str | None] = {}
        for raw in raw_params:
            key, sep, value = raw.partition("=")
            key = key.strip().lower()
            parsed = _unquote(value.strip()) if sep else None
            if not key or key in params or (sep and parsed is None):
                params[""] = None
                continue
            params[key] = parsed
        offers.append((name.lower(), params))
    return offers


def _window_bits(value: str | None) -> int | None:
    """``value`` as a window size 8..15, or None when it is not one."""
    if value is None or not value.isdigit() or len(value) > 2:
        return None
    bits = int(value)
    return bits if 8 <= bits <= _MAX_WINDOW_BITS else None


def _accept(params: dict[str, str | None]) -> Deflate | None:
    """The parameters the server agrees to for one permessage-deflate offer, or None to decline it."""
    if not params.keys() <= _PARAMS:
        return None  # an unknown, repeated or malformed parameter: RFC 7692 7 says decline
    if params.get("server_no_context_takeover") is not None:
        return None
    if params.get("client_no_context_takeover") is not None:
        return None
    server_bits = _MAX_WINDOW_BITS
    if "server_max_window_bits" in params:
        bits = _window_bits(params["server_max_window_bits"])
        if bits is None or bits < _MIN_WINDOW_BITS:
            return None  # no value, a bad one, or 8 (which zlib cannot honour)
        server_bits = bits
    if "client_max_window_bits" in params:
        value = params["client_max_window_bits"]
        # No value: the client could take a limit. With one: the client's own limit. Either way
        # the server inflates with the largest window, so it sets none and leaves it out.
        if value is not None and _window_bits(value) is None:
            return None
    return Deflate(server_bits, "client_no_context_takeover" in params)


def negotiate(header: str | None) -> Deflate | None:
    """The permessage-deflate parameters to use with a client whose handshake carried the
    ``Sec-WebSocket-Extensions`` value ``header``; None when it offered none the server accepts.

    The first acceptable offer wins (a client lists its preferences first); invalid offers are
    declined, never an error: the connection then simply goes uncompressed.
    """
    if not header:
        return None
    for name, params in parse_offers(header):
        if name == EXTENSION:
            agreed = _accept(params)
            if agreed is not None:
                return agreed
    return None


# One compressor per window size for the whole process (see the module docstring).
_compressors: dict[int, Any] = {}  # zlib's compress objects


def deflate_message(payload: bytes, window_bits: int = _MAX_WINDOW_BITS) -> bytes:
    """``payload`` compressed as one permessage-deflate message without context takeover: raw
    deflate, ended by a full flush whose ``00 00 ff ff`` tail is removed (RFC 7692 7.2.1)."""
    compressor = _compressors.get(window_bits)
    if compressor is None:
        compressor = _compressors[window_bits] = zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -window_bits
        )
    data: bytes = compressor.compress(payload) + compressor.flush(zlib.Z_FULL_FLUSH)
    if data.endswith(DEFLATE_TAIL):
        return data[:-4]
    return data  # pragma: no cover - a full flush always ends with the empty stored block


def deflated_message_frame(data: str | bytes, window_bits: int = _MAX_WINDOW_BITS) -> bytes:
    """The compressed server frame (RSV1 set) of one Engine.IO message: ``"4" + data`` in a
    text frame for ``str``, ``data`` in a binary frame for bytes; what
    ``wsframe.message_frame`` builds, deflated."""
    if isinstance(data, str):
        return wsframe.build_frame(
            OP_TEXT, deflate_message(_EIO_MESSAGE + data.encode("utf-8"), window_bits), rsv1=True
        )
    return wsframe.build_frame(OP_BINARY, deflate_message(bytes(data), window_bits), rsv1=True)
