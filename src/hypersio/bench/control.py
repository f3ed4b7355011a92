"""The benchmark's wire helpers and its blocking control client.

``client_frame`` and ``upgrade_request`` build what a raw WebSocket client sends (the load
generator's clients use them too); :class:`ControlClient` is the blocking Socket.IO client in
namespace ``/control`` through which a benchmark starts a workload on a server (the control
protocol is described in benchmarks/servers/node_server.js).
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

try:  # msgpack is a hypersio dependency; only --parser msgpack needs it here
    import msgpack
except ImportError:  # pragma: no cover
    msgpack = None

# Client frames must be masked (RFC 6455 5.3). A zero key is a valid key and makes masking the
# identity, so the generator spends nothing on it; the server still runs its unmasking code.
_MASK = b"\x00\x00\x00\x00"


def client_frame(payload: bytes, binary: bool = False) -> bytes:
    """Build one masked (zero-key) client WebSocket frame."""
    n = len(payload)
    first = b"\x82" if binary else b"\x81"
    if n < 126:
        head = first + bytes((0x80 | n,))
    elif n < 65536:
        head = first + b"\xfe" + n.to_bytes(2, "big")
    else:
        head = first + b"\xff" + n.to_bytes(8, "big")
    return head + _MASK + payload


def upgrade_request(host: str, port: int, path: str = "/socket.io/") -> bytes:
    """The HTTP/1.1 request that opens an Engine.IO session directly on WebSocket."""
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


class ControlClient:
    """A blocking Socket.IO client in namespace ``/control`` that starts workloads on a server."""

    def __init__(
        self, host: str, port: int, parser: str = "json", namespace: str = "/control", timeout: float = 15.0
    ) -> None:
        import socket

        self.nsp = namespace
        self.msgpack_mode = parser == "msgpack"
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.sock.sendall(upgrade_request(host, port))
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"WebSocket upgrade refused: {head[:80]!r}")
        _opcode, payload = self._frame()
        if not payload.startswith(b"0"):
            raise ConnectionError(f"expected an Engine.IO open packet, got {payload[:80]!r}")
        self._send_packet(0, None)
        ptype, data = self._packet(deadline=time.time() + timeout)
        if ptype != 0:
            raise ConnectionError(f"namespace {namespace} refused: {data!r}")

    def _recv(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the control connection")
        self.buf += chunk

    def _frame(self) -> tuple[int, bytes]:
        while True:
            b = self.buf
            if len(b) >= 2:
                length = b[1] & 0x7F
                start = 2
                if length == 126 and len(b) >= 4:
                    length, start = int.from_bytes(b[2:4], "big"), 4
                elif length == 127 and len(b) >= 10:
                    length, start = int.from_bytes(b[2:10], "big"), 10
                if (length < 126 or start > 2) and len(b) >= start + length:
                    self.buf = b[start + length :]
                    return b[0] & 0x0F, b[start : start + length]
            self._recv()

    def _send_packet(self, ptype: int, data: Any) -> None:
        if self.msgpack_mode:
            packet: dict[str, Any] = {"type": ptype, "nsp": self.nsp}
            if data is not None:
                packet["data"] = data
            self.sock.sendall(client_frame(msgpack.packb(packet), binary=True))
        else:
            text = f"4{ptype}{self.nsp}," + ("" if data is None else json.dumps(data))
            self.sock.sendall(client_frame(text.encode()))

    def _packet(self, deadline: float) -> tuple[int, Any]:
        """Next Socket.IO packet of our namespace, answering heartbeats meanwhile."""
        while True:
            if time.time() > deadline:
                raise TimeoutError("control client: no answer from the server")
            opcode, payload = self._frame()
            if opcode == 1:
                if payload == b"2":
                    self.sock.sendall(client_frame(b"3"))
                    continue
                if not payload.startswith(b"4"):
                    continue
                body = payload[1:].decode()
                ptype = int(body[0])
                prefix = self.nsp + ","
                rest = body[1:]
                if not rest.startswith(prefix):
                    continue
                rest = rest[len(prefix) :]
                return ptype, json.loads(rest) if rest else None
            if opcode == 2 and self.msgpack_mode:
                packet = msgpack.unpackb(payload, raw=False, strict_map_key=False)
                if packet.get("nsp") == self.nsp:
                    return packet["type"], packet.get("data")
            if opcode == 8:
                raise ConnectionError("server closed the control connection")

    def emit(self, event: str, *args: Any) -> None:
        """Emit an event (no ack) in the control namespace."""
        self._send_packet(2, [event, *args])

    def wait_event(self, event: str, timeout: float) -> list[Any]:
        """Block until ``event`` arrives; return its arguments."""
        deadline = time.time() + timeout
        while True:
            ptype, data = self._packet(deadline)
            if ptype == 2 and data and data[0] == event:
                return list(data[1:])

    def close(self) -> None:
        """Close the TCP connection."""
        try:
            self.sock.close()
        except OSError:
            pass
