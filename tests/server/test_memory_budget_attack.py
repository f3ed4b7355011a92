"""Issue 13 item 4: a few dozen clients at their per-connection caps must not add up to unbounded
memory. 40 slow readers (WebSocket clients that stop reading while big broadcasts are sent to
them) and 40 clients that each announce a binary packet and send only part of its attachments
push the two totals past lowered limits (``max_buffered_output``, ``max_unfinished_input``):
the largest holders are closed, the two canaries (one WebSocket, one long-polling, a broadcast
every 100 ms and an ack a second) keep being served, and the server's memory stays bounded."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time

import hypersio
from _support import child_env

ATTACKER = textwrap.dedent(
    """
    import base64, os, socket, sys, time
    port, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])

    def frame(opcode, payload):
        n = len(payload)
        if n < 126:
            head = bytes([0x80 | opcode, 0x80 | n])
        elif n < 65536:
            head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
        return head + b"\\0\\0\\0\\0" + payload  # masked with key 0

    def websocket(source, rcvbuf=None):
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\\r\\nHost: x\\r\\n"
                   "Upgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: " + key +
                   "\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n").encode())
        head = b""
        while b"\\r\\n\\r\\n" not in head:
            head += s.recv(1)  # the 101 only: what follows stays unread
        return s

    socks = []
    for i in range(count):  # slow readers: join the "slow" room, then never read again
        s = websocket("127.0.0.%d" % (2 + i % 8), rcvbuf=4096)
        s.sendall(frame(1, b'40{"slow":1}'))
        socks.append(s)
    attachment = frame(2, os.urandom(900_000))
    for i in range(count):  # unfinished packets: 2 attachments announced, 1 sent
        s = websocket("127.0.0.%d" % (10 + i % 8))
        s.sendall(frame(1, b"40"))
        s.sendall(frame(1, b'452-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'))
        s.sendall(attachment)
        socks.append(s)
    print("attacking", flush=True)
    time.sleep(seconds)
    print("done", flush=True)
    """
)

MiB = 1 << 20


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def test_slow_readers_and_unfinished_packets_stay_within_the_budget() -> None:
    # Without the budget this attack held ~480 MB of output and 36 MB of unfinished packets (RSS +570 MB).
    sio = hypersio.Server(max_buffered_output=16 * MiB, max_unfinished_input=8 * MiB)
    engine = sio.engine
    engine.options.write_buffer_high_water = 256 << 10  # small caps: a quick, small test
    engine.options.write_buffer_limit = 12 * MiB
    budget = engine.options.budget
    joined = [0]

    @sio.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        if socket.handshake.auth.get("canary"):
            socket.join("canaries")
        if socket.handshake.auth.get("slow"):
            socket.join("slow")
            joined[0] += 1

    await sio.listen("127.0.0.1", 0)
    port = engine.port
    lateness: list[float] = []
    failed_acks: list[BaseException] = []
    answered = [0]
    canaries = []
    for transports in (("websocket",), ("polling",)):
        client = hypersio.AsyncClient(
            f"http://127.0.0.1:{port}", transports=transports, auth={"canary": True}, reconnection=False
        )
        client.on("tick", lambda sent: lateness.append(time.monotonic() - sent))
        client.on("ask", lambda x: x)
        await client.connect()
        canaries.append(client)
    big = "x" * (256 << 10)
    peaks = {"output": 0, "input": 0, "rss": 0}
    baseline = _rss()

    async def ticks() -> None:
        while True:
            sio.to("canaries").emit("tick", time.monotonic())
            await asyncio.sleep(0.1)

    async def asks() -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                answered[0] += len(await sio.to("canaries").timeout(1.0).emit_with_ack("ask", 1))
            except hypersio.AckTimeoutError as exc:
                failed_acks.append(exc)

    async def flood_slow_readers() -> None:
        while True:
            sio.to("slow").emit("big", big)
            await asyncio.sleep(0.02)

    async def sample() -> None:
        while True:
            peaks["output"] = max(peaks["output"], budget.output)
            peaks["input"] = max(peaks["input"], budget.input)
            peaks["rss"] = max(peaks["rss"], _rss() - baseline)
            await asyncio.sleep(0.05)

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ATTACKER, str(port), "40", "5", stdout=asyncio.subprocess.PIPE, env=child_env()
    )
    tasks = [asyncio.create_task(fn()) for fn in (ticks, asks, flood_slow_readers, sample)]
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 30)).startswith(b"attacking")
        assert (await asyncio.wait_for(proc.stdout.readline(), 30)).startswith(b"done")
        await asyncio.sleep(0.3)
        slow_left = len(sio.sockets.adapter.rooms.get("slow", {}))
        closes = dict(budget.closes)
    finally:
        for task in tasks:
            task.cancel()
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        for client in canaries:
            await client.disconnect()
    await asyncio.sleep(0.3)
    try:
        # Every attacker is gone now: the accounting must be back to nothing, or it would close
        # innocent connections later.
        assert budget.output == 0 and budget.input == 0, budget
        assert not budget.holders("output") and not budget.holders("input")
    finally:
        await sio.close()
    assert joined[0] == 40  # every slow reader had joined
    assert slow_left <= 10, f"{slow_left} slow readers still connected"
    # 40 x 0.9 MB unfinished against 8 MiB: at least 30 of them must go.
    assert closes["input"] >= 30 and closes["output"] >= 20, closes
    assert engine.options.stats.budget_closes == closes["input"] + closes["output"]
    # The totals stay near their limits: one holder's worth over at most (it is closed next).
    assert peaks["output"] <= 16 * MiB + 12 * MiB, peaks
    assert peaks["input"] <= 8 * MiB + MiB, peaks
    assert lateness, "no tick arrived"
    assert max(lateness) < 0.3, f"ticks up to {max(lateness):.3f}s late during the attack"
    assert not failed_acks and answered[0] >= 6, (failed_acks, answered)
    assert peaks["rss"] < 150 * MiB, f"RSS grew by {peaks['rss'] / MiB:.0f} MiB"
