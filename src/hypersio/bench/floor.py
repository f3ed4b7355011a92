"""The floor: a bare uvloop server speaking just enough Engine.IO/Socket.IO over WebSocket for the
load generator, so the benchmark tables can show how close each real server gets to the limit of
the machine, the kernel and the generator.

It does what no real server can skip (the HTTP upgrade, one encoded packet per broadcast, a frame
header, a write to each socket) and nothing else: no parser, no validation, no JSON on receive.
Three output modes:
  --mode write   one transport.write per delivery (what most servers do)
  --mode cork    deliveries appended to a per-connection buffer, one transport.write per
                 connection per event-loop turn (the design hypersio follows)
  --mode shared  the physical limit for broadcasts: a turn's broadcasts to one target (everyone,
                 or one room) are joined ONCE and that same bytes object is written to each
                 member, so a delivery costs no Python work at all, only its share of one write
                 per connection per turn
The control protocol is the one described in benchmarks/servers/node_server.js (JSON parser only).
It lives in the package (not only in benchmarks/) so ``python -m hypersio bench`` can run it as its
calibration row from an installed wheel. It shares no code with hypersio.
Usage: python -m hypersio.bench.floor --port P [--mode write|cork] [--ping-interval S] [--ping-timeout S]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import resource
import time
from typing import Any

import uvloop

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B85"


def frame(payload: bytes) -> bytes:
    """An unmasked server text frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class Floor:
    """Server state: every client in "/", rooms, and the dirty set for corked writes."""

    def __init__(self, mode: str, ping_interval: float, ping_timeout: float) -> None:
        self.cork = mode in ("cork", "shared")
        self.shared = mode == "shared"
        self.turn: dict[str | None, list[bytes]] = {}
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.main: set[Conn] = set()
        self.rooms: dict[str, set[Conn]] = {}
        self.dirty: list[Conn] = []
        self.next_id = 0
        self.tasks: set[asyncio.Future[None]] = set()
        self.loop = asyncio.get_event_loop()

    def send(self, conn: Conn, data: bytes) -> None:
        """Deliver one finished frame to one connection."""
        if not self.cork:
            conn.transport.write(data)
            return
        if not conn.out:
            if not self.dirty and not self.turn:
                self.loop.call_soon(self.flush)
            self.dirty.append(conn)
        conn.out.append(data)

    def flush(self) -> None:
        """End of the loop turn: one write per connection that has output."""
        if self.turn:
            turn, self.turn = self.turn, {}
            for room, frames in turn.items():
                data = b"".join(frames)
                for conn in self.rooms.get(room, ()) if room is not None else self.main:
                    conn.transport.write(data)
        dirty, self.dirty = self.dirty, []
        for conn in dirty:
            if not conn.closed:
                conn.transport.write(b"".join(conn.out))
            conn.out.clear()

    def broadcast(self, data: bytes, room: str | None) -> None:
        """Send the same frame to everyone in "/" or in one room."""
        if self.shared:
            frames = self.turn.get(room)
            if frames is None:
                if not self.turn and not self.dirty:
                    self.loop.call_soon(self.flush)
                frames = self.turn[room] = []
            frames.append(data)
            return
        send = self.send
        for conn in self.rooms.get(room, ()) if room is not None else self.main:
            send(conn, data)

    def heartbeat(self) -> None:
        """Ping every client; one that did not answer the previous ping is closed."""
        ping = frame(b"2")
        for conn in list(self.main):
            if conn.awaiting_pong:
                conn.transport.close()
                continue
            conn.awaiting_pong = True
            self.send(conn, ping)
        self.loop.call_later(self.ping_interval, self.heartbeat)

    async def run_start(self, conn: Conn, opts: dict[str, Any]) -> None:
        """The fan-out workload: `count` ticks, a loop turn after every `per_turn`."""
        payload = "x" * opts["payload_size"]
        per_turn = max(1, opts["per_turn"])
        rooms = opts.get("rooms") or 0
        count = opts["count"]
        t0 = time.time()
        for i in range(count):
            data = frame(b"42" + json.dumps(["tick", time.time(), i, payload]).encode())
            self.broadcast(data, f"r{i % rooms}" if rooms else None)
            if (i + 1) % per_turn == 0:
                await asyncio.sleep(0)
        done = json.dumps(["done", {"t0": t0, "t1": time.time(), "count": count}])
        self.send(conn, frame(b"42/control," + done.encode()))


class Conn(asyncio.Protocol):
    """One client connection: HTTP upgrade, then masked client frames in, text frames out."""

    def __init__(self, floor: Floor) -> None:
        self.floor = floor
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.buf = b""
        self.upgraded = False
        self.out: list[bytes] = []
        self.closed = False
        self.awaiting_pong = False
        self.rooms: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.floor.main.discard(self)
        for room in self.rooms:
            self.floor.rooms[room].discard(self)

    def data_received(self, data: bytes) -> None:
        data = self.buf + data
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            key = b""
            for line in data[:end].split(b"\r\n"):
                if line.lower().startswith(b"sec-websocket-key:"):
                    key = line.split(b":", 1)[1].strip()
            accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
            self.floor.next_id += 1
            sid = f"floor{self.floor.next_id}"
            handshake = json.dumps(
                {
                    "sid": sid,
                    "upgrades": [],
                    "pingInterval": int(self.floor.ping_interval * 1000),
                    "pingTimeout": int(self.floor.ping_timeout * 1000),
                    "maxPayload": 1000000,
                }
            )
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + frame(b"0" + handshake.encode())
            )
            self.upgraded = True
            data = data[end + 4 :]
        pos = 0
        n = len(data)
        while n - pos >= 6:
            length = data[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if n - pos < 8:
                    break
                length = int.from_bytes(data[start : start + 2], "big")
                start += 2
            elif length == 127:
                if n - pos < 14:
                    break
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            mask = data[start : start + 4]
            start += 4
            if start + length > n:
                break
            opcode = data[pos] & 0x0F
            raw = data[start : start + length]
            pos = start + length
            if mask != b"\x00\x00\x00\x00":
                raw = bytes(b ^ mask[i & 3] for i, b in enumerate(raw))
            if opcode == 1:
                self.packet(raw)
            elif opcode == 8:
                self.transport.close()
                return
        self.buf = data[pos:]

    def packet(self, p: bytes) -> None:
        """One Engine.IO packet from the client."""
        floor = self.floor
        if p == b"3":
            self.awaiting_pong = False
        elif p.startswith(b"40/control,"):
            floor.send(self, frame(b'40/control,{"sid":"c%d"}' % floor.next_id))
        elif p.startswith(b"40"):
            auth = json.loads(p[2:]) if len(p) > 2 else None
            room = auth.get("room") if auth else None
            if room:
                floor.rooms.setdefault(room, set()).add(self)
                self.rooms.append(room)
            floor.main.add(self)
            floor.send(self, frame(b'40{"sid":"s%d"}' % floor.next_id))
        elif p.startswith(b"42/control,"):
            event = json.loads(p[len(b"42/control,") :])
            if event[0] == "start":
                task = asyncio.ensure_future(floor.run_start(self, event[1]))
                floor.tasks.add(task)  # the loop keeps only a weak reference to a task
                task.add_done_callback(floor.tasks.discard)
        elif p.startswith(b"42"):  # 42<id>["echo",...]: ack with the same arguments
            bracket = p.index(b"[")
            args = json.loads(p[bracket:])
            floor.send(self, frame(b"43" + p[2:bracket] + json.dumps(args[1:]).encode()))


def main(argv: list[str] | None = None) -> None:
    """Parse the options and serve until killed."""
    ap = argparse.ArgumentParser(prog="python -m hypersio.bench.floor")
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--mode", choices=("write", "cork", "shared"), default="cork")
    ap.add_argument("--parser", default="json", choices=("json",))
    ap.add_argument("--ping-interval", type=float, default=25.0)
    ap.add_argument("--ping-timeout", type=float, default=20.0)
    args = ap.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.install()

    async def serve() -> None:
        floor = Floor(args.mode, args.ping_interval, args.ping_timeout)
        server = await asyncio.get_running_loop().create_server(
            lambda: Conn(floor), "127.0.0.1", args.port, backlog=4096
        )
        floor.loop.call_later(args.ping_interval, floor.heartbeat)
        print(f"READY {args.port}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
