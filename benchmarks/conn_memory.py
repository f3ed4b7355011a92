"""Where the memory of an idle WebSocket connection goes, on a hypersio server.

Starts the benchmark application (hypersio.bench.runner.build_app) in a subprocess with tracemalloc
on, connects ``--clients`` idle clients with the project's load generator, and prints per connection:

- the RSS growth (what the idle benchmark reports),
- the Python allocations that appeared (tracemalloc snapshot diff, grouped by source line),
- the objects that appeared, by type, with their ``sys.getsizeof`` (a gc census before and after).

The difference between the RSS figure and the Python allocations is what the C side holds: uvloop's
transport and libuv handle, allocator slack. tracemalloc makes the server slower, not bigger: its
own bookkeeping is outside the traced heap but inside RSS, so the RSS figure printed here is higher
than the benchmark's; the benchmark (run_all.py --only idle) has the number to quote.

Usage: python benchmarks/conn_memory.py [--clients 10000] [--top 25]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: F401  (puts a source checkout on sys.path when hypersio is not installed)
from hypersio.bench.loadgen import LoadGenerator, raise_fd_limit
from hypersio.bench.runner import ServerProcess, ServerSpec, _package_env, connect_clients, describe_build


def census() -> Counter[str]:
    """Live gc-tracked objects by type name, plus ``<name> bytes`` totals of their getsizeof."""
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        name = type(obj).__qualname__
        counts[name] += 1
        counts[name + " bytes"] += sys.getsizeof(obj)
    return counts


def server_main(argv: list[str]) -> int:
    """The probed server: the benchmark application, tracemalloc on, snapshots on SIGUSR1."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ping-interval", type=float, default=25.0)
    ap.add_argument("--ping-timeout", type=float, default=20.0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    raise_fd_limit()
    from hypersio.bench.runner import build_app

    tracemalloc.start(1)
    sio = build_app("json", args.ping_interval, args.ping_timeout)
    taken: list[tuple[tracemalloc.Snapshot, Counter[str]]] = []

    def snap(*_: Any) -> None:
        # Runs between loop callbacks (Python signal handlers do), so no connection is half built.
        gc.collect()
        taken.append((tracemalloc.take_snapshot(), census()))
        if len(taken) == 2:
            (s0, c0), (s1, c1) = taken
            lines = [
                {"where": str(st.traceback[0]), "size": st.size_diff, "count": st.count_diff}
                for st in s1.compare_to(s0, "lineno")
                if st.size_diff > 0
            ]
            types = {k: c1[k] - c0.get(k, 0) for k in c1 if c1[k] - c0.get(k, 0) > 0}
            Path(args.out).write_text(json.dumps({"lines": lines, "types": types}))
        Path(args.out + f".{len(taken)}").write_text("done")

    signal.signal(signal.SIGUSR1, snap)
    sio.run(host="127.0.0.1", port=args.port)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Drive the probed server and print where its per-connection memory goes."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=10_000)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    raise_fd_limit()
    print(f"# measuring: {describe_build()}")
    out = f"/tmp/conn_memory.{os.getpid()}.json"
    spec = ServerSpec("hypersio-traced", [sys.executable, __file__, "--serve", "--out", out], _package_env(None))
    gen = LoadGenerator(2)
    server = ServerProcess(spec)

    def wait_for(path: str) -> None:
        deadline = time.time() + 120
        while not os.path.exists(path):
            if time.time() > deadline or not server.alive():
                raise RuntimeError("the probed server did not take its snapshot:\n" + server.output())
            time.sleep(0.2)

    try:
        time.sleep(0.5)
        os.kill(server.pid, signal.SIGUSR1)
        wait_for(out + ".1")
        conn = connect_clients(server, gen, [None] * args.clients, "json", lambda line: None, limit=300)
        n = conn["ok"]
        os.kill(server.pid, signal.SIGUSR1)
        wait_for(out + ".2")
        report = json.loads(Path(out).read_text())
    finally:
        gen.call("drop", {}, timeout=60)
        gen.close()
        server.stop()
        for suffix in ("", ".1", ".2"):
            if os.path.exists(out + suffix):
                os.unlink(out + suffix)
    print(f"{n:,} clients connected ({conn['failed']} failed); RSS growth {conn['rss_per_conn']:.0f} B/conn")
    traced = sum(x["size"] for x in report["lines"])
    print(f"Python allocations (tracemalloc) grew {traced / n:.0f} B/conn; by source line:")
    for x in report["lines"][: args.top]:
        print(f"  {x['size'] / n:7.1f} B  {x['count'] / n:5.2f} blocks  {x['where']}")
    print("gc-tracked objects that appeared, per connection (count, getsizeof bytes):")
    types = report["types"]
    rows = sorted(
        ((k, types[k], types.get(k + " bytes", 0)) for k in types if not k.endswith(" bytes")), key=lambda r: -r[2]
    )
    for name, count, size in rows[: args.top]:
        print(f"  {count / n:6.2f} x {name:<32} {size / n:7.1f} B")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        sys.exit(server_main(sys.argv[2:]))
    sys.exit(main())
