"""hypersio running the soak protocol of benchmarks/soak.py (issue 13), public API only.

Namespace "/":
  on connection the server emits "hello" [g], g = the last global sequence number sent;
  "echo" n is acknowledged with n;
  "join" r joins room s<r> and is acknowledged with that room's last sequence number;
  "leave" r leaves it and is acknowledged with the same (so a client can check it got every
  message up to its leave).
Namespace "/control":
  "soak_start" {rooms, global_hz, room_hz, volatile_hz} starts three emitters: "g" [seq] to
  everyone, "r" [r, seq_r] to each room s<r>, and a volatile "v" [seq] to everyone, each at its rate;
  "soak_stop" stops them and answers "soak_final" {g, rooms: [seq_r...], v, stats};
  "soak_stats" answers "soak_stats" {connected, connections, disconnects, reasons, acks, joins, leaves}.
Every handler in "/" is synchronous, so a join's ack is queued before any later message to the room.
Usage: python hypersio_soak_server.py --port P [--ping-interval S] [--ping-timeout S]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import resource
from typing import Any

import hypersio


def build_app(ping_interval: float, ping_timeout: float) -> hypersio.Server:
    """The soak application: the protocol above on a fresh hypersio.Server."""
    sio = hypersio.Server(transports=("websocket", "polling"), ping_interval=ping_interval, ping_timeout=ping_timeout)
    # room numbers exist before the emitters start: clients join their first rooms while connecting
    rooms_seq: collections.Counter[int] = collections.Counter()
    seq: dict[str, Any] = {"g": 0, "v": 0, "rooms": 0}
    stats: dict[str, Any] = {
        "connected": 0,
        "connections": 0,
        "disconnects": 0,
        "acks": 0,
        "joins": 0,
        "leaves": 0,
        "reasons": collections.Counter(),
    }
    tasks: list[asyncio.Task[None]] = []

    def snapshot() -> dict[str, Any]:
        return {**stats, "reasons": dict(stats["reasons"])}

    @sio.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        stats["connected"] += 1
        stats["connections"] += 1
        socket.emit("hello", seq["g"])

        @socket.on("echo")
        def echo(n: Any) -> Any:
            stats["acks"] += 1
            return n

        @socket.on("join")
        def join(r: int) -> int:
            stats["joins"] += 1
            socket.join(f"s{r}")
            return rooms_seq[r]

        @socket.on("leave")
        def leave(r: int) -> int:
            stats["leaves"] += 1
            socket.leave(f"s{r}")
            return rooms_seq[r]

        @socket.on("disconnect")
        def on_disconnect(reason: str, description: Any = None) -> None:
            stats["connected"] -= 1
            stats["disconnects"] += 1
            stats["reasons"][reason] += 1

    async def every(hz: float, step: Any) -> None:
        # absolute schedule, so a slow turn does not make the rate drift
        loop = asyncio.get_running_loop()
        period = 1.0 / hz
        due = loop.time()
        while True:
            step()
            due += period
            await asyncio.sleep(0)  # let the writes go out before arming the timer (uvloop)
            await asyncio.sleep(max(0.0, due - loop.time()))

    def emit_global() -> None:
        seq["g"] += 1
        sio.emit("g", seq["g"])

    def emit_volatile() -> None:
        seq["v"] += 1
        sio.volatile.emit("v", seq["v"])

    @sio.of("/control").on("connection")
    def on_control(socket: hypersio.Socket) -> None:
        @socket.on("soak_start")
        def soak_start(opts: dict[str, Any]) -> None:
            rooms = seq["rooms"] = opts["rooms"]
            ops = [sio.to(f"s{r}") for r in range(rooms)]

            def emit_rooms() -> None:
                for r, op in enumerate(ops):
                    rooms_seq[r] += 1
                    op.emit("r", r, rooms_seq[r])

            tasks.append(asyncio.ensure_future(every(opts["global_hz"], emit_global)))
            tasks.append(asyncio.ensure_future(every(opts["room_hz"], emit_rooms)))
            if opts.get("volatile_hz"):
                tasks.append(asyncio.ensure_future(every(opts["volatile_hz"], emit_volatile)))

        @socket.on("soak_stop")
        async def soak_stop() -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            tasks.clear()
            final = [rooms_seq[r] for r in range(seq["rooms"])]
            socket.emit("soak_final", {"g": seq["g"], "rooms": final, "v": seq["v"], "stats": snapshot()})

        @socket.on("soak_stats")
        def soak_stats() -> None:
            socket.emit("soak_stats", snapshot())

    return sio


def main() -> None:
    """Serve the soak application on 127.0.0.1 until SIGTERM."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--ping-interval", type=float, default=25.0)
    ap.add_argument("--ping-timeout", type=float, default=20.0)
    args = ap.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sio = build_app(args.ping_interval, args.ping_timeout)
    print(f"READY {args.port} {hypersio.__version__} {hypersio.__file__}", flush=True)
    sio.run(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
