"""Benchmark workloads and the ``python -m hypersio bench`` command.

A workload run starts a server as a subprocess on a free 127.0.0.1 port, connects the load
generator's clients (hypersio.bench.loadgen, 1-2 worker processes), drives the server through a control
connection in namespace ``/control`` and measures:

- deliveries/s: ``tick`` events counted by the clients / (last delivery - first send);
- server CPU per delivery: utime+stime of the server process from /proc/<pid>/stat over the phase;
- delivery latency: receive time - the send time the server wrote into the event, on a sample of
  about 50 clients (same machine, same wall clock);
- RSS per connection: (server RSS after connecting - before) / clients;
- the generator's own CPU% per worker process, to show it was not the bottleneck.

Every server (hypersio here; python-socketio, Node and the floor in benchmarks/servers/) implements
the same small control protocol, described in benchmarks/servers/node_server.js. Running this
module as a script (``python -m hypersio.bench.runner --port P``) serves hypersio's side of it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypersio.bench.loadgen import (
    FD_MARGIN,
    ControlClient,
    LoadGenerator,
    connection_capacity,
    cpu_seconds,
    raise_fd_limit,
    rss_bytes,
    source_addresses,
)
from hypersio.bench.procs import cpu_split

Say = Callable[[str], None]


# --------------------------------------------------------------------------- the hypersio side


def build_app(parser: str = "json", ping_interval: float = 25.0, ping_timeout: float = 20.0) -> Any:
    """hypersio's benchmark application, written against the public API only."""
    import hypersio

    sio = hypersio.Server(
        transports=("websocket", "polling"),
        parser=parser,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
    )

    @sio.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        room = (socket.handshake.auth or {}).get("room")
        if room:
            socket.join(room)

        @socket.on("echo")
        def echo(value: Any) -> Any:
            # no spare parameter, so hypersio sends the return value as the ack (API.md)
            return value

    @sio.of("/control").on("connection")
    def on_control(socket: hypersio.Socket) -> None:
        @socket.on("start")
        async def start(opts: dict[str, Any]) -> None:
            payload = "x" * opts["payload_size"]
            per_turn = max(1, opts["per_turn"])
            rooms = opts.get("rooms") or 0
            count = opts["count"]
            t0 = time.time()
            for i in range(count):
                target = sio.to(f"r{i % rooms}") if rooms else sio
                target.emit("tick", time.time(), i, payload)
                if (i + 1) % per_turn == 0:
                    # one loop turn: the server flushes one write per connection here
                    await asyncio.sleep(0)
            socket.emit("done", {"t0": t0, "t1": time.time(), "count": count})

        @socket.on("tick")
        async def tick(opts: dict[str, Any]) -> None:
            await _game_tick(sio, socket, opts)

    return sio


async def _game_tick(sio: Any, control: Any, opts: dict[str, Any]) -> None:
    """The ``tick`` workload of the control protocol: a game server's fixed-rate state updates.

    Every 1/hz seconds, one event to each of ``rooms`` rooms, stamped with the time the tick was
    due (so a server that falls behind shows it in the clients' latencies); ticks not started by
    the end of ``seconds`` are not sent. See benchmarks/servers/node_server.js.

    Unless ``opts["naive_timer"]``, the loop yields one turn before arming its timer: a tick's
    emits are written out at the end of the turn (one write per connection), and a uvloop timer
    armed before a long callback in the same turn fires late by that callback's duration (libuv
    computes the poll timeout from the loop time it cached before the callback ran).
    """
    rooms = opts["rooms"]
    targets = [sio.to(f"r{r}") for r in range(rooms)]  # operators are immutable: build them once
    payload = "x" * opts["payload_size"]
    period = 1.0 / opts["hz"]
    total = round(opts["seconds"] * opts["hz"])
    t0 = time.time() + period
    end = t0 + opts["seconds"]
    late: list[float] = []
    naive = bool(opts.get("naive_timer"))
    k = 0
    while k < total:
        due = t0 + k * period
        if not naive:
            await asyncio.sleep(0)  # the previous tick's writes go out in this turn
        # always yield, even when late: otherwise nothing would be written at all
        await asyncio.sleep(max(0.0, due - time.time()))
        start = time.time()
        if start >= end:
            break
        late.append(start - due)
        base = k * rooms
        for r, target in enumerate(targets):
            target.emit("tick", due, base + r, payload)
        k += 1
    control.emit("done", {"t0": t0, "t1": time.time(), "count": k * rooms, "ticks": k, "due": total, "late": late})


def server_main(argv: list[str] | None = None) -> int:
    """Serve the hypersio benchmark application until SIGTERM."""
    ap = argparse.ArgumentParser(prog="python -m hypersio.bench.runner")
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--parser", default="json", choices=("json", "msgpack"))
    ap.add_argument("--ping-interval", type=float, default=25.0)
    ap.add_argument("--ping-timeout", type=float, default=20.0)
    args = ap.parse_args(argv)
    raise_fd_limit()
    sio = build_app(args.parser, args.ping_interval, args.ping_timeout)
    print(f"READY {args.port}", flush=True)
    sio.run(host=args.host, port=args.port)
    return 0


# --------------------------------------------------------------------------- servers as processes


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (each run gets a new one, so client
    ports left in TIME_WAIT by an earlier run never collide)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerSpec:
    """How to start one server: ``argv`` gets ``--port P`` plus the run's options appended."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    supports_msgpack: bool = True


def hypersio_spec(extra_env: dict[str, str] | None = None) -> ServerSpec:
    """The hypersio benchmark server (this module run as a script)."""
    return ServerSpec("hypersio", [sys.executable, "-m", "hypersio.bench.runner"], _package_env(extra_env))


def floor_spec(mode: str = "cork") -> ServerSpec:
    """The bare-uvloop floor server (hypersio.bench.floor), ``mode`` "cork" or "write"."""
    return ServerSpec(
        f"floor-{mode}",
        [sys.executable, "-m", "hypersio.bench.floor", "--mode", mode],
        _package_env(None),
        supports_msgpack=False,
    )


def _package_env(extra_env: dict[str, str] | None) -> dict[str, str]:
    """PYTHONPATH such that a child imports the same hypersio as this process, even from a source
    checkout that is not installed."""
    import hypersio

    root = os.path.dirname(os.path.dirname(os.path.abspath(hypersio.__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, **(extra_env or {})}


class ServerProcess:
    """A running server subprocess; ``stop()`` always leaves no process behind."""

    def __init__(
        self,
        spec: ServerSpec,
        parser: str = "json",
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        start_timeout: float = 30.0,
    ) -> None:
        self.spec = spec
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop(), it outlives this call)
        argv = [
            *spec.argv,
            "--port",
            str(self.port),
            "--ping-interval",
            str(ping_interval),
            "--ping-timeout",
            str(ping_timeout),
        ]
        if parser != "json":
            argv += ["--parser", parser]
        env = dict(os.environ)
        env.update(spec.env)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        deadline = time.time() + start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{spec.name} server exited at start:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"{spec.name} server did not listen within {start_timeout}s") from None
                time.sleep(0.05)

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.proc.pid

    def cpu(self) -> float:
        """Server CPU seconds so far (all threads)."""
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        """Server resident memory in bytes."""
        return rss_bytes(self.pid)

    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self.proc.poll() is None

    def output(self, limit: int = 3000) -> str:
        """The last ``limit`` characters the server printed."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-limit:]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 3 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)


# --------------------------------------------------------------------------- workloads


def percentile(sorted_values: array[float] | list[float], q: float) -> float:
    """The q-quantile (0..1) of already sorted values, nearest rank; NaN when empty."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def _latencies(replies: list[dict[str, Any]], key: str = "latencies") -> list[float]:
    values = array("d")
    for r in replies:
        values.frombytes(r[key])
    return sorted(values)


def _gen_cpu(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[float]:
    """CPU% of each generator worker between two replies."""
    return [100.0 * (a["cpu"] - b["cpu"]) / max(1e-9, a["t"] - b["t"]) for b, a in zip(before, after, strict=True)]


def connect_clients(
    server: ServerProcess,
    gen: LoadGenerator,
    rooms: list[int | None],
    parser: str,
    say: Say,
    sample_clients: int = 50,
    limit: float = 120.0,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """Connect one client per entry of ``rooms`` within ``limit`` seconds (from the loopback
    ``sources`` addresses, when given); returns ok/failed counts, the connect rate (clients per
    second from the first connect to the last handshake, the slowest worker's span) and the
    server's RSS growth per connected client."""
    time.sleep(0.2)
    rss0 = server.rss()
    sample_every = max(1, len(rooms) // max(1, sample_clients))
    t0 = time.time()

    def tick(elapsed: float) -> None:
        say(f"  [{server.spec.name}] connecting... {elapsed:4.0f}s, {gen.connected():,} connected")

    replies = gen.call(
        "connect",
        [
            {
                "host": "127.0.0.1",
                "port": server.port,
                "rooms": part,
                "sample_every": sample_every,
                "parser": parser,
                "deadline": t0 + limit,
                "timeout": min(60.0, limit),
                "sources": sources,
            }
            for part in gen.split(rooms)
        ],
        tick=tick,
        timeout=limit + 90,
    )
    ok = sum(r["ok"] for r in replies)
    failed = sum(r["failed"] for r in replies)
    span = max(r["seconds"] for r in replies)
    errors: dict[str, int] = {}
    for r in replies:
        for why, n in r.get("errors", {}).items():
            errors[why] = errors.get(why, 0) + n
    time.sleep(0.3)  # let the server finish its side of the last handshakes before measuring
    rss1 = server.rss()
    return {
        "ok": ok,
        "failed": failed,
        "connect_errors": errors,
        "connect_rate": ok / max(1e-9, span),
        "connect_s": time.time() - t0,
        "rss_per_conn": (rss1 - rss0) / max(1, ok),
        "rss_before": rss0,
        "rss_after": rss1,
    }


@contextlib.contextmanager
def _scenario(server: ServerProcess, gen: LoadGenerator, result: dict[str, Any]) -> Iterator[None]:
    """Run one measured scenario against ``server``.

    A failing server is a result to report, not a crash of the suite: the exception (and the
    server's output if it died) lands in ``result["error"]``. The clients are dropped and the
    server stopped whatever happens, so the next interleaved run starts clean.
    """
    try:
        yield
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        if not server.alive():
            result["error"] += "\n" + server.output()
    finally:
        try:
            gen.call("drop", {}, timeout=30)
        finally:
            server.stop()


def run_fanout(
    spec: ServerSpec,
    gen: LoadGenerator,
    *,
    clients: int = 500,
    broadcasts: int = 1000,
    per_turn: int = 50,
    payload_size: int = 16,
    rooms: int = 0,
    parser: str = "json",
    duration_limit: float = 60.0,
    say: Say = print,
) -> dict[str, Any]:
    """One fan-out run on a fresh server: broadcasts to all clients, or to single rooms when
    ``rooms`` > 0 (client k joins room ``k % rooms``; broadcast i goes to room ``i % rooms``)."""
    result: dict[str, Any] = {
        "server": spec.name,
        "clients": clients,
        "broadcasts": broadcasts,
        "per_turn": per_turn,
        "rooms": rooms,
        "payload_size": payload_size,
    }
    server = ServerProcess(spec, parser=parser)
    ctl = None
    with _scenario(server, gen, result):
        try:
            ctl = ControlClient("127.0.0.1", server.port, parser=parser)
            room_of = [k % rooms if rooms else None for k in range(clients)]
            conn = connect_clients(server, gen, room_of, parser, say)
            result.update(conn)
            before = gen.call("reset", {})
            cpu0 = server.cpu()
            t_start = time.time()
            deadline = t_start + duration_limit
            ctl.emit("start", {"count": broadcasts, "per_turn": per_turn, "payload_size": payload_size, "rooms": rooms})

            def tick(elapsed: float) -> None:
                done = gen.progress()
                rate = done / max(1e-9, elapsed)
                say(f"  [{spec.name}] {elapsed:4.0f}s  delivered {done:,}  ({rate / 1000:,.0f}k/s so far)")

            after = gen.call(
                "wait",
                {"count": broadcasts, "rooms": rooms, "deadline": deadline},
                tick=tick,
                timeout=duration_limit + 30,
            )
            cpu1 = server.cpu()
            delivered = sum(r["delivered"] for r in after)
            expected = sum(r["expected"] for r in after)
            try:
                done = ctl.wait_event("done", timeout=max(1.0, deadline - time.time()))[0]
                t0 = done["t0"]
                result["send_s"] = done["t1"] - done["t0"]
            except (TimeoutError, OSError, ConnectionError):
                t0 = t_start
                result["send_s"] = float("nan")
            last = max((r["last_recv"] for r in after), default=0.0)
            window = max(1e-9, last - t0)
            lat = _latencies(after)
            result.update(
                delivered=delivered,
                expected=expected,
                complete=delivered >= expected > 0,
                seconds=window,
                rate=delivered / window,
                cpu_us=1e6 * (cpu1 - cpu0) / max(1, delivered),
                server_cpu_pct=100.0 * (cpu1 - cpu0) / window,
                p50_ms=1e3 * percentile(lat, 0.50),
                p99_ms=1e3 * percentile(lat, 0.99),
                gen_cpu_pct=_gen_cpu(before, after),
                server_alive=server.alive(),
            )
        finally:
            if ctl is not None:
                ctl.close()
    return result


def run_acks(
    spec: ServerSpec,
    gen: LoadGenerator,
    *,
    clients: int = 200,
    seconds: float = 5.0,
    parser: str = "json",
    batch: int = 0,
    say: Say = print,
    on_phase: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Request/response: every client emits ``echo`` with an ack for ``seconds``, in a closed loop
    (``batch`` 0: one request in flight per client, so one read and one write syscall per ack on
    each side), or pipelined (``batch`` requests per write, two batches in flight per client).

    ``on_phase(pid)`` is called with the server's pid just before the measured phase starts (a
    profiler attaches there: ``benchmarks/perf_acks.py``); it must return at once."""
    result: dict[str, Any] = {"server": spec.name, "clients": clients}
    server = ServerProcess(spec, parser=parser)
    with _scenario(server, gen, result):
        conn = connect_clients(server, gen, [None] * clients, parser, say)
        result.update(conn)
        before = gen.call("reset", {})
        cpu0 = server.cpu()
        split0 = cpu_split(server.pid)
        per_worker = [len(part) for part in gen.split(list(range(conn["ok"])))]

        def tick(elapsed: float) -> None:
            say(f"  [{spec.name}] {elapsed:4.0f}s  acks {gen.progress():,}")

        if on_phase is not None:
            on_phase(server.pid)
        after = gen.call(
            "acks",
            [{"seconds": seconds, "clients": n, "batch": batch} for n in per_worker],
            tick=tick,
            timeout=seconds + 30,
        )
        cpu1 = server.cpu()
        split1 = cpu_split(server.pid)
        acks = sum(r["acks"] for r in after)
        elapsed = max(r["elapsed"] for r in after)
        rtts = _latencies(after, "rtts")
        result.update(
            acks=acks,
            rate=acks / elapsed,
            cpu_us=1e6 * (cpu1 - cpu0) / max(1, acks),
            server_cpu_pct=100.0 * (cpu1 - cpu0) / elapsed,
            p50_ms=1e3 * percentile(rtts, 0.5),
            p99_ms=1e3 * percentile(rtts, 0.99),
            gen_cpu_pct=_gen_cpu(before, after),
            complete=acks > 0,
            # where the server's time went: user space, the kernel, and how many syscalls per ack
            user_us=1e6 * (split1[0] - split0[0]) / max(1, acks),
            system_us=1e6 * (split1[1] - split0[1]) / max(1, acks),
            syscalls_per_ack=(split1[2] - split0[2]) / max(1, acks),
        )
    return result


def idle_workers(clients: int) -> int:
    """Load-generator processes needed to hold ``clients`` connections under this machine's fd limit."""
    return max(1, -(-clients // connection_capacity()))


def run_idle(
    spec: ServerSpec,
    gen: LoadGenerator,
    *,
    clients: int = 10_000,
    seconds: float = 10.0,
    ping_interval: float = 5.0,
    ping_timeout: float = 10.0,
    connect_limit: float | None = None,
    say: Say = print,
) -> dict[str, Any]:
    """Idle connections: RSS per connection, connect rate, and server CPU while heartbeats run
    every ``ping_interval`` seconds for ``seconds``.

    The clients connect from several loopback source addresses (:func:`source_addresses`), spread
    over ``gen``'s workers (:func:`idle_workers` says how many it needs). One server process
    holds at most :func:`connection_capacity` connections (its RLIMIT_NOFILE hard limit, less a
    margin): a larger ``clients`` is capped to that, and the result says so (``fd_capped``).
    ``connect_limit`` bounds the connect phase (default: 60 s plus 10 ms per client).
    """
    result: dict[str, Any] = {"server": spec.name, "clients_requested": clients}
    capacity = connection_capacity()
    if clients > capacity:
        say(
            f"  [{spec.name}] {clients:,} connections exceed what one process may open here "
            f"(RLIMIT_NOFILE hard limit {capacity + FD_MARGIN:,}, which only a privileged user can raise): "
            f"running {capacity:,}"
        )
        result["fd_capped"] = capacity + FD_MARGIN
        clients = capacity
    if len(gen.conns) * capacity < clients:
        raise ValueError(f"{clients} idle clients need {idle_workers(clients)} load-generator workers")
    result["clients"] = clients
    sources = source_addresses(clients)
    result["sources"] = len(sources)
    limit = connect_limit if connect_limit is not None else 60.0 + clients / 100
    server = ServerProcess(spec, ping_interval=ping_interval, ping_timeout=ping_timeout)
    with _scenario(server, gen, result):
        conn = connect_clients(server, gen, [None] * clients, "json", say, limit=limit, sources=sources)
        result.update(conn)
        before = gen.call("reset", {})
        cpu0 = server.cpu()
        t0 = time.time()

        def tick(elapsed: float) -> None:
            if int(elapsed) % 10 == 0:
                say(f"  [{spec.name}] idle {elapsed:4.0f}s")

        after = gen.call("idle", {"seconds": seconds}, tick=tick, timeout=seconds + 60)
        cpu1 = server.cpu()
        window = max(1e-9, time.time() - t0)
        still_open = sum(r["open"] for r in after)
        result.update(
            pings=sum(r["pings"] for r in after),
            min_pings=min(r["min_pings"] for r in after),
            closed=sum(r["closed"] for r in after),
            open=still_open,
            dropped=conn["ok"] - still_open,
            server_cpu_pct=100.0 * (cpu1 - cpu0) / window,
            rss_total=server.rss(),
            gen_cpu_pct=_gen_cpu(before, after),
            complete=still_open > 0,
        )
    return result


# --------------------------------------------------------------------------- tables


def fmt_rate(x: float) -> str:
    """12,345 -> '12.3k'; 1,234,567 -> '1.23M'."""
    if x != x:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with right-aligned columns (first column left-aligned)."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for j, r in enumerate([headers, *rows]):
        cells = [str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fanout_row(r: dict[str, Any]) -> list[str]:
    """One table row for a fan-out result."""
    if "error" in r:
        return [r["server"], "FAILED: " + r["error"].splitlines()[0][:60]] + [""] * 6
    gen = "/".join(f"{p:.0f}" for p in r["gen_cpu_pct"])
    note = "" if r["complete"] else f" (got {r['delivered']:,}/{r['expected']:,})"
    return [
        r["server"],
        fmt_rate(r["rate"]) + note,
        f"{r['cpu_us']:.2f}",
        f"{r['p50_ms']:.1f}",
        f"{r['p99_ms']:.1f}",
        f"{r['rss_per_conn'] / 1024:.1f}",
        f"{r['server_cpu_pct']:.0f}",
        gen,
    ]


FANOUT_HEADERS = [
    "server",
    "deliveries/s",
    "CPU us/deliv",
    "p50 ms",
    "p99 ms",
    "RSS KiB/conn",
    "server CPU%",
    "loadgen CPU%",
]


# --------------------------------------------------------------------------- the CLI


def add_bench_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of ``python -m hypersio bench``."""
    ap.add_argument("--clients", type=int, default=500, help="connected clients (default 500)")
    ap.add_argument("--broadcasts", type=int, default=1000, help="broadcasts to send (default 1000)")
    ap.add_argument("--per-turn", type=int, default=50, help="broadcasts emitted per event-loop turn (default 50)")
    ap.add_argument("--payload-size", type=int, default=16, help="payload string length (default 16)")
    ap.add_argument("--parser", choices=("json", "msgpack"), default="json")
    ap.add_argument(
        "--rooms",
        type=int,
        default=0,
        help="spread clients over R rooms and broadcast to one room at a time (default 0: all)",
    )
    ap.add_argument(
        "--duration-limit", type=float, default=60.0, help="stop waiting for deliveries after S seconds (default 60)"
    )
    ap.add_argument("--workers", type=int, default=2, help="load generator processes (default 2)")
    ap.add_argument("--repeat", type=int, default=1, help="runs, each on a fresh server (default 1)")
    ap.add_argument("--no-floor", action="store_true", help="skip the calibration runs on the bare-uvloop floor server")


def describe_build() -> str:
    """Which hypersio a benchmark measures: version, where it was imported from (an installed
    package or a source tree) and whether the compiled twins are in use.

    Printed at the top of every benchmark table, so that a figure of the pure-Python twins (or of a
    source tree that shadows the installed package) can never pass for the compiled package.
    """
    import hypersio

    location = os.path.dirname(os.path.abspath(hypersio.__file__))
    kind = "installed package" if "-packages" in location else "source tree"
    compiled = "compiled extensions" if hypersio.HAS_SPEEDUPS else "PURE-PYTHON twins (no compiled extensions)"
    return f"hypersio {hypersio.__version__}, {kind} at {location}, {compiled}"


def bench_command(args: argparse.Namespace) -> int:
    """Run the fan-out benchmark against hypersio (and the floor server as a calibration row,
    interleaved) and print its table; 0 when every hypersio run completed."""
    import hypersio

    raise_fd_limit()
    print(
        f"hypersio {hypersio.__version__} fan-out benchmark: {args.clients} clients, "
        f"{args.broadcasts} broadcasts, {args.per_turn} per loop turn, payload {args.payload_size} B, "
        f"parser {args.parser}, rooms {args.rooms or 'none (broadcast to all)'}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\nmeasuring: {describe_build()}",
        flush=True,
    )

    def say(line: str) -> None:
        print(line, flush=True)

    specs = [hypersio_spec()] + ([] if args.no_floor else [floor_spec("shared")])
    gen = LoadGenerator(max(1, args.workers))
    results: dict[str, list[dict[str, Any]]] = {spec.name: [] for spec in specs}
    try:
        for rep in range(max(1, args.repeat)):
            for spec in specs:
                say(f"-- run {rep + 1}/{max(1, args.repeat)}: {spec.name}")
                # the floor speaks JSON only; with --parser msgpack it still calibrates the machine
                parser = args.parser if spec.supports_msgpack else "json"
                r = run_fanout(
                    spec,
                    gen,
                    clients=args.clients,
                    broadcasts=args.broadcasts,
                    per_turn=args.per_turn,
                    payload_size=args.payload_size,
                    rooms=args.rooms,
                    parser=parser,
                    duration_limit=args.duration_limit,
                    say=say,
                )
                results[spec.name].append(r)
                if "error" in r:
                    say(f"   FAILED: {r['error'][:300]}")
                else:
                    say(f"   {fmt_rate(r['rate'])} deliveries/s" + ("" if r["complete"] else " (INCOMPLETE)"))
    finally:
        gen.close()
    print()
    rows = []
    for name, runs in results.items():
        for i, r in enumerate(runs):
            row = fanout_row(r)
            row[0] = name + (f" #{i + 1}" if len(runs) > 1 else "")
            rows.append(row)
    print(table(FANOUT_HEADERS, rows))
    print()
    if args.parser != "json" and not args.no_floor:
        print("note: the floor server speaks JSON only; its rows used the JSON parser")
    mine = results["hypersio"]
    ok = [r for r in mine if "error" not in r]
    for r in mine:
        if "error" in r:
            print(f"hypersio error: {r['error']}")
        elif r.get("failed"):
            print(f"note: {r['failed']} of {r['clients']} clients failed to connect")
        elif not r.get("complete"):
            print(
                f"note: only {r['delivered']:,} of {r['expected']:,} deliveries arrived within "
                f"--duration-limit {args.duration_limit:g} s"
            )
    floor_ok = [r for r in results.get("floor-shared", []) if "error" not in r]
    every = [r for runs in results.values() for r in runs if "error" not in r]
    if every:
        peak = max(max(r["gen_cpu_pct"]) for r in every)
        line = (
            f"Load generator: {args.workers} worker process(es), busiest at {peak:.0f}% of one core "
            f"({'well under 100%: not the bottleneck' if peak < 70 else 'NEAR 100%: it may be the bottleneck'})"
        )
        if ok and floor_ok:
            h = sorted(r["rate"] for r in ok)[len(ok) // 2]
            f = sorted(r["rate"] for r in floor_ok)[len(floor_ok) // 2]
            line += (
                f"; with the same generator the bare-uvloop floor server (each turn's broadcasts "
                f"joined once, the same bytes written to every client) reached {fmt_rate(f)}/s, so "
                f"hypersio runs at {100 * h / f:.0f}% of the floor"
            )
        print(line + ".")
        print(
            "deliveries/s = tick events counted by the clients / (last delivery - first send); CPU = server "
            "utime+stime over the phase; latency = receive - send time on ~50 sampled clients; RSS = server "
            "RSS growth while connecting / clients. Side by side with Node and python-socketio: "
            "python benchmarks/run_all.py"
        )
    return 0 if ok and len(ok) == len(mine) and all(r.get("complete") for r in ok) else 1


if __name__ == "__main__":
    sys.exit(server_main())
