"""Cluster fan-out over Redis: two hypersio nodes against two official Node nodes (and two
python-socketio nodes), each pair joined through the machine's Redis.

hypersio runs the classic Redis adapter (``hypersio.cluster.redis_adapter``), Node socket.io 4.8.3
with ``@socket.io/redis-adapter`` 8.3.0 (tests/js/node_modules), python-socketio its
``AsyncRedisManager`` (its own protocol: it cannot join the other two, but it is what Python users
have today). Every run starts two fresh server processes of one kind on a fresh key prefix, so
runs never see each other's messages; the kinds are run interleaved over the repetitions.

The load generator's clients are split evenly over both nodes (worker processes 0, 2, ... connect
to node A, 1, 3, ... to node B). A server-side loop on node A, started over its ``/control``
namespace, broadcasts ``tick`` events to the whole namespace (scenario ``fanout``) or each to one
room of many (``rooms``: client k joins room ``k % rooms``, broadcast i goes to room ``i % rooms``,
and every room has clients on both nodes). Node A delivers to its own clients and publishes to
Redis; node B receives every broadcast from Redis, decodes it and delivers to its clients.
Measured per run:

- deliveries/s: tick events counted by all clients / (last delivery anywhere - first send), and
  per node (node A: local deliveries, node B: the ones that went through Redis);
- CPU% of node A, of node B and of Redis (utime+stime from /proc, Redis from ``INFO cpu``) over
  the phase, 100% = one core: which side was the limit;
- p50/p99 delivery latency on node B's sampled clients (send time in the event -> receipt).

Usage:  python benchmarks/bench_cluster.py [--quick] [--repeat R] [--servers a,b,...]
        [--only fanout,rooms] [--rate N] [--markdown] [--json results.json]
Servers bind 127.0.0.1; Redis is --redis-url (default redis://127.0.0.1:6379/0). Every run is
bounded in count and time, and its server processes are stopped whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from hypersio.bench.loadgen import ControlClient, LoadGenerator, raise_fd_limit
from hypersio.bench.runner import (
    ServerProcess,
    ServerSpec,
    _gen_cpu,
    _latencies,
    _package_env,
    describe_build,
    fmt_rate,
    percentile,
)
from run_all import median_of, ratio, render, status

SCENARIOS = ["fanout", "rooms"]
KINDS = ["hypersio", "node", "python-socketio"]
Say = Callable[[str], None]


@dataclass
class ClusterKind:
    """How to start one node of a kind of cluster, and which Redis channel every node subscribes
    to (``PUBSUB NUMSUB`` on it counts the nodes that joined)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    channel: Callable[[str], str]

    def spec(self, redis_url: str, key: str) -> ServerSpec:
        """The spec of a node in the cluster ``key`` (runner.ServerProcess appends ``--port``)."""
        return ServerSpec(self.name, [*self.argv, "--redis-url", redis_url, "--key", key], self.env)


def cluster_kinds() -> dict[str, ClusterKind]:
    """Every kind of cluster this benchmark knows, by name."""
    servers = common.SERVERS

    def classic(key: str) -> str:
        return f"{key}-request#/#"  # the classic adapter's request channel of namespace "/"

    return {
        "hypersio": ClusterKind(
            "hypersio",
            [sys.executable, str(servers / "hypersio_cluster_server.py")],
            _package_env(None),
            classic,
        ),
        "node": ClusterKind(
            "node",
            [shutil.which("node") or "node", str(servers / "node_cluster_server.js")],
            {"NODE_PATH": str(common.NODE_MODULES)},
            classic,
        ),
        "python-socketio": ClusterKind(
            "python-socketio",
            [sys.executable, str(servers / "pysocketio_cluster_server.py")],
            {},
            lambda key: key,  # AsyncRedisManager's one channel
        ),
    }


def available(names: list[str]) -> list[ClusterKind]:
    """The kinds in ``names`` that this machine can run (the others skipped with a note)."""
    kinds = cluster_kinds()
    chosen = []
    for name in names:
        if name not in kinds:
            raise SystemExit(f"unknown server {name!r}; known: {', '.join(kinds)}")
        if name == "node" and (
            shutil.which("node") is None or not (common.NODE_MODULES / "@socket.io" / "redis-adapter").is_dir()
        ):
            print("note: skipping node (needs node on PATH and npm ci in tests/js)", file=sys.stderr)
            continue
        if name == "python-socketio":
            try:
                import aiohttp  # noqa: F401
                import socketio

                socketio.AsyncRedisManager  # noqa: B018  (present in python-socketio >= 5)
            except (ImportError, AttributeError):
                print("note: skipping python-socketio (pip install python-socketio aiohttp redis)", file=sys.stderr)
                continue
        chosen.append(kinds[name])
    return chosen


class RedisProbe:
    """The driver's own Redis connection: subscriber counts and Redis's CPU seconds."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.client.ping()

    def numsub(self, channel: str) -> int:
        """Connections subscribed to ``channel``."""
        reply = self.client.pubsub_numsub(channel)
        return int(reply[0][1]) if reply else 0

    def cpu(self) -> float:
        """Redis's utime + stime so far (``INFO cpu``: the whole process), in seconds."""
        info = self.client.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def wait_nodes(self, channel: str, nodes: int, timeout: float = 15.0) -> None:
        """Wait until ``nodes`` connections subscribe to ``channel`` (every node joined)."""
        deadline = time.time() + timeout
        while (got := self.numsub(channel)) < nodes:
            if time.time() > deadline:
                raise TimeoutError(f"only {got} of {nodes} nodes subscribed to {channel!r} within {timeout:g}s")
            time.sleep(0.05)

    def close(self) -> None:
        """Close the connection."""
        self.client.close()


def placement(clients: int, rooms: int) -> list[tuple[int, int | None]]:
    """``(node, room)`` of client k: room ``k % rooms`` (None without rooms), and the node
    alternating per client (per round of rooms with rooms), so every room has clients on both."""
    if rooms:
        return [((k // rooms) % 2, k % rooms) for k in range(clients)]
    return [(k % 2, None) for k in range(clients)]


@contextlib.contextmanager
def profiled(
    kind: ClusterKind, nodes: tuple[ServerProcess, ServerProcess], out: str | None, tag: str
) -> Iterator[None]:
    """Sample both nodes with py-spy (``--native``, raw collapsed stacks into ``out``) while the
    body runs, when ``out`` is given and the nodes are Python processes; a no-op otherwise."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not out or kind.name == "node" or not Path(spy).exists():
        if out and kind.name != "node":
            print("note: --profile needs py-spy (pip install py-spy); not profiling", file=sys.stderr)
        yield
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    spies = [
        subprocess.Popen(
            [spy, "record", "--native", "--rate", "250", "--format", "raw", "-p", str(node.pid)]
            + ["-o", str(Path(out) / f"{tag}-node{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, node in zip("AB", nodes, strict=True)
    ]
    try:
        time.sleep(1.0)  # py-spy attaches
        yield
    finally:
        for proc in spies:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for proc in spies:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextlib.contextmanager
def cluster(kind: ClusterKind, redis_url: str, key: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two fresh nodes of ``kind`` in the cluster ``key``; both stopped on the way out."""
    spec = kind.spec(redis_url, key)
    nodes: list[ServerProcess] = []
    try:
        nodes.append(ServerProcess(spec))
        nodes.append(ServerProcess(spec))
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()


def connect_split(
    nodes: tuple[ServerProcess, ServerProcess],
    gen: LoadGenerator,
    clients: int,
    rooms: int,
    say: Say,
    sample_clients: int = 50,
    limit: float = 120.0,
) -> dict[str, Any]:
    """Connect ``clients`` clients, placed by :func:`placement`; worker w serves node ``w % 2``."""
    workers = len(gen.conns)
    per_node: list[list[int | None]] = [[], []]
    for node, room in placement(clients, rooms):
        per_node[node].append(room)
    shares: list[list[int | None]] = []
    for w in range(workers):
        node_workers = list(range(w % 2, workers, 2))
        shares.append(per_node[w % 2][node_workers.index(w) :: len(node_workers)])
    sample_every = max(1, clients // max(1, sample_clients))
    t0 = time.time()

    def tick(elapsed: float) -> None:
        say(f"  [{nodes[0].spec.name}] connecting... {elapsed:4.0f}s, {gen.connected():,} connected")

    replies = gen.call(
        "connect",
        [
            {
                "host": "127.0.0.1",
                "port": nodes[w % 2].port,
                "rooms": shares[w],
                "sample_every": sample_every,
                "deadline": t0 + limit,
                "timeout": min(60.0, limit),
            }
            for w in range(workers)
        ],
        tick=tick,
        timeout=limit + 90,
    )
    return {
        "ok": sum(r["ok"] for r in replies),
        "failed": sum(r["failed"] for r in replies),
        "connect_s": time.time() - t0,
    }


def run_cluster(
    kind: ClusterKind,
    gen: LoadGenerator,
    probe: RedisProbe,
    *,
    redis_url: str,
    clients: int,
    broadcasts: int,
    per_turn: int,
    rate: float,
    payload_size: int,
    rooms: int,
    duration_limit: float,
    say: Say,
    profile: str | None = None,
    tag: str = "",
) -> dict[str, Any]:
    """One measured run on a fresh two-node cluster of ``kind``; failures land in ``error``.
    With ``profile`` (a folder) both nodes are sampled by py-spy during the phase (see :func:`profiled`)."""
    key = f"hypersio-bench-{os.getpid()}-{secrets.token_hex(4)}"
    result: dict[str, Any] = {
        "server": kind.name,
        "key": key,
        "clients": clients,
        "broadcasts": broadcasts,
        "per_turn": per_turn,
        "rate": rate,
        "rooms": rooms,
        "payload_size": payload_size,
    }
    workload = {"count": broadcasts, "per_turn": per_turn, "payload_size": payload_size, "rooms": rooms, "rate": rate}
    ctl: ControlClient | None = None
    nodes: tuple[ServerProcess, ServerProcess] | None = None
    try:
        with cluster(kind, redis_url, key) as nodes:
            try:
                ctl = ControlClient("127.0.0.1", nodes[0].port)
                result.update(connect_split(nodes, gen, clients, rooms, say))
                probe.wait_nodes(kind.channel(key), 2)
                time.sleep(0.3)  # let both nodes finish their side of the last handshakes
                with profiled(kind, nodes, profile, tag):
                    result.update(_measure(kind.name, nodes, ctl, gen, probe, workload, duration_limit, say))
                result["alive"] = [nodes[0].alive(), nodes[1].alive()]
            finally:
                if ctl is not None:
                    ctl.close()
                gen.call("drop", {}, timeout=30)
    except Exception as exc:  # a failing cluster is a result to report, not a crash of the suite
        result["error"] = f"{type(exc).__name__}: {exc}"
        if nodes is not None:
            for name, node in zip("AB", nodes, strict=True):
                if not node.alive():
                    result["error"] += f"\nnode {name} died:\n" + node.output()
    return result


def _measure(
    name: str,
    nodes: tuple[ServerProcess, ServerProcess],
    ctl: ControlClient,
    gen: LoadGenerator,
    probe: RedisProbe,
    workload: dict[str, Any],
    duration_limit: float,
    say: Say,
) -> dict[str, Any]:
    """The measured phase: start node A's broadcasts, wait for every delivery (or the limit)."""
    before = gen.call("reset", {})
    cpu0 = (nodes[0].cpu(), nodes[1].cpu(), probe.cpu(), time.time())
    deadline = cpu0[3] + duration_limit
    ctl.emit("start", workload)

    def tick(elapsed: float) -> None:
        done = gen.progress()
        say(f"  [{name}] {elapsed:4.0f}s  delivered {done:,}  ({done / max(1e-9, elapsed) / 1000:,.0f}k/s)")

    after = gen.call(
        "wait",
        {"count": workload["count"], "rooms": workload["rooms"], "deadline": deadline},
        tick=tick,
        timeout=duration_limit + 30,
    )
    cpu1 = (nodes[0].cpu(), nodes[1].cpu(), probe.cpu(), time.time())
    try:
        done = ctl.wait_event("done", timeout=max(1.0, deadline - time.time()))[0]
        t0 = float(done["t0"])
        send_s = float(done["t1"]) - t0
    except (TimeoutError, OSError, ConnectionError):
        t0 = cpu0[3]
        send_s = float("nan")
    return {"send_s": send_s, **_figures(after, before, cpu0, cpu1, t0)}


def _figures(
    after: list[dict[str, Any]],
    before: list[dict[str, Any]],
    cpu0: tuple[float, float, float, float],
    cpu1: tuple[float, float, float, float],
    t0: float,
) -> dict[str, Any]:
    """Rates, CPU shares and latencies of one run from the workers' replies and CPU snapshots."""
    delivered = sum(r["delivered"] for r in after)
    expected = sum(r["expected"] for r in after)
    last = max((r["last_recv"] for r in after), default=0.0)
    window = max(1e-9, last - t0)
    wall = max(1e-9, cpu1[3] - cpu0[3])
    out: dict[str, Any] = {
        "delivered": delivered,
        "expected": expected,
        "complete": delivered >= expected > 0,
        "seconds": window,
        "rate": delivered / window,
        "cpu_a_pct": 100.0 * (cpu1[0] - cpu0[0]) / wall,
        "cpu_b_pct": 100.0 * (cpu1[1] - cpu0[1]) / wall,
        "cpu_redis_pct": 100.0 * (cpu1[2] - cpu0[2]) / wall,
        "cpu_us": 1e6 * ((cpu1[0] - cpu0[0]) + (cpu1[1] - cpu0[1])) / max(1, delivered),
        "gen_cpu_pct": _gen_cpu(before, after),
    }
    for node in (0, 1):
        mine = after[node::2]
        got = sum(r["delivered"] for r in mine)
        node_last = max((r["last_recv"] for r in mine), default=0.0)
        lat = _latencies(mine)
        name = "ab"[node]
        out[f"rate_{name}"] = got / max(1e-9, node_last - t0) if got else 0.0
        out[f"delivered_{name}"] = got
        out[f"p50_{name}_ms"] = 1e3 * percentile(lat, 0.50)
        out[f"p99_{name}_ms"] = 1e3 * percentile(lat, 0.99)
    return out


HEADERS = [
    "server",
    "deliveries/s",
    "vs node",
    "vs python-socketio",
    "node A (local) /s",
    "node B (via Redis) /s",
    "CPU% A (emits)",
    "CPU% B (receives)",
    "CPU% Redis",
    "CPU us/deliv (A+B)",
    "B p50 ms",
    "B p99 ms",
    "loadgen max CPU%",
]


def cluster_table(title: str, results: dict[str, list[dict[str, Any]]], markdown: bool) -> str:
    """Medians per kind, with the ratios to the Node and python-socketio clusters."""
    node = median_of(results.get("node", []), "rate")
    pysio = median_of(results.get("python-socketio", []), "rate")
    rows = []
    for server, runs in results.items():
        rate = median_of(runs, "rate")
        gens = [max(r["gen_cpu_pct"]) for r in runs if "error" not in r and r.get("gen_cpu_pct")]
        rows.append(
            [
                server,
                fmt_rate(rate) + status(runs),
                ratio(rate, node),
                ratio(rate, pysio),
                fmt_rate(median_of(runs, "rate_a")),
                fmt_rate(median_of(runs, "rate_b")),
                f"{median_of(runs, 'cpu_a_pct'):.0f}",
                f"{median_of(runs, 'cpu_b_pct'):.0f}",
                f"{median_of(runs, 'cpu_redis_pct'):.0f}",
                f"{median_of(runs, 'cpu_us'):.2f}",
                f"{median_of(runs, 'p50_b_ms'):.1f}",
                f"{median_of(runs, 'p99_b_ms'):.1f}",
                f"{max(gens):.0f}" if gens else "-",
            ]
        )
    return f"{title}\n\n" + render(HEADERS, rows, markdown)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios interleaved over the chosen kinds of cluster; print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, one repetition: a smoke run")
    ap.add_argument("--repeat", type=int, default=None, help="repetitions per kind (default 3; quick 1)")
    ap.add_argument("--servers", default=",".join(KINDS), help="kinds of cluster: " + ",".join(KINDS))
    ap.add_argument("--only", default=",".join(SCENARIOS), help="scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--clients", type=int, default=None, help="fanout clients over both nodes (default 500; quick 200)")
    ap.add_argument("--broadcasts", type=int, default=None, help="fanout broadcasts (default 5000; quick 300)")
    ap.add_argument("--room-clients", type=int, default=None, help="rooms scenario clients (default 2000; quick 400)")
    ap.add_argument("--rooms", type=int, default=None, help="rooms (default 100; quick 20)")
    ap.add_argument(
        "--room-broadcasts", type=int, default=None, help="broadcasts each to one room (default 20000; quick 2000)"
    )
    ap.add_argument("--per-turn", type=int, default=50, help="broadcasts per event-loop turn on node A (default 50)")
    ap.add_argument("--rate", type=float, default=0.0, help="broadcasts/s from node A (default 0: as fast as it can)")
    ap.add_argument("--payload-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="load generator processes, an even number (default 2)")
    ap.add_argument("--duration-limit", type=float, default=60.0, help="per-run cap on the delivery wait (s)")
    ap.add_argument(
        "--allow-pure", action="store_true", help="run even when hypersio's compiled extensions are not in use"
    )
    ap.add_argument(
        "--profile",
        metavar="DIR",
        help="sample the Python nodes with py-spy during each phase into DIR (slows them: figures not comparable)",
    )
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument("--json", help="also write every raw result to this file")
    args = ap.parse_args(argv)

    q = args.quick

    def pick(value: int | None, full: int, quick: int) -> int:
        """The option's value if given, else the full or the quick default."""
        return value if value is not None else (quick if q else full)

    repeat = pick(args.repeat, 3, 1)
    sizes = {
        "fanout": (pick(args.clients, 500, 200), pick(args.broadcasts, 5000, 300), 0),
        "rooms": (
            pick(args.room_clients, 2000, 400),
            pick(args.room_broadcasts, 20_000, 2000),
            pick(args.rooms, 100, 20),
        ),
    }
    if args.workers < 2 or args.workers % 2:
        raise SystemExit("--workers must be an even number >= 2 (half of them serve each node)")
    only = [s for s in args.only.split(",") if s]
    for s in only:
        if s not in SCENARIOS:
            raise SystemExit(f"unknown scenario {s!r}; known: {', '.join(SCENARIOS)}")
    import hypersio

    if not hypersio.HAS_SPEEDUPS and not args.allow_pure:
        raise SystemExit(f"refusing to benchmark: {describe_build()}; install it (pip install .) or pass --allow-pure")
    raise_fd_limit()
    kinds = available([s for s in args.servers.split(",") if s])
    try:
        probe = RedisProbe(args.redis_url)
    except Exception as exc:  # redis-py missing or Redis not running: nothing to measure
        raise SystemExit(f"cannot reach Redis at {args.redis_url}: {type(exc).__name__}: {exc}") from None
    pace = f"{args.rate:g} broadcasts/s" if args.rate > 0 else "as fast as node A can"
    print(
        f"# hypersio cluster benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {repeat} interleaved repetition(s); "
        f"clusters: {', '.join(k.name for k in kinds)}; two nodes each on {args.redis_url}\n"
        f"# measuring: {describe_build()}",
        flush=True,
    )

    def say(line: str) -> None:
        print(line, flush=True)

    titles = {}
    for scenario in only:
        clients, broadcasts, rooms = sizes[scenario]
        target = f"each to one of {rooms} rooms" if rooms else "each to the whole namespace"
        titles[scenario] = (
            f"Cluster {scenario}: {clients} clients over 2 nodes, {broadcasts} broadcasts {target} from node A, "
            f"{args.per_turn} per loop turn, {pace}, payload {args.payload_size} B"
        )
    all_results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    tables: list[str] = []
    gen = LoadGenerator(args.workers)
    try:
        for scenario in only:
            clients, broadcasts, rooms = sizes[scenario]
            say(f"\n== {titles[scenario]}")
            results: dict[str, list[dict[str, Any]]] = {k.name: [] for k in kinds}
            for rep in range(repeat):
                for kind in kinds:
                    say(f"-- {scenario} run {rep + 1}/{repeat}: {kind.name}")
                    try:
                        r = run_cluster(
                            kind,
                            gen,
                            probe,
                            redis_url=args.redis_url,
                            clients=clients,
                            broadcasts=broadcasts,
                            per_turn=args.per_turn,
                            rate=args.rate,
                            payload_size=args.payload_size,
                            rooms=rooms,
                            duration_limit=args.duration_limit,
                            say=say,
                            profile=args.profile,
                            tag=f"{kind.name}-{scenario}-{rep + 1}",
                        )
                    except Exception as exc:  # the generator itself broke: record it, start a fresh one
                        r = {"server": kind.name, "error": f"load generator: {type(exc).__name__}: {exc}"}
                        gen.close()
                        gen = LoadGenerator(args.workers)
                    results[kind.name].append(r)
                    if "error" in r:
                        say(f"   FAILED: {r['error'][:600]}")
                    else:
                        say(
                            f"   {fmt_rate(r['rate'])}/s (A {fmt_rate(r['rate_a'])}/s, B {fmt_rate(r['rate_b'])}/s); "
                            f"CPU% A {r['cpu_a_pct']:.0f}, B {r['cpu_b_pct']:.0f}, Redis {r['cpu_redis_pct']:.0f}; "
                            f"B p99 {r['p99_b_ms']:.1f} ms"
                            + ("" if r.get("complete") else f"  (INCOMPLETE: {r['delivered']:,}/{r['expected']:,})")
                        )
            all_results[scenario] = results
            tables.append(cluster_table(titles[scenario], results, args.markdown))
            say("\n" + tables[-1] + "\n")
            if args.json:
                Path(args.json).write_text(json.dumps(all_results, indent=1, default=str))
    finally:
        gen.close()
        probe.close()

    print("\n\n# Results (medians over the repetitions; ratios: how many times the other cluster's deliveries/s)\n")
    for t in tables:
        print(t + "\n")
    print(
        "deliveries/s = tick events counted by the clients of both nodes / (last delivery - first send); node A/B: "
        "the same for one node's clients. CPU% = utime+stime over the phase, 100 = one core (Redis: INFO cpu, "
        "the whole Redis: other users' traffic included); CPU us/deliv = both nodes' CPU seconds / deliveries. "
        "Latency: receive - send time on node B's sampled clients."
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
            f"(median {statistics.median(gens):.0f}%)."
        )
    for scenario, res in all_results.items():
        mine = median_of(res.get("hypersio", []), "rate")
        node = median_of(res.get("node", []), "rate")
        if mine == mine and node == node and node:
            verdict = "meets" if mine >= 5 * node else "is BELOW"
            print(
                f"{scenario}: hypersio cluster / Node cluster = {mine / node:.2f}x; the issue's target (>= 5x) {verdict}."
            )
    if args.json:
        Path(args.json).write_text(json.dumps(all_results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
