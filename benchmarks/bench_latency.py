"""Latency under load (issue 14): a 20 Hz game tick to 5,000 clients in 500 rooms, side by side with
the official Node server and python-socketio in one run.

Client k joins room ``r<k % 500>`` (10 clients per room). Every 50 ms the server emits one event
(~110 bytes on the wire: the tick's due time, a sequence number and an 80-character state string)
to each of the 500 rooms: 10,000 events and 100,000 deliveries per second. Every client reads the
due time out of every delivery and records receive time - due time, so the percentiles are over
all deliveries (about 3 million per server in 30 s), measured on the clients. The server's CPU%,
each load-generator worker's CPU% and the server's own tick lateness are printed beside them, with
which side was the limit. Servers run interleaved (A B C, A B C, ...), each on a fresh process.

Usage: python benchmarks/bench_latency.py [--quick] [--seconds S] [--clients N] [--rooms R]
       [--servers hypersio,node,python-socketio] [--repeat R] [--workers W] [--markdown]
Measure the installed package (a venv with ``pip install ".[bench]"``); the first line says which
build ran. Every server binds 127.0.0.1, every run is bounded in time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import run_all
from hypersio.bench.latency import LATENCY_HEADERS, latency_row, run_latency
from hypersio.bench.loadgen import LoadGenerator, raise_fd_limit
from hypersio.bench.runner import describe_build

TICK_SERVERS = ("hypersio", "node", "python-socketio")  # the servers that implement "tick"


def latency_table(results: dict[str, list[dict[str, Any]]], markdown: bool) -> str:
    """One row per run (``#i`` when repeated); ratios against Node's and python-socketio's run of
    the same repetition."""
    cores = os.cpu_count() or 1
    rows = []
    reps = max((len(runs) for runs in results.values()), default=0)
    for i in range(reps):
        node = results.get("node", [])[i] if i < len(results.get("node", [])) else None
        pysio_runs = results.get("python-socketio", [])
        pysio = pysio_runs[i] if i < len(pysio_runs) else None
        for name, runs in results.items():
            if i < len(runs):
                row = latency_row(runs[i], node, pysio, cores)
                row[0] = name + (f" #{i + 1}" if reps > 1 else "")
                rows.append(row)
    return run_all.render(LATENCY_HEADERS, rows, markdown)


NOTES = (
    "latency = client receive time - the time the tick was due (server and clients on one machine, one "
    "wall clock), over every delivery of the measured window; deliveries/s = latency samples / window; "
    "delivered = events counted by the clients / events the server says it sent (whole run); server CPU% = "
    "utime+stime of the server process over the window (100 = one core); loadgen CPU% = each generator "
    "worker process; machine CPU% = every core's busy time (all processes, 100 per core); tick late = how late the server started each tick's emits (its timer plus any backlog); "
    "limit: 'server CPU' when the server used >= 90% of a core, 'load generator' when a worker did, "
    "'machine' when all processes together kept every core >= 90% busy."
)


def main(argv: list[str] | None = None) -> int:
    """Run the tick workload on each chosen server, interleaved; print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="500 clients in 50 rooms for 5 s: a smoke run")
    ap.add_argument("--servers", default=",".join(TICK_SERVERS))
    ap.add_argument("--clients", type=int, default=None, help="clients (default 5000; quick 500)")
    ap.add_argument("--rooms", type=int, default=None, help="rooms (default 500; quick 50)")
    ap.add_argument("--hz", type=float, default=20.0, help="ticks per second (default 20)")
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per server (default 30; quick 5)")
    ap.add_argument("--warmup", type=float, default=3.0, help="ticks before the measured window (default 3 s)")
    ap.add_argument("--payload-size", type=int, default=80, help="state string length (default 80)")
    ap.add_argument("--workers", type=int, default=2, help="load generator processes (default 2)")
    ap.add_argument(
        "--naive-timer",
        action="store_true",
        help="the Python servers arm each tick's timer before its writes go out (late on uvloop; see runner._game_tick)",
    )
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--allow-pure", action="store_true", help="run even without hypersio's compiled extensions")
    args = ap.parse_args(argv)
    q = args.quick
    clients = args.clients or (500 if q else 5000)
    rooms = args.rooms or (50 if q else 500)
    seconds = args.seconds or (5.0 if q else 30.0)
    names = [s for s in args.servers.split(",") if s]
    for name in names:
        if name not in TICK_SERVERS:
            raise SystemExit(f"{name!r} does not implement the tick workload; choose from {', '.join(TICK_SERVERS)}")
    specs = common.available(names)
    import hypersio

    if not hypersio.HAS_SPEEDUPS and not args.allow_pure:
        raise SystemExit(f"refusing to benchmark: {describe_build()}; install it (pip install .) or pass --allow-pure")
    hard = raise_fd_limit()
    if clients + 100 > hard:
        print(f"warning: RLIMIT_NOFILE hard limit {hard} is below the client count", file=sys.stderr)
    title = (
        f"Latency under load: {clients} clients in {rooms} rooms, {args.hz:g} Hz tick, one event per room per "
        f"tick (payload {args.payload_size} B), {seconds:g} s measured after {args.warmup:g} s warm-up"
        + (", naive timer in the Python servers" if args.naive_timer else "")
    )
    print(
        f"# {title}\n# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {common.commit()}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}; {args.workers} load generator processes\n# measuring: {describe_build()}",
        flush=True,
    )

    def say(line: str) -> None:
        print(line, flush=True)

    results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in specs}
    gen = LoadGenerator(args.workers)
    try:
        for rep in range(max(1, args.repeat)):
            for spec in specs:
                say(f"-- latency run {rep + 1}/{max(1, args.repeat)}: {spec.name}")
                r = run_latency(
                    spec,
                    gen,
                    clients=clients,
                    rooms=rooms,
                    hz=args.hz,
                    seconds=seconds,
                    warmup=args.warmup,
                    payload_size=args.payload_size,
                    naive_timer=args.naive_timer,
                    say=say,
                )
                results[spec.name].append(r)
                if "error" in r:
                    say(f"   FAILED: {r['error'][:400]}")
                else:
                    say(
                        f"   p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, max {r['max_ms']:.1f} ms over "
                        f"{r['samples']:,} deliveries; server CPU {r['server_cpu_pct']:.0f}%, loadgen "
                        + "/".join(f"{p:.0f}" for p in r["gen_cpu_pct"])
                        + "%"
                    )
    finally:
        gen.close()
    print(f"\n# Results\n\n{title}\n")
    print(latency_table(results, args.markdown))
    print("\n" + NOTES)
    mine = results.get("hypersio", [])
    return 0 if mine and all("error" not in r and r["complete"] for r in mine) else 1


if __name__ == "__main__":
    sys.exit(main())
