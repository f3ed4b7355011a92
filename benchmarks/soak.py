"""Soak (issue 13): thousands of checking clients against hypersio for minutes, with broadcasts,
room changes, acks and reconnects; fails when a message is lost or repeated, an ack goes
unanswered, or the server's memory grows after the warm-up.

The clients (hypersio.bench.soak, in --workers processes) decode every packet and check sequence
numbers per stream, counting only what they must have received (the docstring of
hypersio/bench/soak.py says how: the join's and leave's acks carry the room's numbers). The server is
benchmarks/servers/hypersio_soak_server.py, run by this Python, so it imports the installed
package when this runs from a venv with ``pip install ".[bench]"``. Default load, per second:
2 broadcasts to everyone, 1 message to each of 500 rooms, 1 volatile broadcast, an echo with an ack
from every client every 2 s, a room change (join or leave, with an ack) every 10 s per client, and
10% of the clients reconnecting every 5-30 s. The server's RSS is sampled every 10 s; after the
warm-up its least-squares slope over the rest of the run must stay under the limit.

Usage: python benchmarks/soak.py [--clients 5000] [--minutes 10] [--workers 3]
A smoke run: python benchmarks/soak.py --clients 500 --minutes 1
Exit status 0 when every check passed, 1 otherwise. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from array import array
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from hypersio.bench.loadgen import ControlClient, LoadGenerator, cpu_seconds, raise_fd_limit
from hypersio.bench.procs import machine_cpu
from hypersio.bench.runner import ServerProcess, ServerSpec, describe_build, percentile
from hypersio.bench.soak import SoakWorker


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y) points (y per unit of t); 0 for fewer than two."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (y - my) for t, y in points) / var if var else 0.0


def pump(ctl: ControlClient, event: str | None = None, timeout: float = 0.05) -> list[Any] | None:
    """Read the control connection for up to ``timeout`` s (answering the server's pings, so it
    stays open for a long run); return ``event``'s arguments if it arrived."""
    ctl.sock.settimeout(timeout)
    try:
        return ctl.wait_event(event or "\0none", timeout)
    except TimeoutError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Run the soak once; print the summary; 0 when every check passed."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=5000)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=3, help="client processes (default 3)")
    ap.add_argument("--rooms", type=int, default=500)
    ap.add_argument("--global-hz", type=float, default=2.0)
    ap.add_argument("--room-hz", type=float, default=1.0)
    ap.add_argument("--volatile-hz", type=float, default=1.0)
    ap.add_argument("--ack-period", type=float, default=2.0, help="seconds between a client's echoes")
    ap.add_argument("--room-period", type=float, default=10.0, help="seconds between a client's room changes")
    ap.add_argument("--churn", type=float, default=0.1, help="share of clients that reconnect all the time")
    ap.add_argument("--lifetime", default="5,30", help="a churner's connection lives U(a, b) seconds")
    ap.add_argument(
        "--warmup", type=float, default=None, help="seconds before RSS must be flat (default 1 min; 15 s below 2 min)"
    )
    ap.add_argument(
        "--rss-limit",
        type=float,
        default=5.0,
        help="allowed RSS growth after warm-up, %% of the first sample (default 5)",
    )
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument(
        "--server",
        default=str(common.SERVERS / "hypersio_soak_server.py"),
        help="the server script to run with this Python (default servers/hypersio_soak_server.py)",
    )
    args = ap.parse_args(argv)
    seconds = args.minutes * 60.0
    warmup = args.warmup if args.warmup is not None else (60.0 if seconds >= 120 else 15.0)
    lifetime = tuple(float(x) for x in args.lifetime.split(","))
    hard = raise_fd_limit()
    if args.clients + 100 > hard:
        print(f"warning: RLIMIT_NOFILE hard limit {hard} is below the client count", file=sys.stderr)
    print(
        f"# soak: {args.clients} clients for {args.minutes:g} min; {args.rooms} rooms; per second {args.global_hz:g} "
        f"broadcasts, {args.room_hz:g} message(s) per room, {args.volatile_hz:g} volatile; an echo every "
        f"{args.ack_period:g} s and a room change every {args.room_period:g} s per client; {100 * args.churn:g}% of "
        f"the clients reconnecting every {lifetime[0]:g}-{lifetime[1]:g} s\n# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.workers} client processes\n"
        f"# measuring: {describe_build()}",
        flush=True,
    )
    spec = ServerSpec("hypersio", [sys.executable, args.server])
    server = ServerProcess(spec)
    gen = LoadGenerator(args.workers, SoakWorker)
    failures: list[str] = []
    try:
        ctl = ControlClient("127.0.0.1", server.port)
        per = [
            args.clients // args.workers + (1 if i < args.clients % args.workers else 0) for i in range(args.workers)
        ]
        opts = {
            "rooms": args.rooms,
            "initial_rooms": 2,
            "ack_period": args.ack_period,
            "room_period": args.room_period,
            "lifetime": lifetime,
        }
        rss_idle = server.rss()
        replies = gen.call(
            "soak_connect",
            [
                {
                    "host": "127.0.0.1",
                    "port": server.port,
                    "slots": n,
                    "churners": round(n * args.churn),
                    "seed": args.seed + i,
                    "opts": opts,
                }
                for i, n in enumerate(per)
            ],
            timeout=300,
        )
        ok = sum(r["ok"] for r in replies)
        print(
            f"connected {ok}/{args.clients} in {max(r['seconds'] for r in replies):.1f} s; server RSS {rss_idle / 2**20:.1f} -> {server.rss() / 2**20:.1f} MiB",
            flush=True,
        )
        if ok < args.clients:
            failures.append(f"{args.clients - ok} clients failed to connect")
        ctl.emit(
            "soak_start",
            {
                "rooms": args.rooms,
                "global_hz": args.global_hz,
                "room_hz": args.room_hz,
                "volatile_hz": args.volatile_hz,
            },
        )
        before = gen.call("soak_start", {})
        cpu0, m0, t0 = server.cpu(), machine_cpu(), time.time()
        samples: list[tuple[float, int]] = []
        next_sample = t0
        while time.time() < t0 + seconds:
            now = time.time()
            if now >= next_sample:
                next_sample += 10.0
                samples.append((now - t0, server.rss()))
                st = gen.call("soak_status", {})
                cpu = 100.0 * (server.cpu() - cpu0) / max(1e-9, now - t0)
                print(
                    f"  {now - t0:5.0f}s  RSS {samples[-1][1] / 2**20:6.1f} MiB  connected {sum(s['live'] for s in st):5d}  "
                    f"received {sum(s['received'] for s in st):>11,}  acks {sum(s['acks'] for s in st):>9,}  "
                    f"reconnects {sum(s['reconnects'] for s in st):6,}  errors {sum(s['errors'] for s in st)}  "
                    f"server CPU {cpu:3.0f}%",
                    flush=True,
                )
                if not server.alive():
                    failures.append("the server died")
                    break
            pump(ctl, timeout=min(1.0, max(0.01, next_sample - time.time())))
        samples.append((time.time() - t0, server.rss()))
        cpu1, m1, t1 = server.cpu(), machine_cpu(), time.time()
        quiet = gen.call("soak_quiesce", {"timeout": 30.0}, timeout=60)
        ctl.emit("soak_stop")
        final = None
        deadline = time.time() + 30
        while final is None and time.time() < deadline:
            got = pump(ctl, "soak_final", timeout=1.0)
            final = got[0] if got else None
        if final is None:
            raise RuntimeError("the server never answered soak_stop")
        time.sleep(1.0)  # the last messages are on their way
        results = gen.call("soak_verify", {"g": final["g"], "rooms": final["rooms"]}, timeout=60)
    finally:
        try:
            gen.call("drop", {}, timeout=30)
        finally:
            gen.close()
            server.stop()

    errors: collections.Counter[str] = collections.Counter()
    received: collections.Counter[str] = collections.Counter()
    rtts = array("d")
    for r in results:
        errors.update(r["errors"])
        received.update(r["received"])
        rtts.frombytes(r["rtts"])
    rtt = sorted(rtts)
    span = t1 - t0
    gen_cpu = [100.0 * (q["cpu"] - b["cpu"]) / max(1e-9, q["t"] - b["t"]) for b, q in zip(before, quiet, strict=True)]
    stats = final["stats"]
    after = [(t, rss) for t, rss in samples if t >= warmup]
    first, last = (after[0][1], after[-1][1]) if after else (samples[0][1], samples[-1][1])
    per_min = slope([(t / 60.0, float(rss)) for t, rss in after])
    growth = per_min * ((after[-1][0] - after[0][0]) / 60.0) if len(after) > 1 else 0.0
    allowed = first * args.rss_limit / 100.0
    for what, n in sorted(errors.items()):
        failures.append(f"{what}: {n:,}")
    if growth > allowed:
        failures.append(f"RSS grew {growth / 2**20:.1f} MiB after the warm-up (limit {allowed / 2**20:.1f} MiB)")
    expected_acks = stats["acks"] + stats["joins"] + stats["leaves"]
    if received["ack"] != expected_acks:
        failures.append(f"the clients got {received['ack']:,} acks, the server answered {expected_acks:,} requests")

    print("\n# Soak summary\n")
    print(f"duration            {span:.0f} s measured ({args.clients} clients, {args.workers} client processes)")
    print(
        f"delivered           {received['global']:,} broadcasts, {received['room']:,} room messages, "
        f"{received['volatile']:,} volatile ({final['v']:,} sent to everyone), {received['ping']:,} pings"
    )
    print(
        f"requests            {received['ack']:,} acks received of {expected_acks:,} answered by the server "
        f"({stats['acks']:,} echo, {stats['joins']:,} join, {stats['leaves']:,} leave); round trip p50 "
        f"{1e3 * percentile(rtt, 0.5):.1f} ms, p99 {1e3 * percentile(rtt, 0.99):.1f} ms, max {1e3 * (rtt[-1] if rtt else 0):.0f} ms"
    )
    print(
        f"connections         {stats['connections']:,} accepted, {stats['disconnects']:,} ended "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(stats['reasons'].items()))}); client reconnects "
        f"{sum(r['reconnects'] for r in results):,}, failed connects {sum(r['connect_failures'] for r in results)}"
    )
    print(
        f"server RSS          idle {rss_idle / 2**20:.1f} MiB; first after the {warmup:g} s warm-up {first / 2**20:.1f} MiB, "
        f"last {last / 2**20:.1f} MiB; slope {per_min / 2**20:+.2f} MiB/min, {growth / 2**20:+.1f} MiB over the rest "
        f"(limit {args.rss_limit:g}% = {allowed / 2**20:.1f} MiB)"
    )
    print("RSS samples (s, MiB) " + " ".join(f"{t:.0f}:{rss / 2**20:.1f}" for t, rss in samples))
    print(
        f"CPU                 server {100.0 * (cpu1 - cpu0) / span:.0f}%, client processes "
        + "/".join(f"{p:.0f}" for p in gen_cpu)
        + f"%, whole machine {100.0 * (m1.busy - m0.busy) / span:.0f}% (100 per core); driver {cpu_seconds():.1f} s"
    )
    print(f"checks              {'ALL PASSED' if not failures else 'FAILED'}")
    for f in failures:
        print(f"  FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
