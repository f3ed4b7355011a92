"""hypersio side by side with the official Node server, python-socketio and the floor server.

One entry point for every benchmark. Servers are run interleaved (A B C D, A B C D, ...), each run
on a fresh server process and the same load generator, and the tables show medians over the
repetitions plus ratios to Node and to python-socketio. Scenarios:

  fanout50  broadcast to every client, 50 broadcasts per event-loop turn
  fanout1   the same, 1 broadcast per turn
  msgpack   fanout50 with the msgpack parser (servers that support it)
  rooms     many clients spread over rooms, each broadcast to a single room
  acks      request/response: clients emit with acks in a closed loop
  pipelined request/response, pipelined: batches of requests per write, two batches in flight
  idle      many idle connections with heartbeats running: RSS and CPU
  latency   a 20 Hz game tick to 5,000 clients in 500 rooms: delivery latency percentiles
            (benchmarks/bench_latency.py; hypersio, node and python-socketio only)
  codec     benchmarks/bench_codec.py, when present
  cluster   benchmarks/bench_cluster.py: two-node clusters over Redis (needs Redis on --redis-url)

Usage:  python benchmarks/run_all.py [--quick] [--repeat R] [--servers a,b,...] [--only s1,s2]
        [--markdown] [--json results.json]
Every server binds 127.0.0.1; every run is bounded in count and time and cleans up its processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from hypersio.bench.latency import run_latency
from hypersio.bench.loadgen import LoadGenerator, raise_fd_limit
from hypersio.bench.runner import describe_build, fmt_rate, idle_workers, run_acks, run_fanout, run_idle

SCENARIOS = ["fanout50", "fanout1", "msgpack", "rooms", "acks", "pipelined", "idle", "latency", "codec", "cluster"]
SEPARATE = ("codec", "cluster")  # scenarios run by their own scripts, after the others


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    """Median of ``key`` over the successful runs (NaN when none succeeded)."""
    values = [r[key] for r in runs if "error" not in r and r.get(key) is not None and r[key] == r[key]]
    return statistics.median(values) if values else float("nan")


def render(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    """A plain or a Markdown table."""
    if markdown:
        lines = [
            "| " + " | ".join(headers) + " |",
            "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    out = []
    for j, r in enumerate([headers, *rows]):
        out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def ratio(value: float, base: float, higher_is_better: bool = True) -> str:
    """How many times better ``value`` is than ``base`` ("2.5x"); '-' when either is missing."""
    if value != value or base != base or not base or not value:
        return "-"
    return f"{(value / base if higher_is_better else base / value):.2f}x"


def status(runs: list[dict[str, Any]]) -> str:
    """'' when every run completed, else how many failed or came up short (hit the time limit)."""
    failed = sum(1 for r in runs if "error" in r)
    short = sum(1 for r in runs if "error" not in r and not r.get("complete"))
    notes = ([f"{failed}/{len(runs)} failed"] if failed else []) + (
        [f"{short}/{len(runs)} incomplete"] if short else []
    )
    return f" ({', '.join(notes)})" if notes else ""


def throughput_table(
    name: str,
    results: dict[str, list[dict[str, Any]]],
    unit: str,
    markdown: bool,
    extra: Callable[[list[dict[str, Any]]], list[str]],
    extra_headers: list[str],
) -> str:
    """Rows per server: median rate, ratios to node and python-socketio, then scenario columns."""
    node = median_of(results.get("node", []), "rate")
    pysio = median_of(results.get("python-socketio", []), "rate")
    headers = ["server", unit, "vs node", "vs python-socketio", *extra_headers]
    rows = []
    for server, runs in results.items():
        rate = median_of(runs, "rate")
        rows.append([server, fmt_rate(rate) + status(runs), ratio(rate, node), ratio(rate, pysio), *extra(runs)])
    return f"{name}\n\n" + render(headers, rows, markdown)


def latency_cols(runs: list[dict[str, Any]]) -> list[str]:
    """CPU per operation, latency percentiles and the generator's busiest worker."""
    gen = [max(r["gen_cpu_pct"]) for r in runs if "error" not in r and r.get("gen_cpu_pct")]
    return [
        f"{median_of(runs, 'cpu_us'):.2f}",
        f"{median_of(runs, 'p50_ms'):.1f}",
        f"{median_of(runs, 'p99_ms'):.1f}",
        f"{median_of(runs, 'server_cpu_pct'):.0f}",
        f"{max(gen):.0f}" if gen else "-",
    ]


def fanout_cols(runs: list[dict[str, Any]]) -> list[str]:
    """Latency columns plus RSS per connection."""
    return latency_cols(runs) + [f"{median_of(runs, 'rss_per_conn') / 1024:.1f}"]


LAT_HEADERS = ["CPU us/op", "p50 ms", "p99 ms", "server CPU%", "loadgen max CPU%"]


def idle_capacity() -> int:
    """Connections one server process may hold here (the fd hard limit less a margin)."""
    from hypersio.bench.loadgen import connection_capacity

    return connection_capacity()


def idle_table(results: dict[str, list[dict[str, Any]]], markdown: bool) -> str:
    """The idle scenario's table: connections held, connect rate, memory, idle CPU, heartbeats,
    and the ratios to Node and python-socketio (memory: how many times less)."""
    node_rss = median_of(results.get("node", []), "rss_per_conn")
    pysio_rss = median_of(results.get("python-socketio", []), "rss_per_conn")
    node_rate = median_of(results.get("node", []), "connect_rate")
    rows = []
    notes = []
    for server, runs in results.items():
        rss = median_of(runs, "rss_per_conn")
        rate = median_of(runs, "connect_rate")
        gens = [max(r["gen_cpu_pct"]) for r in runs if "error" not in r]
        ok = [r for r in runs if "error" not in r]
        capped = [r["fd_capped"] for r in ok if r.get("fd_capped")]
        if capped:
            notes.append(
                f"{server}: {ok[0]['clients_requested']:,} requested, capped to {ok[0]['clients']:,} by the "
                f"RLIMIT_NOFILE hard limit {capped[0]:,} of one process"
            )
        rows.append(
            [
                server + status(runs),
                f"{median_of(runs, 'ok'):,.0f}",
                f"{rate:,.0f}",
                ratio(rate, node_rate),
                f"{rss / 1024:.2f}",
                ratio(rss, node_rss, False),
                ratio(rss, pysio_rss, False),
                f"{median_of(runs, 'server_cpu_pct'):.1f}",
                f"{median_of(runs, 'pings'):,.0f}",
                f"{min((r['min_pings'] for r in ok), default=0)}",
                f"{median_of(runs, 'dropped'):,.0f}",
                f"{max(gens):.0f}" if gens else "-",
            ]
        )
    headers = [
        "server",
        "connections",
        "connect/s",
        "connect vs node",
        "RSS KiB/conn",
        "RSS vs node (x less)",
        "RSS vs python-socketio",
        "idle CPU%",
        "pings answered",
        "min pings/conn",
        "dropped",
        "loadgen max CPU%",
    ]
    return render(headers, rows, markdown) + ("\n\n" + "\n".join(notes) if notes else "")


def run_codec(quick: bool) -> str:
    """Run benchmarks/bench_codec.py (owned by another helper) if it exists; return its output."""
    script = Path(__file__).resolve().parent / "bench_codec.py"
    if not script.exists():
        return "bench_codec.py: not present, skipped"
    argv = [sys.executable, str(script)]
    try:
        helptext = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=60).stdout
        if quick and "--quick" in helptext:
            argv.append("--quick")
        elif quick and "--seconds" in helptext:
            argv += ["--seconds", "0.1"] + (["--rounds", "1"] if "--rounds" in helptext else [])
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(filter(None, [str(common.ROOT / "src"), os.environ.get("PYTHONPATH")])),
        )
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env)
        return done.stdout + (
            f"\n(bench_codec.py exited {done.returncode}: {done.stderr[-2000:]})" if done.returncode else ""
        )
    except subprocess.TimeoutExpired:
        return "bench_codec.py: timed out after 900 s"


def run_cluster(
    quick: bool, repeat: int | None, servers: list[str], markdown: bool, allow_pure: bool, redis_url: str
) -> str:
    """Run benchmarks/bench_cluster.py (two-node clusters over Redis) for the cluster kinds among
    ``servers``; return its result tables (or why it could not run)."""
    script = Path(__file__).resolve().parent / "bench_cluster.py"
    kinds = [s for s in servers if s in ("hypersio", "node", "python-socketio")]
    if not kinds:
        return "bench_cluster.py: none of the chosen servers forms a cluster, skipped"
    argv = [sys.executable, str(script), "--servers", ",".join(kinds), "--redis-url", redis_url]
    argv += (["--quick"] if quick else []) + (["--repeat", str(repeat)] if repeat is not None else [])
    argv += (["--markdown"] if markdown else []) + (["--allow-pure"] if allow_pure else [])
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        return "bench_cluster.py: timed out after 1800 s"
    head = "\n".join(line for line in done.stdout.splitlines()[:2] if line.startswith("# "))
    tables = done.stdout.split("# Results", 1)[-1].split("\n", 1)[-1].strip() if "# Results" in done.stdout else ""
    if done.returncode or not tables:
        return f"bench_cluster.py exited {done.returncode}: {(done.stderr or done.stdout)[-2000:]}"
    return f"{head}\n\n{tables}"


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios interleaved over the chosen servers; print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, one repetition: a smoke run")
    ap.add_argument(
        "--allow-pure",
        action="store_true",
        help="run even when hypersio's compiled extensions are not in use (otherwise that is an error)",
    )
    ap.add_argument("--repeat", type=int, default=None, help="repetitions per server (default 3; quick 1)")
    ap.add_argument("--servers", default=",".join(common.DEFAULT_SERVERS))
    ap.add_argument("--only", default=",".join(SCENARIOS), help="scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--clients", type=int, default=None, help="fan-out clients (default 500; quick 200)")
    ap.add_argument("--broadcasts", type=int, default=None, help="fan-out broadcasts (default 1000; quick 300)")
    ap.add_argument("--payload-size", type=int, default=16)
    ap.add_argument("--room-clients", type=int, default=None, help="rooms scenario clients (default 10000; quick 1000)")
    ap.add_argument("--rooms", type=int, default=None, help="rooms (default 1000; quick 100)")
    ap.add_argument(
        "--room-broadcasts", type=int, default=None, help="broadcasts to single rooms (default 20000; quick 2000)"
    )
    ap.add_argument("--ack-clients", type=int, default=None, help="closed-loop ack clients (default 200; quick 50)")
    ap.add_argument("--ack-seconds", type=float, default=None, help="ack phase length (default 5; quick 2)")
    ap.add_argument("--ack-batch", type=int, default=128, help="pipelined scenario: requests per write (default 128)")
    ap.add_argument(
        "--idle-clients",
        type=int,
        default=None,
        help="idle connections (default 10000; quick 1000; capped to what the fd hard limit allows one server)",
    )
    ap.add_argument(
        "--idle-seconds",
        type=float,
        default=None,
        help="idle phase (default 60, so every connection sees two 25 s heartbeats; quick 6)",
    )
    ap.add_argument(
        "--idle-ping-interval", type=float, default=None, help="idle scenario's ping interval (default 25; quick 5)"
    )
    ap.add_argument("--idle-ping-timeout", type=float, default=None, help="its ping timeout (default 20; quick 10)")
    ap.add_argument("--workers", type=int, default=2, help="load generator processes")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="the cluster scenario's Redis")
    ap.add_argument("--duration-limit", type=float, default=60.0, help="per-run cap on the delivery wait")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument("--json", help="also write every raw result to this file")
    args = ap.parse_args(argv)

    import bench_latency  # here, not at the top: it imports this module for render()

    q = args.quick
    pick = lambda v, full, quick: v if v is not None else (quick if q else full)  # noqa: E731
    repeat = pick(args.repeat, 3, 1)
    clients = pick(args.clients, 500, 200)
    broadcasts = pick(args.broadcasts, 1000, 300)
    room_clients = pick(args.room_clients, 10_000, 1000)
    rooms = pick(args.rooms, 1000, 100)
    room_broadcasts = pick(args.room_broadcasts, 20_000, 2000)
    ack_clients = pick(args.ack_clients, 200, 50)
    ack_seconds = pick(args.ack_seconds, 5.0, 2.0)
    idle_clients = pick(args.idle_clients, 10_000, 1000)
    idle_seconds = pick(args.idle_seconds, 60.0, 6.0)
    idle_ping = pick(args.idle_ping_interval, 25.0, 5.0)
    idle_ping_timeout = pick(args.idle_ping_timeout, 20.0, 10.0)
    tick_clients, tick_rooms, tick_seconds = (500, 50, 5.0) if q else (5000, 500, 30.0)
    only = [s for s in args.only.split(",") if s]
    for s in only:
        if s not in SCENARIOS:
            raise SystemExit(f"unknown scenario {s!r}; known: {', '.join(SCENARIOS)}")

    hard = raise_fd_limit()
    if max(room_clients, idle_clients) + 100 > hard:
        print(f"warning: RLIMIT_NOFILE hard limit {hard} is below the client count", file=sys.stderr)
    specs = common.available([s for s in args.servers.split(",") if s])
    import hypersio

    if not hypersio.HAS_SPEEDUPS and not args.allow_pure:
        # A run of the pure twins looks like a slow compiled run; refuse rather than mislead.
        raise SystemExit(f"refusing to benchmark: {describe_build()}; install it (pip install .) or pass --allow-pure")
    print(
        f"# hypersio benchmarks, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"{repeat} interleaved repetition(s); servers: {', '.join(s.name for s in specs)}\n"
        f"# measuring: {describe_build()}",
        flush=True,
    )

    def say(line: str) -> None:
        print(line, flush=True)

    workloads: dict[str, Callable[[Any, LoadGenerator], dict[str, Any]]] = {
        "fanout50": lambda spec, gen: run_fanout(
            spec,
            gen,
            clients=clients,
            broadcasts=broadcasts,
            per_turn=50,
            payload_size=args.payload_size,
            duration_limit=args.duration_limit,
            say=say,
        ),
        "msgpack": lambda spec, gen: run_fanout(
            spec,
            gen,
            clients=clients,
            broadcasts=broadcasts,
            per_turn=50,
            payload_size=args.payload_size,
            parser="msgpack",
            duration_limit=args.duration_limit,
            say=say,
        ),
        "fanout1": lambda spec, gen: run_fanout(
            spec,
            gen,
            clients=clients,
            broadcasts=broadcasts,
            per_turn=1,
            payload_size=args.payload_size,
            duration_limit=args.duration_limit,
            say=say,
        ),
        "rooms": lambda spec, gen: run_fanout(
            spec,
            gen,
            clients=room_clients,
            broadcasts=room_broadcasts,
            per_turn=50,
            rooms=rooms,
            payload_size=args.payload_size,
            duration_limit=args.duration_limit,
            say=say,
        ),
        "acks": lambda spec, gen: run_acks(spec, gen, clients=ack_clients, seconds=ack_seconds, say=say),
        "pipelined": lambda spec, gen: run_acks(
            spec, gen, clients=ack_clients, seconds=ack_seconds, batch=args.ack_batch, say=say
        ),
        "idle": lambda spec, gen: run_idle(
            spec,
            idle_gen or gen,
            clients=idle_clients,
            seconds=idle_seconds,
            ping_interval=idle_ping,
            ping_timeout=idle_ping_timeout,
            say=say,
        ),
        "latency": lambda spec, gen: run_latency(
            spec, gen, clients=tick_clients, rooms=tick_rooms, seconds=tick_seconds, say=say
        ),
    }
    titles = {
        "fanout50": f"Fan-out: {clients} clients, {broadcasts} broadcasts, 50 per loop turn, payload {args.payload_size} B",
        "msgpack": f"Fan-out, msgpack parser: {clients} clients, {broadcasts} broadcasts, 50 per loop turn, payload {args.payload_size} B",
        "fanout1": f"Fan-out: {clients} clients, {broadcasts} broadcasts, 1 per loop turn, payload {args.payload_size} B",
        "rooms": f"Rooms: {room_clients} clients in {rooms} rooms, {room_broadcasts} broadcasts each to one room, 50 per turn",
        "acks": f"Request/response: {ack_clients} clients emitting with acks in a closed loop for {ack_seconds:g} s",
        "pipelined": f"Request/response, pipelined: {ack_clients} clients, {args.ack_batch} requests per write, "
        f"2 writes in flight each, {ack_seconds:g} s",
        "idle": f"Idle connections: {idle_clients:,} clients requested, heartbeat every {idle_ping:g} s "
        f"(timeout {idle_ping_timeout:g} s), {idle_seconds:g} s measured",
        "latency": f"Latency under load: {tick_clients} clients in {tick_rooms} rooms, 20 Hz tick, one event per room "
        f"per tick, {tick_seconds:g} s measured",
    }
    all_results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    tables: list[str] = []
    gen = LoadGenerator(args.workers)
    # Many idle connections need more generator processes than the other scenarios: each holds at
    # most what the fd hard limit allows (hypersio.bench.loadgen.connection_capacity).
    need = idle_workers(min(idle_clients, idle_capacity())) if "idle" in only else 0
    idle_gen = LoadGenerator(need) if need > args.workers else None
    try:
        for scenario in only:
            if scenario in SEPARATE:
                continue
            say(f"\n== {titles[scenario]}")
            runnable = [
                s
                for s in specs
                if (scenario != "msgpack" or s.supports_msgpack)
                and (scenario != "latency" or s.name in bench_latency.TICK_SERVERS)
            ]
            results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in runnable}
            for rep in range(repeat):
                for spec in runnable:
                    say(f"-- {scenario} run {rep + 1}/{repeat}: {spec.name}")
                    try:
                        r = workloads[scenario](spec, gen)
                    except Exception as exc:  # the generator itself broke: record it, start a fresh one
                        r = {"server": spec.name, "error": f"load generator: {type(exc).__name__}: {exc}"}
                        gen.close()
                        gen = LoadGenerator(args.workers)
                        if idle_gen is not None:
                            idle_gen.close()
                            idle_gen = LoadGenerator(need)
                    results[spec.name].append(r)
                    if "error" in r:
                        say(f"   FAILED: {r['error'][:400]}")
                    elif scenario == "latency":
                        say(
                            f"   p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, server CPU {r['server_cpu_pct']:.0f}%"
                            + ("" if r.get("complete") else "  (INCOMPLETE)")
                        )
                    elif scenario == "idle":
                        say(
                            f"   {r['ok']:,} connected ({r['failed']:,} failed {r.get('connect_errors') or ''}) at "
                            f"{r['connect_rate']:,.0f}/s, RSS {r['rss_per_conn'] / 1024:.2f} KiB/conn, "
                            f"idle CPU {r['server_cpu_pct']:.1f}%, {r['pings']:,} pings answered "
                            f"(at least {r['min_pings']} each), {r['dropped']:,} dropped"
                        )
                    else:
                        say(
                            f"   {fmt_rate(r['rate'])}/s, {r['cpu_us']:.2f} us CPU/op, p99 {r['p99_ms']:.1f} ms"
                            + (
                                f" (user {r['user_us']:.2f} + kernel {r['system_us']:.2f} us, "
                                f"{r['syscalls_per_ack']:.2f} read/write syscalls per ack)"
                                if "user_us" in r
                                else ""
                            )
                            + ("" if r.get("complete") else "  (INCOMPLETE)")
                        )
            all_results[scenario] = results
            if scenario in ("fanout50", "fanout1", "msgpack", "rooms"):
                tables.append(
                    throughput_table(
                        titles[scenario],
                        results,
                        "deliveries/s",
                        args.markdown,
                        fanout_cols,
                        LAT_HEADERS + ["RSS KiB/conn"],
                    )
                )
            elif scenario == "latency":
                tables.append(f"{titles[scenario]}\n\n" + bench_latency.latency_table(results, args.markdown))
            elif scenario in ("acks", "pipelined"):
                tables.append(
                    throughput_table(titles[scenario], results, "acks/s", args.markdown, latency_cols, LAT_HEADERS)
                )
            else:
                tables.append(f"{titles[scenario]}\n\n" + idle_table(results, args.markdown))
            say("\n" + tables[-1] + "\n")
            if args.json:
                Path(args.json).write_text(json.dumps(all_results, indent=1, default=str))
    finally:
        gen.close()
        if idle_gen is not None:
            idle_gen.close()
    if "codec" in only:
        say("\n== codec (benchmarks/bench_codec.py)")
        tables.append("Codec (benchmarks/bench_codec.py)\n\n" + run_codec(q))
    if "cluster" in only:
        say("\n== cluster (benchmarks/bench_cluster.py)")
        cluster = run_cluster(q, args.repeat, [s.name for s in specs], args.markdown, args.allow_pure, args.redis_url)
        tables.append("Cluster fan-out over Redis (benchmarks/bench_cluster.py)\n\n" + cluster)
        say(cluster)

    print("\n\n# Results (medians over the repetitions; ratios: how many times better than that server)\n")
    for t in tables:
        print(t + "\n")
    print(
        "deliveries/s = events counted by the clients / (last delivery - first send). CPU = server "
        "utime+stime (/proc) over the phase, per delivered event or ack. Latency: receive - send time "
        "(~50 sampled clients) or ack round trip. loadgen max CPU% = busiest load-generator process."
    )
    gens = [
        max(r["gen_cpu_pct"])
        for res in all_results.values()
        for runs in res.values()
        for r in runs
        if "error" not in r and r.get("gen_cpu_pct")
    ]
    if gens:
        print(
            f"Load generator ({args.workers} processes): the busiest worker peaked at {max(gens):.0f}% of one core "
            f"over all runs (median {statistics.median(gens):.0f}%), so it had headroom"
            + (" everywhere." if max(gens) < 80 else "; runs near 100% may be generator-bound."),
            end=" ",
        )
        for scenario in ("fanout50", "fanout1", "msgpack", "rooms"):
            res = all_results.get(scenario, {})
            floor = max(
                (median_of(runs, "rate") for n, runs in res.items() if n.startswith("floor")), default=float("nan")
            )
            real = max(
                (median_of(runs, "rate") for n, runs in res.items() if not n.startswith("floor")), default=float("nan")
            )
            if floor == floor and real == real:
                print(
                    f"In {scenario} the best floor server reached {fmt_rate(floor)}/s with the same generator, "
                    f"the best real server {fmt_rate(real)}/s.",
                    end=" ",
                )
        print()
    if args.json:
        Path(args.json).write_text(json.dumps(all_results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
