"""A cheap Socket.IO load generator: raw WebSocket clients on uvloop, run in worker processes.

The clients speak Engine.IO v4 / Socket.IO v5 over WebSocket by hand (``GET /socket.io/?EIO=4&
transport=websocket``, answer ``2`` with ``3``, send ``40``, wait for ``40{...}``) and count
delivered EVENT frames by looking at two bytes of each frame, without decoding JSON. Only a sample
of the clients reads the send timestamp the benchmark servers put in every ``tick`` event, so the
generator stays far cheaper per delivery than any server it measures. It deliberately does not use
hypersio's own codecs: the thing measuring must not share code with the thing measured.

Used by ``python -m hypersio bench`` (hypersio.bench.runner) and by benchmarks/run_all.py. A worker is a
process driven over a ``multiprocessing`` pipe by ``Worker.serve``; its progress (deliveries so
far) is published in a shared counter so the driver can print a line per second.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from array import array
from typing import Any

from hypersio.bench.control import ControlClient, client_frame, upgrade_request
from hypersio.bench.procs import (
    FD_MARGIN,
    connection_capacity,
    cpu_seconds,
    raise_fd_limit,
    rss_bytes,
    source_addresses,
)

# The helpers above moved out of this module (it passed 800 lines); importers keep finding them here.
__all__ = [
    "FD_MARGIN",
    "BenchClient",
    "ControlClient",
    "Counters",
    "LoadGenerator",
    "Worker",
    "client_frame",
    "connection_capacity",
    "cpu_seconds",
    "raise_fd_limit",
    "rss_bytes",
    "source_addresses",
    "upgrade_request",
]

try:  # msgpack is a hypersio dependency; only --parser msgpack needs it here
    import msgpack
except ImportError:  # pragma: no cover
    msgpack = None

# Client frames must be masked (RFC 6455 5.3). A zero key is a valid key and makes masking the
# identity, so the generator spends nothing on it; the server still runs its unmasking code.
_MASK = b"\x00\x00\x00\x00"
_TICK_PREFIX_LEN = len(b'42["tick",')
_TICK_AT = 2 + _TICK_PREFIX_LEN  # where the send time starts in a short frame: 2 header bytes first
# Headers of short masked client text frames by payload length (the ack workload's requests).
_TEXT_HEADS = [b"\x81" + bytes((0x80 | n,)) + _MASK for n in range(126)]


class Counters:
    """Per-worker tallies shared by all of the worker's clients (one attribute bump per chunk)."""

    def __init__(self) -> None:
        self.delivered = 0
        self.first_recv = 0.0
        self.last_recv = 0.0
        self.pings = 0
        self.acks = 0
        self.latencies = array("d")  # seconds, sampled clients only
        self.closed = 0
        self.connected = 0


class BenchClient(asyncio.Protocol):
    """One raw Socket.IO-over-WebSocket client in namespace ``/``."""

    # slots: a worker holds up to ~20,000 of these in the connections benchmark
    __slots__ = (
        "c",
        "request",
        "connect_packet",
        "sample",
        "msgpack_mode",
        "transport",
        "upgraded",
        "buf",
        "ready",
        "ack_running",
        "ack_id",
        "ack_sent_at",
        "ack_rtts",
        "room",
        "pings",
        "ack_batch",
        "ack_batch_bytes",
        "ack_pending",
        "ack_batch_sent",
        "ack_head",
        "ack_frame_len",
        "ticks_fast",
    )

    def __init__(
        self, counters: Counters, request: bytes, connect_packet: bytes, sample: bool, msgpack_mode: bool
    ) -> None:
        self.c = counters
        self.request = request
        self.connect_packet = connect_packet
        self.sample = sample
        self.msgpack_mode = msgpack_mode
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.buf = b""
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        # closed-loop ack workload state
        self.ack_running = False
        self.ack_id = 0
        self.ack_sent_at = 0.0
        self.ack_rtts: array[float] | None = None
        self.room: int | None = None
        self.pings = 0  # Engine.IO pings answered by this client (since the last reset)
        # pipelined ack workload state: ``ack_batch`` requests per write, two batches in flight
        self.ack_batch = 0
        self.ack_batch_bytes = b""
        self.ack_pending = 0  # acks still due for the oldest batch in flight
        self.ack_batch_sent: list[float] = []  # send time of each batch in flight, oldest first
        self.ack_head = b""  # the first 4 bytes of every ACK frame of the pipelined workload
        self.ack_frame_len = 0  # and their common length, learnt from the first one (0: walk)
        # set once connected: short single-frame EVENTs then take data_received's first branch
        self.ticks_fast = False

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]
        self.request = b""  # sent: not worth keeping for every idle client

    def connection_lost(self, exc: Exception | None) -> None:
        self.c.closed += 1
        if not self.ready.done():
            self.ready.set_result(False)

    def data_received(self, data: bytes) -> None:
        if self.ack_batch and self.ack_running:
            self._pipelined(data)
            return
        n = len(data)
        if (
            self.ticks_fast
            and 4 <= n < 128
            and data[1] == n - 2  # one whole short text frame (server frames are unmasked)
            and data[0] == 0x81
            and data[2] == 52  # "4"
            and data[3] == 50  # "2": an EVENT in "/", the only event the fan-out servers send
            and not self.buf
        ):
            # The tick workloads' whole receive side, one delivery per call: count it and, on a
            # sampled client, read the send time (the first argument) straight from the bytes.
            c = self.c
            now = time.time()
            if self.sample:
                c.latencies.append(now - float(data[_TICK_AT : data.index(b",", _TICK_AT)]))
            c.delivered += 1
            if not c.first_recv:
                c.first_recv = now
            c.last_recv = now
            return
        if (
            self.ack_running
            and not self.buf
            and len(data) > 4
            and data[0] == 0x81
            and data[1] == len(data) - 2  # one whole short text frame, nothing after it
            and data[2] == 52  # "4"
            and data[3] == 51  # "3"
            and not self.msgpack_mode
        ):
            # The closed-loop workload's whole receive side, in one frame of Python: the ack of
            # the outstanding request, then the next request. The generator must cost less than
            # the server it measures (with ~2 us of Python per round trip instead of ~4, the
            # server gets the CPU the generator no longer takes).
            bracket = data.find(b"[", 4)
            if bracket > 4 and int(data[4:bracket]) == self.ack_id:
                now = time.time()
                self.ack_rtts.append(now - self.ack_sent_at)  # type: ignore[union-attr]
                self.c.acks += 1
                ack_id = self.ack_id = self.ack_id + 1
                self.ack_sent_at = now
                payload = b'42%d["echo",%d]' % (ack_id, ack_id)
                self.transport.write(_TEXT_HEADS[len(payload)] + payload)  # type: ignore[union-attr]
                return
        if self.buf:
            data = self.buf + data
            self.buf = b""
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                self.transport.close()  # type: ignore[union-attr]
                return
            self.upgraded = True
            data = data[end + 4 :]
            if not data:
                return
        self._frames(data)

    # -- frames
    def _frames(self, data: bytes) -> None:
        pos = 0
        n = len(data)
        ticks = 0
        sample = self.sample
        while n - pos >= 2:
            length = data[pos + 1] & 0x7F
            if length < 126:
                start = pos + 2
            elif length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                start = pos + 4
            else:
                if n - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                start = pos + 10
            end = start + length
            if end > n:
                break
            opcode = data[pos] & 0x0F
            pos = end
            if opcode == 1:
                if length > 2 and data[start] == 52 and data[start + 1] == 50:  # "42": an EVENT in "/"
                    ticks += 1
                    if sample:
                        comma = data.index(b",", start + _TICK_PREFIX_LEN)
                        sent = float(data[start + _TICK_PREFIX_LEN : comma])
                        self.c.latencies.append(time.time() - sent)
                else:
                    self._text(data[start:end])
            elif opcode == 2:
                ticks += self._binary(data[start:end])
            elif opcode == 9 and length < 126:  # WebSocket ping: a pong with the same payload
                self.transport.write(  # type: ignore[union-attr]
                    b"\x8a" + bytes((0x80 | length,)) + _MASK + data[start:end]
                )
            elif opcode == 8:
                self.transport.close()  # type: ignore[union-attr]
                return
        if pos < n:
            self.buf = data[pos:]
        if ticks:
            c = self.c
            c.delivered += ticks
            now = time.time()
            if not c.first_recv:
                c.first_recv = now
            c.last_recv = now

    def _text(self, p: bytes) -> None:
        kind = p[:1]
        if kind == b"2":  # Engine.IO ping from the server
            self.c.pings += 1
            self.pings += 1
            self.transport.write(b"\x81\x81" + _MASK + b"3")  # type: ignore[union-attr]
        elif kind == b"0":  # Engine.IO open: join namespace "/"
            self.transport.write(  # type: ignore[union-attr]
                client_frame(self.connect_packet, binary=self.msgpack_mode)
            )
        elif p[:2] == b"40":
            if not self.ready.done():
                self.ready.set_result(True)
                self.ticks_fast = not self.msgpack_mode
        elif p[:2] == b"43":  # an ack: 43<id>[...]
            bracket = p.index(b"[")
            self._acked(int(p[2:bracket]))
        elif p[:2] == b"44" or kind == b"1":
            if not self.ready.done():
                self.ready.set_result(False)
            self.transport.close()  # type: ignore[union-attr]

    def _binary(self, p: bytes) -> int:
        """A binary frame: in msgpack mode every Socket.IO packet is one msgpack map."""
        if not self.msgpack_mode:
            return 0
        if not self.sample and not self.ack_running and self.ready.done():
            # Once connected, the server sends this client nothing but events in the fan-out
            # workloads: count without decoding, as the JSON path counts by two bytes.
            return 1
        packet = msgpack.unpackb(p, raw=False, strict_map_key=False)
        ptype = packet.get("type")
        if ptype == 2:
            if self.sample:
                self.c.latencies.append(time.time() - packet["data"][1])
            return 1
        if ptype == 0:
            if not self.ready.done():
                self.ready.set_result(True)
        elif ptype == 3:
            self._acked(int(packet["id"]))
        elif ptype == 4:
            if not self.ready.done():
                self.ready.set_result(False)
            self.transport.close()  # type: ignore[union-attr]
        return 0

    # -- closed-loop request/response
    def start_acks(self, rtts: array[float]) -> None:
        """Begin emitting ``echo`` with an ack, one outstanding request at a time."""
        self.ack_running = True
        self.ack_rtts = rtts
        self._send_request()

    def _send_request(self) -> None:
        self.ack_id += 1
        self.ack_sent_at = time.time()
        if self.msgpack_mode:
            frame = client_frame(
                msgpack.packb({"type": 2, "nsp": "/", "data": ["echo", self.ack_id], "id": self.ack_id}),
                binary=True,
            )
        else:
            frame = client_frame(b'42%d["echo",%d]' % (self.ack_id, self.ack_id))
        self.transport.write(frame)  # type: ignore[union-attr]

    def start_pipelined_acks(self, rtts: array[float], batch: int) -> None:
        """Begin emitting ``echo`` with acks ``batch`` at a time, two batches in flight: each
        batch is one write, and the next is sent as soon as the oldest one is fully answered.

        The server reads many requests per read and answers many per write, so this measures its
        per-ack cost without one read and one write syscall per ack, and the generator's own cost
        is a frame walk per ack: the server, not the generator, is the limit.
        """
        frames = []
        for i in range(batch):
            ack_id = 100_000 + i  # fixed width, so every batch has the same bytes
            frames.append(client_frame(b'42%d["echo",%d]' % (ack_id, ack_id)))
        self.ack_batch = batch
        self.ack_batch_bytes = b"".join(frames)
        self.ack_rtts = rtts
        self.ack_pending = batch
        self.ack_running = True
        now = time.time()
        self.ack_batch_sent = [now, now]
        self.transport.write(self.ack_batch_bytes * 2)  # type: ignore[union-attr]

    def _pipelined(self, data: bytes) -> None:
        """The pipelined workload's receive side: count ACK frames, refill the window.

        Every answer has the same bytes but the ack id's digits (fixed width), so once one frame
        is seen the acks of a read are counted from its length, after checking that an ACK frame
        starts where the first and the last whole frames of the read must start and that the
        tail is the start of one; any other read (an Engine.IO ping between the acks, a short
        read) is walked frame by frame. This keeps the generator's cost per ack far below the
        server's, which is what lets a machine whose cores it shares measure the server.
        """
        size = self.ack_frame_len
        if size:
            head = self.ack_head
            part = len(self.buf)
            n = len(data)
            rest = (part + n) % size
            first = (size - part) % size
            last = n - rest - size
            whole = n - rest
            if (
                (first >= whole or (data.startswith(head, first) and data.startswith(head, last)))
                and (not rest or data.startswith(head[: min(rest, 4)], whole))
                and (not part or self.buf.startswith(head[: min(part, 4)]))
            ):
                self.buf = data[whole:] if rest else b""
                self._acked_many((part + n) // size)
                return
        if self.buf:
            data = self.buf + data
            self.buf = b""
        pos = 0
        n = len(data)
        acked = 0
        other = []
        while n - pos >= 2:
            length = data[pos + 1]
            if length >= 126:  # no ack of this workload is that long: the general walk takes it
                other.append(data[pos:])
                pos = n
                break
            end = pos + 2 + length
            if end > n:
                break
            if data[pos] == 0x81 and data[pos + 2] == 52 and data[pos + 3] == 51:  # text "43"
                acked += 1
                if not size:
                    size = self.ack_frame_len = end - pos
                    self.ack_head = data[pos : pos + 4]
            else:
                other.append(data[pos:end])
            pos = end
        if pos < n:
            self.buf = data[pos:]
        for frame in other:
            self._frames(frame)
        if acked:
            self._acked_many(acked)

    def _acked_many(self, acked: int) -> None:
        if not acked:
            return
        self.c.acks += acked
        pending = self.ack_pending - acked
        while pending <= 0 and self.ack_running:
            # The oldest batch is answered: its round trip is one sample, and a new batch goes out.
            now = time.time()
            self.ack_rtts.append(now - self.ack_batch_sent.pop(0))  # type: ignore[union-attr]
            self.ack_batch_sent.append(now)
            self.transport.write(self.ack_batch_bytes)  # type: ignore[union-attr]
            pending += self.ack_batch
        self.ack_pending = pending

    def _acked(self, ack_id: int) -> None:
        if ack_id != self.ack_id or not self.ack_running:
            return
        self.ack_rtts.append(time.time() - self.ack_sent_at)  # type: ignore[union-attr]
        self.c.acks += 1
        self._send_request()


class Worker:
    """One load-generator process: owns a share of the clients and obeys the driver's commands.

    Commands arrive on a pipe as ``(name, args)`` tuples; each gets one reply tuple. The shared
    ``progress`` value mirrors ``Counters.delivered + Counters.acks`` every 100 ms.
    """

    def __init__(self, conn: Any, progress: Any, connected: Any) -> None:
        self.conn = conn
        self.progress = progress
        self.connected = connected
        self.c = Counters()
        self.clients: list[BenchClient] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop = False

    @classmethod
    def main(cls, conn: Any, progress: Any, connected: Any) -> None:
        """Process entry point: run the worker on uvloop until told to quit."""
        raise_fd_limit()
        try:
            import uvloop

            uvloop.install()
        except ImportError:  # pragma: no cover
            pass
        asyncio.run(cls(conn, progress, connected).serve())

    async def serve(self) -> None:
        """Read commands from the pipe (without blocking the loop) until ``quit``."""
        self.loop = loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        fd = self.conn.fileno()

        # The pipe is read from the loop, not from a thread: a process that ever had a second
        # thread pays glibc's allocator locks and cancellation points on every socket call, which
        # would make the generator costlier than it needs to be. The loop's reader makes the fd
        # non-blocking; it is set back to blocking so that whole commands are read and large
        # replies (thousands of latency samples) are written without EAGAIN.
        def read_command() -> None:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                message = ("quit", {})
            if message[0] == "quit":
                loop.remove_reader(fd)
            inbox.put_nowait(message)

        loop.add_reader(fd, read_command)
        os.set_blocking(fd, True)
        publisher = asyncio.ensure_future(self._publish())
        try:
            while True:
                name, args = await inbox.get()
                if name == "quit":
                    break
                reply = await getattr(self, "cmd_" + name)(**args)
                self.conn.send(reply)
        finally:
            publisher.cancel()
            for client in self.clients:
                if client.transport is not None:
                    client.transport.abort()

    async def _publish(self) -> None:
        while True:
            self.progress.value = self.c.delivered + self.c.acks
            self.connected.value = self.c.connected
            await asyncio.sleep(0.1)

    async def cmd_connect(
        self,
        host: str,
        port: int,
        rooms: list[int | None],
        sample_every: int,
        parser: str = "json",
        path: str = "/socket.io/",
        concurrency: int = 64,
        timeout: float = 60.0,
        deadline: float = 0.0,
        sources: list[str] | None = None,
    ) -> dict[str, Any]:
        """Open one client per entry of ``rooms``: room k is asked for as ``{"room": "r<k>"}`` in the
        CONNECT auth; None joins no room. Clients not started by ``deadline`` (epoch seconds, 0 = none)
        count as failed, so a server that accepts slowly cannot stall the whole suite. Client k
        connects from source address ``sources[k % len(sources)]`` when given (see
        :func:`source_addresses`). ``seconds`` in the reply spans the first connect to the last
        completed handshake: the connect rate is clients / seconds."""
        msgpack_mode = parser == "msgpack"
        sem = asyncio.Semaphore(concurrency)
        ok = 0
        failed = 0
        errors: dict[str, int] = {}
        t0 = time.time()

        async def one(index: int, room: int | None) -> None:
            nonlocal ok, failed
            auth = {"room": f"r{room}"} if room is not None else None
            if msgpack_mode:
                packet: dict[str, Any] = {"type": 0, "nsp": "/"}
                if auth:
                    packet["data"] = auth
                connect_packet = msgpack.packb(packet)
            else:
                connect_packet = b"40" + (json.dumps(auth).encode() if auth else b"")
            async with sem:
                if deadline and time.time() > deadline:
                    failed += 1
                    return
                client = BenchClient(
                    self.c,
                    upgrade_request(host, port, path),
                    connect_packet,
                    sample_every > 0 and index % sample_every == 0,
                    msgpack_mode,
                )
                client.room = room
                local = (sources[index % len(sources)], 0) if sources else None
                try:
                    await self.loop.create_connection(  # type: ignore[union-attr]
                        lambda: client, host, port, local_addr=local
                    )
                    good = await asyncio.wait_for(asyncio.shield(client.ready), timeout)
                except (TimeoutError, OSError) as exc:
                    good = False
                    # why clients failed (EMFILE, EADDRNOTAVAIL, a timeout...), for the report
                    why = type(exc).__name__ + (f" errno {exc.errno}" if getattr(exc, "errno", None) else "")
                    errors[why] = errors.get(why, 0) + 1
            self.clients.append(client)
            if good:
                ok += 1
                self.c.connected += 1
            else:
                failed += 1
                if client.transport is not None:
                    client.transport.abort()

        await asyncio.gather(*(one(i, room) for i, room in enumerate(rooms)))
        self.clients = [c for c in self.clients if c.ready.done() and c.ready.result()]
        return {"ok": ok, "failed": failed, "seconds": time.time() - t0, "errors": errors}

    async def cmd_reset(self) -> dict[str, Any]:
        """Zero the counters before a measured phase; report the worker's own CPU so far."""
        self.c.delivered = self.c.acks = self.c.pings = self.c.closed = 0
        self.c.first_recv = self.c.last_recv = 0.0
        self.c.latencies = array("d")
        for client in self.clients:
            client.pings = 0
        return {"cpu": cpu_seconds(), "t": time.time()}

    async def cmd_clear_latencies(self) -> dict[str, Any]:
        """Drop the latency samples so far (the end of a warm-up) but keep counting deliveries;
        report the worker's own CPU so far, like ``reset``."""
        self.c.latencies = array("d")
        return {"cpu": cpu_seconds(), "t": time.time()}

    async def cmd_wait(self, count: int, rooms: int, deadline: float) -> dict[str, Any]:
        """Wait until every live client got its share of ``count`` ticks (tick i goes to room
        ``i % rooms``, or to all when ``rooms`` is 0), or until ``deadline``."""
        expected = 0
        for client in self.clients:
            if client.room is None or not rooms:
                expected += count
            else:
                expected += count // rooms + (1 if client.room < count % rooms else 0)
        while self.c.delivered < expected and time.time() < deadline:
            await asyncio.sleep(0.005)
        return self._report(expected)

    async def cmd_acks(self, seconds: float, clients: int, batch: int = 0) -> dict[str, Any]:
        """``clients`` of this worker's clients emit ``echo`` with acks for ``seconds``: in a closed
        loop (one request in flight each) when ``batch`` is 0, else pipelined, ``batch`` requests
        per write with two batches in flight (RTT samples are then per batch)."""
        rtts = array("d")
        active = self.clients[:clients]
        t0 = time.time()
        for client in active:
            if batch:
                client.start_pipelined_acks(rtts, batch)
            else:
                client.start_acks(rtts)
        await asyncio.sleep(seconds)
        for client in active:
            client.ack_running = False
        elapsed = time.time() - t0
        report = self._report()
        report["rtts"] = rtts.tobytes()
        report["elapsed"] = elapsed
        await asyncio.sleep(0.2)  # let the last in-flight acks land before the next phase
        for client in active:
            client.ack_batch = client.ack_frame_len = 0
            client.buf = b""
        return report

    async def cmd_idle(self, seconds: float) -> dict[str, Any]:
        """Keep every connection open (answering heartbeats) for ``seconds``; the reply adds the
        fewest pings any still-open client answered (``min_pings``) and how many clients are
        still open (``open``)."""
        await asyncio.sleep(seconds)
        report = self._report()
        live = [c for c in self.clients if c.transport is not None and not c.transport.is_closing()]
        report["open"] = len(live)
        report["min_pings"] = min((c.pings for c in live), default=0)
        return report

    def _report(self, expected: int | None = None) -> dict[str, Any]:
        c = self.c
        return {
            "expected": expected,
            "clients": len(self.clients),
            "delivered": c.delivered,
            "first_recv": c.first_recv,
            "last_recv": c.last_recv,
            "pings": c.pings,
            "acks": c.acks,
            "closed": c.closed,
            "latencies": c.latencies.tobytes(),
            "cpu": cpu_seconds(),
            "t": time.time(),
        }

    async def cmd_drop(self) -> dict[str, Any]:
        """Abort every client (before the driver starts the next server)."""
        for client in self.clients:
            if client.transport is not None:
                client.transport.abort()
        self.clients = []
        self.c = Counters()
        await asyncio.sleep(0.05)
        return {}


class LoadGenerator:
    """The driver's handle on the worker processes (fork on Linux; the driver runs no event loop)."""

    def __init__(self, workers: int = 2, worker_cls: type[Worker] = Worker) -> None:
        """Start ``workers`` processes, each running ``worker_cls.main`` (a subclass of Worker may
        add commands, as the soak's does)."""
        import multiprocessing as mp

        methods = mp.get_all_start_methods()
        ctx: Any = mp.get_context("fork" if "fork" in methods else "spawn")
        self.conns: list[Any] = []
        self.progress_values: list[Any] = []
        self.connected_values: list[Any] = []
        self.procs: list[Any] = []
        for _ in range(workers):
            parent, child = ctx.Pipe()
            value = ctx.Value("q", 0, lock=False)
            connected = ctx.Value("q", 0, lock=False)
            proc = ctx.Process(target=worker_cls.main, args=(child, value, connected), daemon=True)
            self.connected_values.append(connected)
            proc.start()
            self.conns.append(parent)
            self.progress_values.append(value)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers (for CPU accounting)."""
        return [p.pid for p in self.procs]

    def progress(self) -> int:
        """Deliveries plus acks counted by all workers since the last reset (100 ms stale at most)."""
        return sum(v.value for v in self.progress_values)

    def connected(self) -> int:
        """Clients connected by all workers (100 ms stale at most)."""
        return sum(v.value for v in self.connected_values)

    def call(
        self,
        name: str,
        args: list[dict[str, Any]] | dict[str, Any],
        tick: Any = None,
        timeout: float = 600.0,
    ) -> list[dict[str, Any]]:
        """Send one command to every worker (same args, or one dict each) and collect the replies.

        ``tick(elapsed_seconds)`` is called about once per second while waiting, for progress lines.
        """
        per_worker = args if isinstance(args, list) else [args] * len(self.conns)
        for conn, a in zip(self.conns, per_worker, strict=True):
            conn.send((name, a))
        replies: list[dict[str, Any] | None] = [None] * len(self.conns)
        t0 = time.time()
        next_tick = t0 + 1.0
        while any(r is None for r in replies):
            for i, conn in enumerate(self.conns):
                if replies[i] is None and conn.poll(0.05):
                    replies[i] = conn.recv()
            now = time.time()
            if now - t0 > timeout:
                raise TimeoutError(f"load generator command {name!r} timed out")
            for proc, reply in zip(self.procs, replies, strict=True):
                if reply is None and not proc.is_alive():
                    raise RuntimeError(f"load generator worker died during {name!r}")
            if tick is not None and now >= next_tick:
                tick(now - t0)
                next_tick += 1.0
        return replies  # type: ignore[return-value]

    def split(self, items: list[Any]) -> list[list[Any]]:
        """Deal ``items`` round-robin to the workers."""
        n = len(self.conns)
        return [items[i::n] for i in range(n)]

    def close(self) -> None:
        """Ask the workers to quit; kill any that does not within 5 s."""
        for conn in self.conns:
            try:
                conn.send(("quit", {}))
            except OSError:
                pass
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(1)
