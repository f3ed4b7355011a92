"""Broadcast fan-out through ASGI: hypersio.ASGIApp under uvicorn, the native hypersio server, and
python-socketio's ASGIApp under the same uvicorn, side by side in one run (issue 12).

Each run starts a fresh server process and drives it with the same load generator as every other
fan-out benchmark (hypersio.bench.loadgen: raw Engine.IO WebSocket clients; a control client asks
for N broadcasts to every client, 50 per loop turn). Runs are interleaved (A B C, A B C, ...);
the table shows medians, ratios, and the server's CPU beside its throughput: under ASGI every
message to every client is one ``await send()`` through the ASGI server's WebSocket
implementation, where the native server appends one shared frame to each connection's buffer.

Usage: python benchmarks/bench_asgi.py [--clients N] [--broadcasts N] [--repeat R] [--markdown]
Measure the installed package (a venv with ``pip install ".[bench]"``), not a source tree.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import run_all
from hypersio.bench.loadgen import LoadGenerator, raise_fd_limit
from hypersio.bench.runner import ServerSpec, describe_build, fmt_rate, run_fanout

NATIVE = "hypersio (native)"
ASGI = "hypersio ASGIApp"
PYSIO = "python-socketio ASGIApp"


def child_env() -> dict[str, str]:
    """PYTHONPATH such that a server process imports the same hypersio as this one."""
    import hypersio

    root = os.path.dirname(os.path.dirname(os.path.abspath(hypersio.__file__)))
    return {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}


def specs() -> list[ServerSpec]:
    """The three servers, or fewer with a note when a package is missing."""
    chosen = [ServerSpec(NATIVE, common.all_specs()["hypersio"].argv, child_env())]
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        print("note: uvicorn is not installed: only the native server runs", file=sys.stderr)
        return chosen
    py = sys.executable
    chosen.append(ServerSpec(ASGI, [py, str(common.SERVERS / "hypersio_asgi_server.py")], child_env()))
    try:
        import socketio  # noqa: F401
    except ImportError:
        print("note: python-socketio is not installed: skipping its ASGIApp", file=sys.stderr)
    else:
        chosen.append(ServerSpec(PYSIO, [py, str(common.SERVERS / "pysocketio_asgi_server.py")], child_env()))
    return chosen


def version(package: str) -> str:
    """An installed distribution's version, or "-"."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def table(results: dict[str, list[dict[str, Any]]], markdown: bool) -> str:
    """Medians per server: deliveries/s, ratios to the native server and to python-socketio's
    ASGIApp, server CPU% beside them, CPU per delivery and latency."""
    native = run_all.median_of(results.get(NATIVE, []), "rate")
    pysio = run_all.median_of(results.get(PYSIO, []), "rate")
    headers = [
        "server",
        "deliveries/s",
        "server CPU%",
        "vs native",
        "vs python-socketio ASGIApp",
        "CPU us/delivery",
        "p50 ms",
        "p99 ms",
        "loadgen max CPU%",
    ]
    rows = []
    for name, runs in results.items():
        rate = run_all.median_of(runs, "rate")
        gen = [max(r["gen_cpu_pct"]) for r in runs if "error" not in r and r.get("gen_cpu_pct")]
        rows.append(
            [
                name,
                fmt_rate(rate) + run_all.status(runs),
                f"{run_all.median_of(runs, 'server_cpu_pct'):.0f}",
                run_all.ratio(rate, native),
                run_all.ratio(rate, pysio),
                f"{run_all.median_of(runs, 'cpu_us'):.2f}",
                f"{run_all.median_of(runs, 'p50_ms'):.1f}",
                f"{run_all.median_of(runs, 'p99_ms'):.1f}",
                f"{max(gen):.0f}" if gen else "-",
            ]
        )
    return run_all.render(headers, rows, markdown)


def main(argv: list[str] | None = None) -> int:
    """Run the fan-out interleaved over the three servers and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=300)
    ap.add_argument("--broadcasts", type=int, default=500)
    ap.add_argument("--per-turn", type=int, default=50)
    ap.add_argument("--payload-size", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="load generator processes")
    ap.add_argument("--duration-limit", type=float, default=60.0)
    ap.add_argument("--allow-pure", action="store_true", help="run even without hypersio's compiled extensions")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)

    import hypersio

    if not hypersio.HAS_SPEEDUPS and not args.allow_pure:
        raise SystemExit(f"refusing to benchmark: {describe_build()}; install it (pip install .) or pass --allow-pure")
    raise_fd_limit()
    servers = specs()
    print(
        f"# ASGI fan-out, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at start; commit {common.commit()}; {args.repeat} interleaved "
        f"repetition(s)\n# measuring: {describe_build()}; uvicorn {version('uvicorn')}, "
        f"python-socketio {version('python-socketio')}, python-engineio {version('python-engineio')}",
        flush=True,
    )
    title = (
        f"Fan-out: {args.clients} clients, {args.broadcasts} broadcasts to all, {args.per_turn} per loop turn, "
        f"payload {args.payload_size} B"
    )
    print(f"\n== {title}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
    gen = LoadGenerator(args.workers)
    try:
        for rep in range(args.repeat):
            for spec in servers:
                print(f"-- run {rep + 1}/{args.repeat}: {spec.name}", flush=True)
                try:
                    r = run_fanout(
                        spec,
                        gen,
                        clients=args.clients,
                        broadcasts=args.broadcasts,
                        per_turn=args.per_turn,
                        payload_size=args.payload_size,
                        duration_limit=args.duration_limit,
                        say=lambda line: print(line, flush=True),
                    )
                except Exception as exc:  # the generator broke: record it, start a fresh one
                    r = {"server": spec.name, "error": f"load generator: {type(exc).__name__}: {exc}"}
                    gen.close()
                    gen = LoadGenerator(args.workers)
                results[spec.name].append(r)
                if "error" in r:
                    print(f"   FAILED: {r['error'][:400]}", flush=True)
                else:
                    print(
                        f"   {fmt_rate(r['rate'])}/s, server CPU {r['server_cpu_pct']:.0f}%, "
                        f"p99 {r['p99_ms']:.1f} ms" + ("" if r.get("complete") else "  (INCOMPLETE)"),
                        flush=True,
                    )
    finally:
        gen.close()
    print(f"\n# Results (medians; load average {os.getloadavg()[0]:.2f} at the end)\n\n{title}\n")
    print(table(results, args.markdown))
    print(
        "\ndeliveries/s = events counted by the clients / (last delivery - first send); server CPU% = "
        "utime+stime of the server process over that window (100% = one core); CPU us/delivery = the same "
        "CPU per delivered event."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
