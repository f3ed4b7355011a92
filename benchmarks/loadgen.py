"""The load generator on its own: connect N raw Socket.IO clients to any server and watch.

The implementation is hypersio.bench.loadgen (inside the package, so that ``python -m hypersio bench``
works from an installed wheel); this script re-exports it and adds a small command for ad-hoc use
against a server you started yourself, e.g. one of benchmarks/servers/:

    python benchmarks/loadgen.py --port 3000 --clients 500 --seconds 10 [--start 1000]

Every second it prints the events delivered to the clients; with ``--start N`` it first asks the
server (through the /control namespace of the benchmark protocol) to broadcast N ticks.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    import hypersio  # noqa: F401  (the installed package, the way users run it, comes first)
except ImportError:  # a source checkout built in place works without installing hypersio
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hypersio.bench.loadgen import (  # noqa: F401  (re-exported for scripts that import benchmarks/loadgen)
    BenchClient,
    ControlClient,
    LoadGenerator,
    Worker,
    client_frame,
    cpu_seconds,
    raise_fd_limit,
    rss_bytes,
    upgrade_request,
)


def main(argv: list[str] | None = None) -> int:
    """Connect clients, optionally start a broadcast run, print deliveries per second."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="how long to watch (bounded)")
    ap.add_argument("--start", type=int, default=0, help="ask the server for this many broadcasts")
    ap.add_argument("--per-turn", type=int, default=50)
    args = ap.parse_args(argv)
    raise_fd_limit()
    gen = LoadGenerator(args.workers)
    try:
        replies = gen.call(
            "connect",
            [
                {"host": args.host, "port": args.port, "rooms": part, "sample_every": 0, "deadline": time.time() + 60}
                for part in gen.split([None] * args.clients)
            ],
        )
        print(f"connected {sum(r['ok'] for r in replies)}, failed {sum(r['failed'] for r in replies)}")
        gen.call("reset", {})
        if args.start:
            ctl = ControlClient(args.host, args.port)
            ctl.emit("start", {"count": args.start, "per_turn": args.per_turn, "payload_size": 16, "rooms": 0})
        last = 0
        for second in range(int(args.seconds)):
            time.sleep(1)
            now = gen.progress()
            print(f"{second + 1:4d}s  delivered {now:,}  (+{now - last:,}/s)", flush=True)
            last = now
    finally:
        gen.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
