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
import base64
import json
import os
import resource
import time
from array import array
from typing import Any

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


def raise_fd_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit (10,000 clients need 10,000 fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


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


def cpu_seconds(pid: int | str = "self") -> float:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat, in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    fields = raw[raw.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (VmRSS from /proc/<pid>/status), in bytes."""
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


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
        # set once connected: short single-frame EVENTs then take data_received's first branch
        self.ticks_fast = False

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.c.closed += 1
        if not self.ready.done():
            self.ready.set_result(False)

    def data_received(self, data: bytes) -> None:
        n = len(data)
        if (
            self.ticks_fast
            and n < 128
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
    ) -> dict[str, Any]:
        """Open one client per entry of ``rooms``: room k is asked for as ``{"room": "r<k>"}`` in the
        CONNECT auth; None joins no room. Clients not started by ``deadline`` (epoch seconds, 0 = none)
        count as failed, so a server that accepts slowly cannot stall the whole suite."""
        msgpack_mode = parser == "msgpack"
        sem = asyncio.Semaphore(concurrency)
        ok = 0
        failed = 0
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
                try:
                    await self.loop.create_connection(lambda: client, host, port)  # type: ignore[union-attr]
                    good = await asyncio.wait_for(asyncio.shield(client.ready), timeout)
                except (TimeoutError, OSError):
                    good = False
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
        return {"ok": ok, "failed": failed, "seconds": time.time() - t0}

    async def cmd_reset(self) -> dict[str, Any]:
        """Zero the counters before a measured phase; report the worker's own CPU so far."""
        self.c.delivered = self.c.acks = self.c.pings = self.c.closed = 0
        self.c.first_recv = self.c.last_recv = 0.0
        self.c.latencies = array("d")
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

    async def cmd_acks(self, seconds: float, clients: int) -> dict[str, Any]:
        """Closed loop: ``clients`` of this worker's clients emit ``echo`` with acks for ``seconds``."""
        rtts = array("d")
        active = self.clients[:clients]
        t0 = time.time()
        for client in active:
            client.start_acks(rtts)
        await asyncio.sleep(seconds)
        for client in active:
            client.ack_running = False
        elapsed = time.time() - t0
        report = self._report()
        report["rtts"] = rtts.tobytes()
        report["elapsed"] = elapsed
        await asyncio.sleep(0.2)  # let the last in-flight acks land before the next phase
        return report

    async def cmd_idle(self, seconds: float) -> dict[str, Any]:
        """Keep every connection open (answering heartbeats) for ``seconds``."""
        await asyncio.sleep(seconds)
        return self._report()

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
