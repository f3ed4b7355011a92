"""The latency-under-load workload: a 20 Hz game tick to thousands of clients in rooms.

Every client joins one room (client k joins room ``k % rooms``); the server runs the control
protocol's ``tick`` workload (benchmarks/servers/node_server.js): every 1/hz seconds it emits one
small event to each room, stamped with the time the tick was due. Every client parses that stamp
from every delivery and records receive time - due time (same machine, same wall clock), so the
percentiles are over all deliveries, measured where a player would see them, and include whatever
the server spent being late. The server's own lateness per tick is reported beside them.

Used by benchmarks/bench_latency.py and the ``latency`` scenario of benchmarks/run_all.py.
"""

from __future__ import annotations

import time
from typing import Any

from hypersio.bench.loadgen import ControlClient, LoadGenerator
from hypersio.bench.procs import MachineCPU, machine_cpu
from hypersio.bench.runner import (
    Say,
    ServerProcess,
    ServerSpec,
    _gen_cpu,
    _latencies,
    _scenario,
    connect_clients,
    percentile,
)


def run_latency(
    spec: ServerSpec,
    gen: LoadGenerator,
    *,
    clients: int = 5000,
    rooms: int = 500,
    hz: float = 20.0,
    seconds: float = 30.0,
    warmup: float = 3.0,
    payload_size: int = 80,
    naive_timer: bool = False,
    say: Say = print,
) -> dict[str, Any]:
    """One run on a fresh server: connect ``clients`` into ``rooms`` rooms, tick at ``hz`` for
    ``warmup`` + ``seconds`` seconds, and measure the last ``seconds`` of it.

    Returns the delivery-latency percentiles (milliseconds), deliveries counted against the
    events the server says it sent, the server's CPU% and tick lateness, and each generator
    worker's CPU% over the measured window, so a reader can tell which side was the limit.
    ``naive_timer`` makes the Python servers arm their tick timer before the tick's writes go out
    (see hypersio.bench.runner._game_tick for why that is late on uvloop).
    """
    result: dict[str, Any] = {
        "server": spec.name,
        "clients": clients,
        "rooms": rooms,
        "hz": hz,
        "seconds": seconds,
        "payload_size": payload_size,
        "naive_timer": naive_timer,
    }
    server = ServerProcess(spec)
    ctl = None
    with _scenario(server, gen, result):
        try:
            ctl = ControlClient("127.0.0.1", server.port)
            room_of: list[int | None] = [k % rooms for k in range(clients)]
            # every client is a sampled client: the percentiles are over every delivery
            conn = connect_clients(server, gen, room_of, "json", say, sample_clients=clients, limit=180.0)
            result.update(conn)
            if conn["failed"]:
                raise RuntimeError(f"{conn['failed']} of {clients} clients failed to connect")
            gen.call("reset", {})
            t_start = time.time()
            ctl.emit(
                "tick",
                {
                    "hz": hz,
                    "seconds": warmup + seconds,
                    "rooms": rooms,
                    "payload_size": payload_size,
                    "naive_timer": naive_timer,
                },
            )
            # The control socket is read in 1 s slices so progress lines and the end of the
            # warm-up happen on time; a timed-out recv leaves the client's buffer intact.
            ctl.sock.settimeout(1.0)
            before: list[dict[str, Any]] | None = None
            cpu0 = t0 = 0.0
            machine0 = MachineCPU(0.0, 0.0, 0.0, 0.0)
            done: dict[str, Any] | None = None
            last_progress, last_t = 0, t_start
            limit = t_start + warmup + seconds + 60.0
            while done is None:
                now = time.time()
                if before is None and now >= t_start + warmup:
                    before = gen.call("clear_latencies", {})
                    cpu0, t0 = server.cpu(), time.time()
                    machine0 = machine_cpu()
                if now > limit:
                    raise TimeoutError("the server never answered 'done'")
                try:
                    done = ctl.wait_event("done", timeout=1.0)[0]
                except TimeoutError:  # a socket timeout is one (Python >= 3.10)
                    progress = gen.progress()
                    rate = (progress - last_progress) / max(1e-9, now - last_t)
                    last_progress, last_t = progress, now
                    say(f"  [{spec.name}] {now - t_start:4.0f}s  delivered {progress:,}  ({rate / 1000:,.1f}k/s)")
            cpu1, t1 = server.cpu(), time.time()
            machine1 = machine_cpu()
            if before is None:  # the server ended before the warm-up did (it cannot, but be exact)
                raise RuntimeError("the tick run ended within the warm-up")
            after = gen.call("wait", {"count": done["count"], "rooms": rooms, "deadline": time.time() + 10.0})
            delivered = sum(r["delivered"] for r in after)
            expected = sum(r["expected"] for r in after)
            lat = _latencies(after)
            skip = round(warmup * hz)
            late = sorted(done["late"][skip:])
            result.update(
                delivered=delivered,
                expected=expected,
                complete=delivered >= expected > 0,
                ticks=done["ticks"],
                ticks_due=done["due"],
                samples=len(lat),
                rate=len(lat) / max(1e-9, t1 - t0),
                p50_ms=1e3 * percentile(lat, 0.50),
                p90_ms=1e3 * percentile(lat, 0.90),
                p99_ms=1e3 * percentile(lat, 0.99),
                p999_ms=1e3 * percentile(lat, 0.999),
                max_ms=1e3 * lat[-1] if lat else float("nan"),
                late_p50_ms=1e3 * percentile(late, 0.5),
                late_max_ms=1e3 * late[-1] if late else float("nan"),
                server_cpu_pct=100.0 * (cpu1 - cpu0) / max(1e-9, t1 - t0),
                # every core's busy time, in % of one core like the others (200 = two cores)
                machine_cpu_pct=100.0 * (machine1.busy - machine0.busy) / max(1e-9, t1 - t0),
                gen_cpu_pct=_gen_cpu(before, after),
                server_alive=server.alive(),
            )
            # The generator's CPU window runs to the end of the wait, a moment past t1; that
            # slightly understates its busy share and is said so in the table's notes.
        finally:
            if ctl is not None:
                ctl.close()
    return result


def limit_of(r: dict[str, Any], cores: int) -> str:
    """Which side bounded a run: the server (one core busy), a generator worker, the machine
    (all cores busy together) or nothing (headroom everywhere)."""
    gen = r.get("gen_cpu_pct") or [0.0]
    ours = r["server_cpu_pct"] + sum(gen)
    machine = r.get("machine_cpu_pct", ours)
    if r["server_cpu_pct"] >= 90:
        return "server CPU (one core)"
    if max(gen) >= 90:
        return "load generator"
    if machine >= 90 * cores:
        others = machine - ours
        return f"machine ({cores} cores busy" + (f", {others:.0f}% others)" if others >= 20 else ")")
    return "none (headroom)"


LATENCY_HEADERS = [
    "server",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
    "p50 vs node",
    "p99 vs node",
    "p99 vs python-socketio",
    "deliveries/s",
    "delivered",
    "server CPU%",
    "loadgen CPU% (per worker)",
    "machine CPU%",
    "tick late p50/max ms",
    "limit",
]


def latency_row(r: dict[str, Any], node: dict[str, Any] | None, pysio: dict[str, Any] | None, cores: int) -> list[str]:
    """One table row; the ratios say how many times lower this server's latency is."""
    if "error" in r:
        return [r["server"], "FAILED: " + r["error"].splitlines()[0][:70]] + [""] * (len(LATENCY_HEADERS) - 2)

    def ratio(base: dict[str, Any] | None, key: str) -> str:
        if not base or "error" in base or not r[key] or r[key] != r[key]:
            return "-"
        return f"{base[key] / r[key]:.2f}x"

    share = f"{100.0 * r['delivered'] / max(1, r['expected']):.2f}%"
    return [
        r["server"],
        f"{r['p50_ms']:.2f}",
        f"{r['p99_ms']:.2f}",
        f"{r['p999_ms']:.2f}",
        f"{r['max_ms']:.1f}",
        ratio(node, "p50_ms"),
        ratio(node, "p99_ms"),
        ratio(pysio, "p99_ms"),
        f"{r['rate'] / 1000:.1f}k",
        share + ("" if r["ticks"] >= r["ticks_due"] else f" ({r['ticks']}/{r['ticks_due']} ticks sent)"),
        f"{r['server_cpu_pct']:.0f}",
        "/".join(f"{p:.0f}" for p in r["gen_cpu_pct"]),
        f"{r['machine_cpu_pct']:.0f}",
        f"{r['late_p50_ms']:.1f}/{r['late_max_ms']:.1f}",
        limit_of(r, cores),
    ]
