"""One node of a hypersio cluster on the classic Redis adapter, running the cluster benchmark's
control protocol (described in node_cluster_server.js; driven by benchmarks/bench_cluster.py).

Written against hypersio's public API only (``hypersio.Server``, ``hypersio.cluster.redis_adapter``)
and imports whichever hypersio the interpreter finds, so the benchmark measures the installed
package when run from a venv that has it. Usage:
    python hypersio_cluster_server.py --redis-url URL --key PREFIX --port P [--ping-interval S]
        [--ping-timeout S] [--parser json|msgpack]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from typing import Any

import hypersio
from hypersio import cluster


def build_app(
    redis_url: str, key: str, parser: str = "json", ping_interval: float = 25.0, ping_timeout: float = 20.0
) -> hypersio.Server:
    """A hypersio server in the cluster ``key`` on ``redis_url`` with the "/" and "/control" namespaces."""
    sio = hypersio.Server(
        transports=("websocket", "polling"),
        parser=parser,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        adapter=cluster.redis_adapter(redis_url, key=key),
    )

    @sio.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        room = (socket.handshake.auth or {}).get("room")
        if room:
            socket.join(room)

    @sio.of("/control").on("connection")
    def on_control(socket: hypersio.Socket) -> None:
        @socket.on("start")
        async def start(opts: dict[str, Any]) -> None:
            payload = "x" * opts["payload_size"]
            per_turn = max(1, opts["per_turn"])
            rooms = opts.get("rooms") or 0
            rate = opts.get("rate") or 0
            count = opts["count"]
            t0 = time.time()
            for i in range(count):
                target = sio.to(f"r{i % rooms}") if rooms else sio
                target.emit("tick", time.time(), i, payload)
                if (i + 1) % per_turn == 0:
                    # one loop turn: the local sockets are flushed and the Redis writer sends this
                    # turn's broadcasts as one pipeline
                    await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.time()) if rate > 0 else 0)
            socket.emit("done", {"t0": t0, "t1": time.time(), "count": count})

    return sio


def main() -> None:
    """Parse the options and serve until SIGTERM."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--key", default="socket.io")
    ap.add_argument("--parser", default="json", choices=("json", "msgpack"))
    ap.add_argument("--ping-interval", type=float, default=25.0)
    ap.add_argument("--ping-timeout", type=float, default=20.0)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sio = build_app(args.redis_url, args.key, args.parser, args.ping_interval, args.ping_timeout)
    print(f"READY {args.port}", flush=True)
    sio.run(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
