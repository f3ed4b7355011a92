"""Instruction-count probe: M broadcasts to K raw WebSocket clients (everyone, and one room), in one process.

Run under callgrind for two installed hypersio versions and compare the slope between two values
of M (instructions per broadcast pair); the raw-socket clients are the same code for every version:
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=out.M python fanout_path.py 50 M
"""

import asyncio
import sys

import uvloop
from ack_path import frame, open_websocket

import hypersio

K, M = int(sys.argv[1]), int(sys.argv[2])


async def main() -> None:
    sio = hypersio.Server()

    @sio.on("connection")
    def on_connection(socket) -> None:
        socket.join(f"r{len(socks) % 5}")
        socks.append(socket)

    socks = []
    await sio.listen("127.0.0.1", 0)
    port = sio.engine.port
    clients = []
    for _ in range(K):
        clients.append(await open_websocket(port))
    # The open packets stay in the sockets' buffers; the drain tasks read them with the rest.
    for _reader, writer in clients:
        writer.write(frame(b"40"))
    while len(socks) < K:
        await asyncio.sleep(0.01)
    drained = [asyncio.ensure_future(drain(r)) for r, _ in clients]
    for i in range(M):
        sio.emit("tick", i)
        sio.to("r1").emit("room", i)
        if i % 10 == 9:
            await asyncio.sleep(0)
    await asyncio.sleep(0.2)
    for t in drained:
        t.cancel()
    for _, w in clients:
        w.close()
    await sio.close()


async def drain(reader) -> None:
    while True:
        await reader.read(65536)


uvloop.run(main())
