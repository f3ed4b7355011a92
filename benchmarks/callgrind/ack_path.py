"""Instruction-count probe: N acks through a hypersio server over loopback WebSocket, in one process.

The client is raw sockets written here (identical for every hypersio version), so the difference
between two installed versions is the server's. Compare the slope between two values of N under
callgrind (instruction counts do not depend on the machine's load):
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=out.N python ack_path.py N
"""

import asyncio
import base64
import os
import struct
import sys

import uvloop

import hypersio

N = int(sys.argv[1])


def frame(payload: bytes) -> bytes:
    """A masked client text frame."""
    key = b"\x01\x02\x03\x04"
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + struct.pack(">H", n)
    return head + key + masked


async def open_websocket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw WebSocket connection to the server's Engine.IO endpoint, past the 101 answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def main() -> None:
    sio = hypersio.Server()

    @sio.on("connection")
    def on_connection(socket) -> None:
        @socket.on("echo")
        def echo(value):
            return value

    await sio.listen("127.0.0.1", 0)
    port = sio.engine.port
    reader, writer = await open_websocket(port)

    async def read_frame() -> bytes:
        h = await reader.readexactly(2)
        n = h[1] & 0x7F
        if n == 126:
            n = struct.unpack(">H", await reader.readexactly(2))[0]
        return await reader.readexactly(n)

    await read_frame()  # open
    writer.write(frame(b"40"))
    await read_frame()  # connect
    for i in range(N):
        writer.write(frame(b'42%d["echo",%d]' % (i, i)))
        got = await read_frame()
        assert got.startswith(b"43"), got
    writer.close()
    await sio.close()


if __name__ == "__main__":
    uvloop.run(main())
