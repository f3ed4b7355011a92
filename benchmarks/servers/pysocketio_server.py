"""python-socketio (AsyncServer on aiohttp, uvloop) running the benchmark control protocol.

The protocol is described in node_server.js. Usage:
    python pysocketio_server.py --port P [--parser json|msgpack] [--ping-interval S] [--ping-timeout S]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

import socketio
import uvloop
from aiohttp import web


def build_app(parser: str, ping_interval: float, ping_timeout: float) -> web.Application:
    """An aiohttp application with the benchmark's "/" and "/control" namespaces."""
    app = web.Application()
    build_sio(parser, ping_interval, ping_timeout, "aiohttp").attach(app)
    return app


def build_sio(parser: str, ping_interval: float, ping_timeout: float, async_mode: str) -> socketio.AsyncServer:
    """The benchmark's python-socketio server ("/" and "/control"), for aiohttp or, with
    ``async_mode="asgi"``, for socketio.ASGIApp (benchmarks/servers/pysocketio_asgi_server.py)."""
    sio = socketio.AsyncServer(
        async_mode=async_mode,
        transports=["websocket", "polling"],
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        serializer="msgpack" if parser == "msgpack" else "default",
        cors_allowed_origins="*",
    )

    @sio.on("connect")
    async def connect(sid: str, environ: dict, auth: dict | None = None) -> None:
        room = (auth or {}).get("room")
        if room:
            await sio.enter_room(sid, room)

    @sio.on("echo")
    async def echo(sid: str, *args: object) -> tuple:
        return args

    @sio.on("start", namespace="/control")
    async def start(sid: str, opts: dict) -> None:
        payload = "x" * opts["payload_size"]
        per_turn = max(1, opts["per_turn"])
        rooms = opts.get("rooms") or 0
        count = opts["count"]
        t0 = time.time()
        for i in range(count):
            # A tuple is python-socketio's way to send several arguments: 42["tick",t,i,payload].
            await sio.emit("tick", (time.time(), i, payload), room=f"r{i % rooms}" if rooms else None)
            if (i + 1) % per_turn == 0:
                await asyncio.sleep(0)
        await sio.emit("done", {"t0": t0, "t1": time.time(), "count": count}, to=sid, namespace="/control")

    @sio.on("tick", namespace="/control")
    async def tick(sid: str, opts: dict) -> None:
        # the game-tick workload described in node_server.js
        rooms = opts["rooms"]
        names = [f"r{r}" for r in range(rooms)]
        payload = "x" * opts["payload_size"]
        period = 1.0 / opts["hz"]
        total = round(opts["seconds"] * opts["hz"])
        t0 = time.time() + period
        end = t0 + opts["seconds"]
        late = []
        k = 0
        while k < total:
            due = t0 + k * period
            if not opts.get("naive_timer"):
                # as in hypersio.bench.runner._game_tick: let the writes go out before arming the
                # timer, which uvloop would otherwise fire late by the time they take
                await asyncio.sleep(0)
            await asyncio.sleep(max(0.0, due - time.time()))
            start = time.time()
            if start >= end:
                break
            late.append(start - due)
            base = k * rooms
            for r, name in enumerate(names):
                await sio.emit("tick", (due, base + r, payload), room=name)
            k += 1
        done = {"t0": t0, "t1": time.time(), "count": k * rooms, "ticks": k, "due": total, "late": late}
        await sio.emit("done", done, to=sid, namespace="/control")

    @sio.on("connect", namespace="/control")
    async def control_connect(sid: str, environ: dict, auth: dict | None = None) -> None:
        pass

    return sio


def main() -> None:
    """Parse the options and serve until killed."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--parser", default="json")
    ap.add_argument("--ping-interval", type=float, default=25.0)
    ap.add_argument("--ping-timeout", type=float, default=20.0)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.install()
    app = build_app(args.parser, args.ping_interval, args.ping_timeout)
    print(f"READY {args.port}", flush=True)
    # backlog: the default 128 drops SYNs when thousands of clients connect at once
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, backlog=4096)


if __name__ == "__main__":
    main()
