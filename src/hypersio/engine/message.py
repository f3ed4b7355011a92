"""PreparedMessage: one Engine.IO message encoded once for every transport kind."""

from __future__ import annotations

from hypersio.protocol.engineio import packets as eio_parser
from hypersio.protocol.websocket import deflate
from hypersio.protocol.websocket import frames as wsframe

_MESSAGE = eio_parser.MESSAGE
_encode_packet = eio_parser.encode_packet
_FULL_WINDOW = 15


# The complete server WebSocket frame carrying the Engine.IO message ``data``.
ws_frame_of = wsframe.message_frame
# The same frame, deflated (permessage-deflate without context takeover).
deflated_frame_of = deflate.deflated_message_frame


def polling_of(data: str | bytes) -> str:
    """The long-polling record of the Engine.IO message ``data`` (``"4…"`` or ``"b<base64>"``)."""
    if isinstance(data, str):
        return "4" + data
    return _encode_packet(_MESSAGE, data, True)  # type: ignore[return-value]


def message_size(data: str | bytes) -> int:
    """The bytes of the Engine.IO message ``data`` in a WebSocket frame (what the
    permessage-deflate threshold compares, as Node does): ``"4"`` + UTF-8 text, or the bytes."""
    if isinstance(data, str):
        # isascii() reads a flag of CPython's string: the encode runs for non-ASCII text only.
        return len(data) + 1 if data.isascii() else len(data.encode("utf-8", "surrogatepass")) + 1
    return len(data)


class PreparedMessage:
    """An Engine.IO message whose wire forms are built at most once, on first use.

    A broadcast wraps its payload in one ``PreparedMessage`` and hands it to every recipient's
    :meth:`Session.send_prepared`: WebSocket sessions append :attr:`ws_frame`, polling sessions
    :attr:`polling`, so 10,000 recipients cost one encode per transport kind, not 10,000.
    Sessions that negotiated permessage-deflate take :meth:`deflated_frame` instead, compressed
    once for all of them. ``compress=False`` (``compress(False)`` on the emit) keeps the
    message uncompressed on every transport.
    """

    __slots__ = ("data", "compress", "_ws_frame", "_polling", "_deflated", "_deflated_bits", "_size")

    def __init__(self, data: str | bytes | bytearray | memoryview, compress: bool = True) -> None:
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        elif not isinstance(data, (str, bytes)):
            raise TypeError(f"an Engine.IO message is str or bytes, not {data.__class__.__name__}")
        self.data: str | bytes = data
        self.compress = compress
        self._ws_frame: bytes | None = None
        self._polling: str | None = None
        self._deflated: bytes | None = None
        self._deflated_bits = 0
        self._size = -1

    @property
    def ws_frame(self) -> bytes:
        """The complete unmasked server WebSocket frame (text for str, binary for bytes)."""
        frame = self._ws_frame
        if frame is None:
            frame = self._ws_frame = ws_frame_of(self.data)
        return frame

    @property
    def polling(self) -> str:
        """The long-polling record: ``"4" + text`` or ``"b" + base64(bytes)``."""
        record = self._polling
        if record is None:
            record = self._polling = polling_of(self.data)
        return record

    @property
    def size(self) -> int:
        """The message's size in a WebSocket frame, before compression (see :func:`message_size`)."""
        size = self._size
        if size < 0:
            size = self._size = message_size(self.data)
        return size

    def deflated_frame(self, window_bits: int = _FULL_WINDOW) -> bytes:
        """The compressed server frame (RSV1) of the message, deflated with a
        ``2**window_bits``-byte window; built once for the most recent window size asked (in
        practice every client takes the default 15)."""
        frame = self._deflated
        if frame is None or self._deflated_bits != window_bits:
            frame = self._deflated = deflated_frame_of(self.data, window_bits)
            self._deflated_bits = window_bits
        return frame

    def __repr__(self) -> str:
        return f"PreparedMessage({self.data!r})"
