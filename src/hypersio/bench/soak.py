"""The soak's clients: raw Socket.IO clients that check every message they get (benchmarks/soak.py).

The server side is benchmarks/servers/hypersio_soak_server.py (its docstring has the protocol).
Each client decodes every packet and checks, per stream, that the sequence numbers it receives run
on without a gap or a repeat, counting only what it must have received:

- the global stream "g": from the "hello" the server sends on connection (carrying the last number
  sent before this socket existed) to the end of that connection;
- room r's stream: from the ack of its "join" r (carrying the room's last number when the server
  joined it) to the ack of its "leave" r (carrying the last number sent to the room before it left,
  so even the messages just before a leave are checked), or to the end of the run, where the
  server's final numbers are compared with the last ones each member got;
- every request with an ack ("echo", "join", "leave") must be answered exactly once, with the right
  value. A client that is about to reconnect first stops sending and waits for its answers.

Volatile messages ("v") may be dropped, never repeated or reordered. A share of the clients
("churners") disconnect and reconnect all the time, closing in turn with a WebSocket close frame,
with a Socket.IO DISCONNECT first, or abruptly (the TCP connection aborted).
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import time
from array import array
from typing import Any

from hypersio.bench.loadgen import Worker, client_frame, cpu_seconds, upgrade_request

JOINING, MEMBER, LEAVING = 0, 1, 2
_PONG = client_frame(b"3")
_CONNECT = client_frame(b"40")


class SoakClient(asyncio.Protocol):
    """One checking client in namespace "/" (a new object for every connection)."""

    def __init__(self, worker: SoakWorker, slot: int, churner: bool) -> None:
        self.w = worker
        self.slot = slot
        self.churner = churner
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.connected = False  # the server accepted the namespace CONNECT
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.closing = False  # this side decided to close; the end of the connection is expected
        self.draining = False  # about to close: no new requests, waiting for the answers
        self.drain_since = 0.0
        # when a churner closes; set once open() has sent the first joins, so the scheduler can
        # never close a connection between its CONNECT and those joins
        self.close_at = float("inf")
        self.ack_id = 0
        self.pending: dict[int, tuple[str, int, float]] = {}
        self.rooms: dict[int, int] = {}  # room -> JOINING / MEMBER / LEAVING
        self.expect: dict[int, int] = {}  # room -> next sequence number it must get
        self.early: dict[int, list[int]] = {}  # room -> numbers that arrived before the join's ack
        self.g_expect: int | None = None
        self.g_early: list[int] = []
        self.last_v = 0

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.w.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_result(False)
        w = self.w
        if self.connected and not self.closing:
            w.error("connection lost without the client closing it")
        if self.pending:
            w.error("requests unanswered when the connection ended", len(self.pending))
            self.pending.clear()
        if self.connected:
            w.live -= 1
        self.connected = False
        w.on_lost(self)

    def data_received(self, data: bytes) -> None:
        if self.buf:
            data = self.buf + data
            self.buf = b""
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                self.w.error("WebSocket upgrade refused")
                self.transport.close()  # type: ignore[union-attr]
                return
            self.upgraded = True
            data = data[end + 4 :]
        pos, n = 0, len(data)
        while n - pos >= 2:
            length = data[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                start = pos + 4
            elif length == 127:
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
                self.packet(data[start:end])
            elif opcode == 9:
                self.transport.write(b"\x8a" + bytes((0x80 | length,)) + b"\0\0\0\0" + data[start:end])  # type: ignore[union-attr]
            elif opcode == 8:
                if not self.closing:
                    self.w.error("the server closed the WebSocket")
                self.closing = True
                self.transport.close()  # type: ignore[union-attr]
                return
            else:
                self.w.error(f"unexpected WebSocket opcode {opcode}")
        if pos < n:
            self.buf = data[pos:]

    # -- Socket.IO packets
    def packet(self, p: bytes) -> None:
        w = self.w
        if p[:2] == b"42":
            event = json.loads(p[2:])
            name = event[0]
            if name == "r":
                w.received["room"] += 1
                self.on_room(event[1], event[2])
            elif name == "g":
                w.received["global"] += 1
                self.on_global(event[1])
            elif name == "v":
                w.received["volatile"] += 1
                if event[1] <= self.last_v:
                    w.error("volatile message repeated or out of order")
                self.last_v = event[1]
            elif name == "hello":
                self.g_expect = event[1] + 1
                early, self.g_early = self.g_early, []
                for s in early:
                    self.on_global(s)
            else:
                w.error(f"unexpected event {name!r}")
        elif p[:2] == b"43":
            bracket = p.index(b"[")
            self.on_ack(int(p[2:bracket]), json.loads(p[bracket:]))
        elif p == b"2":
            w.received["ping"] += 1
            self.transport.write(_PONG)  # type: ignore[union-attr]
        elif p[:1] == b"0":
            self.transport.write(_CONNECT)  # type: ignore[union-attr]
        elif p[:2] == b"40":
            self.connected = True
            w.live += 1
            if not self.ready.done():
                self.ready.set_result(True)
        elif p[:2] in (b"41", b"44") or p[:1] == b"1":
            w.error(f"the server refused or ended the session: {p[:60]!r}")
        else:
            w.error(f"unexpected packet {p[:60]!r}")

    def run_on(self, stream: str, got: int, expected: int) -> int:
        """Check one number of a stream against the next expected one; return the next one."""
        if got == expected:
            return expected + 1
        if got > expected:
            self.w.error(f"{stream}: messages lost", got - expected)
            return got + 1
        self.w.error(f"{stream}: message repeated or out of order")
        return expected

    def on_global(self, seq: int) -> None:
        if self.g_expect is None:  # before this connection's hello (cannot happen in order)
            self.g_early.append(seq)
        else:
            self.g_expect = self.run_on("global", seq, self.g_expect)

    def on_room(self, r: int, seq: int) -> None:
        state = self.rooms.get(r)
        if state is None:
            self.w.error("room message to a client that is not a member")
        elif state == JOINING:
            self.early.setdefault(r, []).append(seq)
        else:
            self.expect[r] = self.run_on("room", seq, self.expect[r])

    def on_ack(self, ack_id: int, args: list[Any]) -> None:
        w = self.w
        entry = self.pending.pop(ack_id, None)
        if entry is None:
            w.error("ack for no outstanding request (repeated or unknown)")
            return
        kind, arg, sent = entry
        w.rtts.append(time.time() - sent)
        w.received["ack"] += 1
        value: Any = args[0] if args else None
        if kind != "echo" and not isinstance(value, int):
            w.error(f"{kind} answered without the room's sequence number")
            return
        if kind == "echo":
            if value != arg:
                w.error("echo answered with the wrong value")
        elif kind == "join":
            self.rooms[arg] = MEMBER
            expected = value + 1
            for s in self.early.pop(arg, []):
                if s <= value:
                    w.error("room message sent before the join reached the client")
                else:
                    expected = self.run_on("room", s, expected)
            self.expect[arg] = expected
        else:  # leave: every message up to the one the server counted at the leave has come
            last = self.expect.pop(arg, value + 1) - 1
            if last < value:
                w.error("room: messages lost before a leave", value - last)
            elif last > value:
                w.error("room: a message sent after the leave arrived before its ack")
            del self.rooms[arg]

    # -- requests
    def request(self, kind: str, arg: int) -> None:
        self.ack_id += 1
        self.pending[self.ack_id] = (kind, arg, time.time())
        payload = b'42%d["%s",%d]' % (self.ack_id, kind.encode(), arg)
        self.transport.write(client_frame(payload))  # type: ignore[union-attr]

    def room_op(self, rooms: int, rng: random.Random) -> None:
        """Join or leave one room (one room change in flight at a time)."""
        if any(state != MEMBER for state in self.rooms.values()):
            return
        members = len(self.rooms)
        if members <= 1 or (members < 3 and rng.random() < 0.5):
            r = rng.randrange(rooms)
            if r not in self.rooms:
                self.rooms[r] = JOINING
                self.request("join", r)
        else:
            r = rng.choice(list(self.rooms))
            self.rooms[r] = LEAVING
            self.request("leave", r)

    def close(self, mode: int) -> None:
        """End this connection: 0 a WebSocket close frame, 1 a Socket.IO DISCONNECT then a close
        frame, 2 abruptly (abort)."""
        self.closing = True
        t = self.transport
        if t is None:
            return
        if mode == 2:
            t.abort()
            return
        if mode == 1:
            t.write(client_frame(b"41"))
        t.write(b"\x88\x82\0\0\0\0\x03\xe8")  # close 1000, masked with a zero key
        asyncio.get_running_loop().call_later(3.0, t.abort)  # the server answers; abort if it does not


class SoakWorker(Worker):
    """A load-generator process of checking clients, driven by benchmarks/soak.py."""

    def __init__(self, conn: Any, progress: Any, connected: Any) -> None:
        super().__init__(conn, progress, connected)
        self.slots: list[SoakClient | None] = []
        self.errors: collections.Counter[str] = collections.Counter()
        self.received: collections.Counter[str] = collections.Counter()
        self.rtts = array("d")
        self.live = 0
        self.reconnects = 0
        self.connect_failures = 0
        self.acting = False  # requests, room changes and churn running
        self.keep_open = True  # reconnect any slot whose connection ends (until drop)
        self.draining: set[SoakClient] = set()
        self.tasks: set[asyncio.Future[None]] = set()
        self.host = ""
        self.port = 0
        self.request = b""
        self.opts: dict[str, Any] = {}
        self.rng = random.Random()
        self.closes = 0
        self.scheduler: asyncio.Task[None] | None = None

    def error(self, what: str, count: int = 1) -> None:
        """Count a failed check (the driver prints them all and fails the run)."""
        self.errors[what] += count

    async def _publish(self) -> None:
        while True:
            self.progress.value = sum(self.received.values())
            self.connected.value = self.live
            await asyncio.sleep(0.1)

    async def open(self, slot: int, churner: bool) -> bool:
        """(Re)connect the client of ``slot`` and join its first rooms."""
        client = SoakClient(self, slot, churner)
        self.slots[slot] = client
        try:
            await self.loop.create_connection(lambda: client, self.host, self.port)  # type: ignore[union-attr]
            good = await asyncio.wait_for(asyncio.shield(client.ready), 30.0)
        except (TimeoutError, OSError):
            good = False
        if not good:
            self.connect_failures += 1
            if client.transport is not None:
                client.closing = True
                client.transport.abort()
            return False
        if client.closing or client.transport is None or client.transport.is_closing():
            return True  # lost right after its CONNECT: connection_lost has counted it and reopens
        for _ in range(self.opts["initial_rooms"]):
            r = self.rng.randrange(self.opts["rooms"])
            if r not in client.rooms:
                client.rooms[r] = JOINING
                client.request("join", r)
        if churner:
            client.close_at = time.time() + self.rng.uniform(*self.opts["lifetime"])
        return True

    def on_lost(self, client: SoakClient) -> None:
        """A connection ended: reconnect its slot (a churner's or, after an error, anyone's)."""
        if self.keep_open and client.slot < len(self.slots) and self.slots[client.slot] is client:
            self.reconnects += 1
            self.loop.call_later(self.rng.uniform(0.0, 0.5), self._reopen, client.slot, client.churner)  # type: ignore[union-attr]

    def _reopen(self, slot: int, churner: bool) -> None:
        task = asyncio.ensure_future(self._reopen_retrying(slot, churner))
        self.tasks.add(task)  # a reference until it ends (the loop keeps only weak ones)
        task.add_done_callback(self.tasks.discard)

    async def _reopen_retrying(self, slot: int, churner: bool) -> None:
        for _ in range(10):
            if await self.open(slot, churner):
                return
            await asyncio.sleep(1.0)
        self.error("a client could not reconnect in 10 attempts")

    async def cmd_soak_connect(
        self, host: str, port: int, slots: int, churners: int, seed: int, opts: dict[str, Any]
    ) -> dict[str, Any]:
        """Connect ``slots`` clients (the first ``churners`` of them reconnect all the time)."""
        self.host, self.port, self.opts = host, port, opts
        self.request = upgrade_request(host, port)
        self.rng = random.Random(seed)
        self.slots = [None] * slots
        sem = asyncio.Semaphore(64)
        t0 = time.time()

        async def one(slot: int) -> bool:
            async with sem:
                return await self.open(slot, slot < churners)

        ok = sum(await asyncio.gather(*(one(i) for i in range(slots))))
        return {"ok": ok, "failed": slots - ok, "seconds": time.time() - t0}

    async def cmd_soak_start(self) -> dict[str, Any]:
        """Start the activity: acks, room changes and reconnects, on a 100 ms schedule."""
        self.acting = True
        self.scheduler = asyncio.ensure_future(self._schedule())
        return {"cpu": cpu_seconds(), "t": time.time()}

    async def _schedule(self) -> None:
        opts = self.opts
        step = 0.1
        ack_slices = max(1, round(opts["ack_period"] / step))
        room_every = max(1, round(opts["room_period"] / opts["ack_period"]))
        rooms = opts["rooms"]
        rng = self.rng
        turn = 0
        while self.acting:
            now = time.time()
            for i in range(turn % ack_slices, len(self.slots), ack_slices):
                c = self.slots[i]
                if c is None or not c.connected or c.closing:
                    continue
                if c.draining:
                    continue
                if c.churner and now >= c.close_at:
                    c.draining, c.drain_since = True, now
                    self.draining.add(c)
                    continue
                c.request("echo", c.ack_id + 1)
                if (turn // ack_slices + i) % room_every == 0:
                    c.room_op(rooms, rng)
            for c in list(self.draining):
                if c.closing or not c.connected:
                    self.draining.discard(c)
                elif not c.pending:
                    self.draining.discard(c)
                    c.close(self.closes % 3)
                    self.closes += 1
                elif now - c.drain_since > 10.0:
                    self.draining.discard(c)
                    self.error("requests unanswered 10 s after the client stopped sending", len(c.pending))
                    c.pending.clear()
                    c.close(2)
            turn += 1
            await asyncio.sleep(max(0.0, step - (time.time() - now)))

    async def cmd_soak_quiesce(self, timeout: float) -> dict[str, Any]:
        """Stop all activity; wait until every request is answered and every slot is connected."""
        self.acting = False
        if self.scheduler is not None:
            await self.scheduler
        deadline = time.time() + timeout
        while time.time() < deadline:
            busy = [c for c in self.slots if c is None or not c.connected or c.pending]
            if not busy:
                break
            await asyncio.sleep(0.1)
        return {"cpu": cpu_seconds(), "t": time.time()}

    async def cmd_soak_verify(self, g: int, rooms: list[int]) -> dict[str, Any]:
        """The end of the run (the server has stopped sending): every member of a room and every
        connected client must have got the last numbers the server sent."""
        down = 0
        for c in self.slots:
            if c is None or not c.connected:
                down += 1
                continue
            if c.pending:
                self.error("requests still unanswered at the end", len(c.pending))
            if c.g_expect is None:
                self.error("no hello from the server")
            elif c.g_expect - 1 < g:
                self.error("global: the last messages never came", g - (c.g_expect - 1))
            for r, state in c.rooms.items():
                if state == MEMBER and c.expect[r] - 1 < rooms[r]:
                    self.error("room: the last messages never came", rooms[r] - (c.expect[r] - 1))
        if down:
            self.error("clients not connected at the end", down)
        rtts = sorted(self.rtts)
        return {
            "errors": dict(self.errors),
            "received": dict(self.received),
            "reconnects": self.reconnects,
            "connect_failures": self.connect_failures,
            "live": self.live,
            "rtts": array("d", rtts).tobytes(),
            "cpu": cpu_seconds(),
            "t": time.time(),
        }

    async def cmd_soak_status(self) -> dict[str, Any]:
        """Counters so far, for the progress lines."""
        return {
            "errors": sum(self.errors.values()),
            "received": sum(self.received.values()),
            "acks": self.received["ack"],
            "live": self.live,
            "reconnects": self.reconnects,
        }

    async def cmd_drop(self) -> dict[str, Any]:
        """Abort every client."""
        self.acting = False
        self.keep_open = False
        for c in self.slots:
            if c is not None and c.transport is not None:
                c.closing = True
                c.transport.abort()
        self.slots = []
        await asyncio.sleep(0.05)
        return {}
