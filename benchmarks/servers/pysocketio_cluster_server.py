"""One node of a python-socketio cluster (AsyncServer on aiohttp and uvloop, AsyncRedisManager),
running the cluster benchmark's control protocol (described in node_cluster_server.js; driven by
benchmarks/bench_cluster.py).

python-socketio's Redis manager has its own protocol (one channel, JSON messages): it cannot join a
Node or hypersio cluster, but it is what Python users run today. It delivers a broadcast to its own
clients too only when the message comes back from Redis. Usage:
    python pysocketio_cluster_server.py --redis-url URL --key CHANNEL --port P [--ping-interval S]
        [--ping-timeout S]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from typing import Any

import socketio
import uvloop
from aiohttp import web


def build_app(redis_url: str, key: str, ping_interval: float, ping_timeout: float) -> web.Application:
    """An aiohttp application in the cluster on channel ``key`` with the "/" and "/control" namespaces."""
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=socketio.AsyncRedisManager(redis_url, channel=key),
        transports=["websocket", "polling"],
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        cors_allowed_origins="*",
    )
    app = web.Application()
    sio.attach(app)

    @sio.on("connect")
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None = None) -> None:
        room = (auth or {}).get("room")
        if room:
            await sio.enter_room(sid, room)

    @sio.on("start", namespace="/control")
    async def start(sid: str, opts: dict[str, Any]) -> None:
        payload = "x" * opts["payload_size"]
        per_turn = max(1, opts["per_turn"])
        rooms = opts.get("rooms") or 0
        rate = opts.get("rate") or 0
        count = opts["count"]
        t0 = time.time()
        for i in range(count):
            # A tuple is python-socketio's way to send several arguments: 42["tick",t,i,payload].
            await sio.emit("tick", (time.time(), i, payload), room=f"r{i % rooms}" if rooms else None)
            if (i + 1) % per_turn == 0:
                await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.time()) if rate > 0 else 0)
        await sio.emit("done", {"t0": t0, "t1": time.time(), "count": count}, to=sid, namespace="/control")

    @sio.on("connect", namespace="/control")
    async def control_connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None = None) -> None:
        pass

    return app


def main() -> None:
    """Parse the options and serve until killed."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--key", default="socketio")
    ap.add_argument("--parser", default="json", choices=("json",))
    ap.add_argument("--ping-interval", type=float, default=25.0)
    ap.add_argument("--ping-timeout", type=float, default=20.0)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.install()
    app = build_app(args.redis_url, args.key, args.ping_interval, args.ping_timeout)
    print(f"READY {args.port}", flush=True)
    # backlog: the default 128 drops SYNs when thousands of clients connect at once
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, backlog=4096)


if __name__ == "__main__":
    main()
