"""Issue 13 item 4, second half: after a burst of buffered output (slow readers piling up until
their per-connection limit closes them) the server's resident memory goes back down: the
budget's totals fell a long way from their high point, so glibc is asked to hand the freed heap
back (``malloc_trim``). Measured on a server in a subprocess, from /proc/<pid>/status."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sys
import textwrap

import pytest

from _support import child_env

SERVER = textwrap.dedent(
    """
    import asyncio, sys
    import hypersio

    async def main():
        sio = hypersio.Server()
        engine = sio.engine
        engine.options.write_buffer_high_water = 256 << 10
        engine.options.write_buffer_limit = 8 << 20
        slow = []
        sio.on("connection", lambda s: (s.join("slow"), slow.append(s)))
        await sio.listen("127.0.0.1", 0)
        print(engine.port, flush=True)
        while len(slow) < int(sys.argv[1]):
            await asyncio.sleep(0.01)
        big = "x" * (256 << 10)
        for _ in range(500):  # at most 5 s: until the limit closed every slow reader
            sio.to("slow").emit("big", big)
            await asyncio.sleep(0.01)
            if not sio.sockets.adapter.rooms.get("slow"):
                break
        print("drained", engine.options.budget.output, flush=True)
        await asyncio.sleep(3.0)
        print("trims", engine.options.budget.trims, flush=True)
        await asyncio.sleep(30)

    asyncio.run(main())
    """
)


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _slow_reader(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    s.sendall(bytes([0x81, 0x82]) + b"\0\0\0\0" + b"40")  # CONNECT "/", then never read again
    return s


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_rss_goes_down_after_a_burst() -> None:
    count = 16
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, str(count), stdout=asyncio.subprocess.PIPE, env=child_env()
    )
    socks: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        port = int(await asyncio.wait_for(proc.stdout.readline(), 20))
        baseline = _rss(proc.pid)
        socks = [_slow_reader(port) for _ in range(count)]
        peak = baseline
        line = asyncio.ensure_future(proc.stdout.readline())
        while not line.done():
            peak = max(peak, _rss(proc.pid))
            await asyncio.wait([line], timeout=0.02)
        assert line.result().startswith(b"drained"), line.result()
        trims = await asyncio.wait_for(proc.stdout.readline(), 10)
        after = _rss(proc.pid)
    finally:
        for s in socks:
            s.close()
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    grew, kept = peak - baseline, after - baseline
    assert grew > 40 << 20, f"the burst did not happen (+{grew >> 20} MiB)"
    assert kept < grew // 3, f"+{grew >> 20} MiB at the peak, still +{kept >> 20} MiB after ({trims!r})"
    assert int(trims.split()[1]) >= 1, trims
