"""PreparedMessage: one Engine.IO message encoded once for every transport kind."""

from __future__ import annotations

from hypersio.protocol.engineio import packets as eio_parser
from hypersio.protocol.websocket import frames as wsframe

_MESSAGE = eio_parser.MESSAGE
_encode_packet = eio_parser.encode_packet


# The complete server WebSocket frame carrying the Engine.IO message ``data``.
ws_frame_of = wsframe.message_frame


def polling_of(data: str | bytes) -> str:
    """The long-polling record of the Engine.IO message ``data`` (``"4…"`` or ``"b<base64>"``)."""
    if isinstance(data, str):
        return "4" + data
    return _encode_packet(_MESSAGE, data, True)  # type: ignore[return-value]


class PreparedMessage:
    """An Engine.IO message whose wire forms are built at most once, on first use.

    A broadcast wraps its payload in one ``PreparedMessage`` and hands it to every recipient's
    :meth:`Session.send_prepared`: WebSocket sessions append :attr:`ws_frame`, polling sessions
    :attr:`polling`, so 10,000 recipients cost one encode per transport kind, not 10,000.
    """

    __slots__ = ("data", "_ws_frame", "_polling")

    def __init__(self, data: str | bytes | bytearray | memoryview) -> None:
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        elif not isinstance(data, (str, bytes)):
            raise TypeError(f"an Engine.IO message is str or bytes, not {data.__class__.__name__}")
        self.data: str | bytes = data
        self._ws_frame: bytes | None = None
        self._polling: str | None = None

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

    def __repr__(self) -> str:
        return f"PreparedMessage({self.data!r})"
