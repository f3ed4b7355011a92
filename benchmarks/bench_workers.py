"""Every core of one machine: ``serve APP --workers N`` against one process, side by side.

hypersio's benchmark application (``hypersio.bench.runner:build_app``) is served by
``python -m hypersio serve APP --workers N`` (a primary that routes each new connection to a
worker, the workers joined by the local cluster transport) and by ``python -m hypersio serve APP``
(one process, no primary). When Node and tests/js/node_modules are there, the official server is
measured the same way: ``benchmarks/servers/node_sticky_server.js`` (Node's cluster module with
``@socket.io/sticky`` and ``@socket.io/cluster-adapter``) against ``node_server.js`` (one process).
python-socketio has no equivalent of workers. Every run starts a fresh server; the kinds run
interleaved over the repetitions, and the tables show medians and the ratio to the one-process
server of the same family. Scenarios:

  acks     clients emit ``echo`` with an ack in a closed loop (run_all's acks workload)
  pipelined the same requests, ``--ack-batch`` per write with two writes in flight per client
           (run_all's pipelined workload): the generator's cost per ack is a frame walk, so on a
           machine whose cores the generator shares, the servers rather than the clients are the limit
  rooms    clients spread over rooms, each broadcast to one room (run_all's rooms workload); with
           workers the broadcasts start on the worker the control client reached, which encodes
           them once for its clients and once for the cluster; the other worker decodes the
           cluster message and delivers to its own clients
  connect  new WebSocket sessions per second: connect, read the Engine.IO open packet, send the
           Socket.IO CONNECT, read its answer, close; and the primary's CPU per new connection
  polling  long-polling round trips (POST an ``echo`` with an ack, then GET the ack): with workers
           every request is a new TCP connection routed by the primary; one process is measured
           with keep-alive and with a new connection per request

CPU% is utime+stime from /proc of every process (the primary and each worker separately, and the
load generator's processes), over a steady window of the phase, 100 = one core; ``all`` is their
sum (the machine has os.cpu_count() * 100).

Usage:  python benchmarks/bench_workers.py [--quick] [--repeat R] [--only acks,pipelined,rooms,connect,polling]
        [--servers hypersio,hypersio-workers,node,node-sticky] [--workers N] [--markdown] [--json FILE]
Run it with the installed package (``pip install ".[bench]"`` into a fresh venv); the first line
it prints says which hypersio it measured. Servers bind 127.0.0.1; every run is bounded in time
and its processes (and the clients') are stopped whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from hypersio.bench.loadgen import (
    ControlClient,
    LoadGenerator,
    client_frame,
    cpu_seconds,
    raise_fd_limit,
    upgrade_request,
)
from hypersio.bench.procs import machine_cpu
from hypersio.bench.runner import _latencies, describe_build, fmt_rate, free_port, percentile
from run_all import median_of, ratio, render, status

APP = "hypersio.bench.runner:build_app"
PIN_WORKERS = False  # --pin-workers
SCENARIOS = ["acks", "pipelined", "rooms", "connect", "polling"]
KINDS = ["hypersio", "hypersio-workers", "node", "node-sticky"]
Say = Callable[[str], None]


# --------------------------------------------------------------------------- servers


@dataclass
class Kind:
    """One way of serving the benchmark application: ``argv`` gets ``--port P`` appended."""

    name: str
    family: str  # "hypersio" or "node": the ratio column compares with the family's one process
    workers: int  # 0: one process, no primary
    argv: list[str]
    env: dict[str, str]


def server_kinds(workers: int) -> dict[str, Kind]:
    """Every kind this benchmark knows, by its short name."""
    node = [os.environ.get("NODE", "node")]
    node_env = {"NODE_PATH": str(common.NODE_MODULES)}
    serve = [sys.executable, "-m", "hypersio", "serve", APP]
    return {
        "hypersio": Kind("hypersio, 1 process", "hypersio", 0, serve, {}),
        "hypersio-workers": Kind(
            f"hypersio --workers {workers}", "hypersio", workers, [*serve, "--workers", str(workers)], {}
        ),
        "node": Kind("node, 1 process", "node", 0, [*node, str(common.SERVERS / "node_server.js")], node_env),
        "node-sticky": Kind(
            f"node sticky+cluster-adapter, {workers} workers",
            "node",
            workers,
            [*node, str(common.SERVERS / "node_sticky_server.js"), "--workers", str(workers)],
            node_env,
        ),
    }


def available(names: list[str], workers: int) -> list[Kind]:
    """The kinds in ``names`` this machine can run (the Node ones need node and tests/js packages)."""
    import shutil

    kinds = server_kinds(workers)
    chosen = []
    for name in names:
        if name not in kinds:
            raise SystemExit(f"unknown server {name!r}; known: {', '.join(kinds)}")
        if name.startswith("node"):
            needed = common.NODE_MODULES / ("@socket.io/sticky" if name == "node-sticky" else "socket.io")
            if shutil.which(kinds[name].argv[0]) is None or not needed.is_dir():
                print(f"note: skipping {name} (needs node on PATH and npm ci in tests/js)", file=sys.stderr)
                continue
        chosen.append(kinds[name])
    return chosen


def children(pid: int) -> list[int]:
    """Process ids of the direct children of ``pid`` (sorted)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return sorted(int(p) for p in f.read().split())
    except OSError:
        return []


def _probe_tag(port: int) -> str | None:
    """A polling handshake; the first two characters of the session id it gets (the worker tag)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
            s.settimeout(2.0)
            s.sendall(
                b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return None
    at = data.find(b'"sid":"')
    return data[at + 7 : at + 9].decode() if at >= 0 else None


class Served:
    """A running server of one kind: its top process and (with workers) the worker processes.
    ``stop()`` leaves no process of it behind (it runs in its own process group)."""

    def __init__(self, kind: Kind, start_timeout: float = 30.0) -> None:
        self.kind = kind
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        env = dict(os.environ, **kind.env)
        self.proc = subprocess.Popen(
            [*kind.argv, "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            self._wait_ready(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind.name} exited at start:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"{self.kind.name} did not listen within {timeout:g}s") from None
                time.sleep(0.05)
        self.workers: list[int] = []
        if not self.kind.workers:
            return
        while len(self.workers) < self.kind.workers:
            if time.time() > deadline:
                raise RuntimeError(f"{self.kind.name}: only {len(self.workers)} worker processes")
            time.sleep(0.05)
            self.workers = children(self.proc.pid)
        if self.kind.family == "hypersio":
            # The primary listens before its workers serve: wait until every worker answered a
            # handshake (the session ids' tags), then give the local cluster a moment to connect.
            seen: set[str] = set()
            while len(seen) < self.kind.workers:
                if time.time() > deadline:
                    raise RuntimeError(f"{self.kind.name}: handshakes reached only workers {sorted(seen)}")
                tag = _probe_tag(self.port)
                if tag:
                    seen.add(tag)
                else:
                    time.sleep(0.05)
            time.sleep(0.5)
        if PIN_WORKERS:
            # Experiment (--pin-workers): worker i on CPU i, the rest of the machine floating.
            cpus = sorted(os.sched_getaffinity(0))
            for i, pid in enumerate(self.workers):
                os.sched_setaffinity(pid, {cpus[i % len(cpus)]})

    def processes(self) -> dict[str, int]:
        """Name -> pid of every server process: ``server``, or ``primary`` and ``worker i``."""
        if not self.kind.workers:
            return {"server": self.proc.pid}
        return {"primary": self.proc.pid, **{f"worker {i}": pid for i, pid in enumerate(self.workers)}}

    def alive(self) -> bool:
        """Whether the top process and every worker still run."""
        return self.proc.poll() is None and all(os.path.exists(f"/proc/{p}") for p in self.workers)

    def output(self, limit: int = 3000) -> str:
        """The last ``limit`` characters the server printed."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-limit:]

    def stop(self) -> None:
        """SIGTERM to the top process (it stops its workers gracefully), SIGKILL to the whole
        process group after 15 s or once the top process is gone."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers of this server's own group
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(5)
        self.log.close()


def snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds of each named process now, of the machine under ``"machine"``, and the wall
    clock under ``"t"``."""
    # Niced work (other users' background jobs) yields to the benchmark: it is not counted as busy.
    machine = machine_cpu()
    out = {"t": time.time(), "machine": machine.busy - machine.nice, "softirq": machine.softirq}
    for name, pid in pids.items():
        try:
            out[name] = cpu_seconds(pid)
        except OSError:
            out[name] = float("nan")
    return out


def cpu_shares(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """CPU% (100 = one core) of each process between two snapshots."""
    wall = max(1e-9, b["t"] - a["t"])
    return {name: 100.0 * (b[name] - a[name]) / wall for name in a if name != "t"}


def _cpu_fields(shares: dict[str, float], server: list[str], clients: list[str]) -> dict[str, Any]:
    """Flatten CPU shares into result fields: ``cpu_<process>``, the server's and clients' sums."""
    out: dict[str, Any] = {f"cpu_{name.replace(' ', '')}": pct for name, pct in shares.items()}
    out["cpu_softirq"] = shares["softirq"]
    out["cpu_server"] = sum(shares[n] for n in server)
    out["cpu_clients"] = sum(shares[n] for n in clients)
    out["cpu_all"] = out["cpu_server"] + out["cpu_clients"]
    # The rest of the machine: other users' processes (and what the kernel does for nobody's account)
    out["cpu_others"] = out.pop("cpu_machine") - out["cpu_all"] - out["cpu_softirq"]
    return out


# --------------------------------------------------------------------------- acks and rooms


def _send_all(gen: LoadGenerator, name: str, args: list[dict[str, Any]]) -> None:
    for conn, a in zip(gen.conns, args, strict=True):
        conn.send((name, a))


def _collect(gen: LoadGenerator, name: str, timeout: float) -> list[dict[str, Any]]:
    """The replies of every generator worker to the command sent by :func:`_send_all`."""
    replies: list[dict[str, Any] | None] = [None] * len(gen.conns)
    deadline = time.time() + timeout
    while any(r is None for r in replies):
        for i, conn in enumerate(gen.conns):
            if replies[i] is None and conn.poll(0.05):
                replies[i] = conn.recv()
        if time.time() > deadline:
            raise TimeoutError(f"load generator command {name!r} timed out")
        for proc, reply in zip(gen.procs, replies, strict=True):
            if reply is None and not proc.is_alive():
                raise RuntimeError(f"load generator worker died during {name!r}")
    return replies  # type: ignore[return-value]


def _sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.time()))


def _connect(
    srv: Served, gen: LoadGenerator, rooms: list[int | None], say: Say, limit: float = 120.0
) -> dict[str, Any]:
    """Connect one load-generator client per entry of ``rooms`` (see runner.connect_clients)."""
    t0 = time.time()

    def tick(elapsed: float) -> None:
        say(f"  [{srv.kind.name}] connecting... {elapsed:4.0f}s, {gen.connected():,} connected")

    replies = gen.call(
        "connect",
        [
            {
                "host": "127.0.0.1",
                "port": srv.port,
                "rooms": part,
                "sample_every": max(1, len(rooms) // 50),
                "deadline": t0 + limit,
                "timeout": min(60.0, limit),
            }
            for part in gen.split(rooms)
        ],
        tick=tick,
        timeout=limit + 90,
    )
    time.sleep(0.3)  # the servers finish their side of the last handshakes
    return {
        "ok": sum(r["ok"] for r in replies),
        "failed": sum(r["failed"] for r in replies),
        "connect_s": time.time() - t0,
    }


def _gen_pids(gen: LoadGenerator) -> dict[str, int]:
    return {f"loadgen {i}": pid for i, pid in enumerate(gen.pids)}


def run_acks(
    kind: Kind, gen: LoadGenerator, *, clients: int, seconds: float, batch: int = 0, say: Say
) -> dict[str, Any]:
    """The ack workload on a fresh server of ``kind`` (closed loop, or pipelined ``batch`` requests
    per write); CPU over a steady window."""
    result: dict[str, Any] = {"server": kind.name, "clients": clients, "seconds": seconds}
    srv: Served | None = None
    try:
        srv = Served(kind)
        result.update(_connect(srv, gen, [None] * clients, say))
        gen.call("reset", {})
        per_worker = [len(part) for part in gen.split(list(range(result["ok"])))]
        pids = {**srv.processes(), **_gen_pids(gen)}
        t0 = time.time()
        _send_all(gen, "acks", [{"seconds": seconds, "clients": n, "batch": batch} for n in per_worker])
        warm = min(1.0, 0.25 * seconds)
        _sleep_until(t0 + warm)
        s0, p0 = snapshot(pids), gen.progress()
        _sleep_until(t0 + seconds - 0.15)
        s1, p1 = snapshot(pids), gen.progress()
        after = _collect(gen, "acks", seconds + 30)
        acks = sum(r["acks"] for r in after)
        elapsed = max(r["elapsed"] for r in after)
        rtts = _latencies(after, "rtts")
        shares = cpu_shares(s0, s1)
        window_acks = max(1, p1 - p0)
        result.update(
            acks=acks,
            rate=acks / elapsed,
            window_rate=(p1 - p0) / max(1e-9, s1["t"] - s0["t"]),
            p50_ms=1e3 * percentile(rtts, 0.5),
            p99_ms=1e3 * percentile(rtts, 0.99),
            complete=acks > 0 and result["failed"] == 0,
            alive=srv.alive(),
            **_cpu_fields(shares, list(srv.processes()), list(_gen_pids(gen))),
        )
        result["cpu_us"] = 1e4 * result["cpu_server"] * (s1["t"] - s0["t"]) / window_acks
        result["gen_us"] = 1e4 * result["cpu_clients"] * (s1["t"] - s0["t"]) / window_acks
    except Exception as exc:  # a failing server is a result to report, not a crash of the suite
        result["error"] = f"{type(exc).__name__}: {exc}"
        if srv is not None and not srv.alive():
            result["error"] += "\n" + srv.output()
    finally:
        try:
            gen.call("drop", {}, timeout=30)
        finally:
            if srv is not None:
                srv.stop()
    return result


def run_rooms(
    kind: Kind,
    gen: LoadGenerator,
    *,
    clients: int,
    rooms: int,
    broadcasts: int,
    per_turn: int,
    payload_size: int,
    duration_limit: float,
    say: Say,
) -> dict[str, Any]:
    """The rooms workload (runner.run_fanout with rooms) on a fresh server of ``kind``."""
    result: dict[str, Any] = {"server": kind.name, "clients": clients, "rooms": rooms, "broadcasts": broadcasts}
    srv: Served | None = None
    ctl: ControlClient | None = None
    try:
        srv = Served(kind)
        result.update(_connect(srv, gen, [k % rooms for k in range(clients)], say))
        # After the clients: an idle control connection would miss its heartbeats (and be closed
        # after 45 s) while a slow server connects 10,000 clients.
        ctl = ControlClient("127.0.0.1", srv.port)
        gen.call("reset", {})
        pids = {**srv.processes(), **_gen_pids(gen)}
        s0 = snapshot(pids)
        deadline = s0["t"] + duration_limit
        ctl.emit("start", {"count": broadcasts, "per_turn": per_turn, "payload_size": payload_size, "rooms": rooms})
        _send_all(gen, "wait", [{"count": broadcasts, "rooms": rooms, "deadline": deadline}] * len(gen.conns))
        after = _collect(gen, "wait", duration_limit + 30)
        s1 = snapshot(pids)
        try:
            t0 = float(ctl.wait_event("done", timeout=max(1.0, deadline - time.time()))[0]["t0"])
        except (TimeoutError, OSError, ConnectionError):
            t0 = s0["t"]
        delivered = sum(r["delivered"] for r in after)
        expected = sum(r["expected"] for r in after)
        last = max((r["last_recv"] for r in after), default=0.0)
        lat = _latencies(after)
        shares = cpu_shares(s0, s1)
        result.update(
            delivered=delivered,
            expected=expected,
            complete=delivered >= expected > 0,
            rate=delivered / max(1e-9, last - t0),
            p50_ms=1e3 * percentile(lat, 0.5),
            p99_ms=1e3 * percentile(lat, 0.99),
            alive=srv.alive(),
            **_cpu_fields(shares, list(srv.processes()), list(_gen_pids(gen))),
        )
        result["cpu_us"] = 1e4 * result["cpu_server"] * (s1["t"] - s0["t"]) / max(1, delivered)
        result["gen_us"] = 1e4 * result["cpu_clients"] * (s1["t"] - s0["t"]) / max(1, delivered)
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        if srv is not None and not srv.alive():
            result["error"] += "\n" + srv.output()
    finally:
        if ctl is not None:
            ctl.close()
        try:
            gen.call("drop", {}, timeout=30)
        finally:
            if srv is not None:
                srv.stop()
    return result


# --------------------------------------------------------------------------- routing-cost clients


class _WsSession(asyncio.Protocol):
    """Opens one Socket.IO session over WebSocket, reads the answer to its CONNECT and closes."""

    def __init__(self, request: bytes, done: asyncio.Future[bool]) -> None:
        self.request = request
        self.done = done
        self.buf = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(False)

    def _finish(self, ok: bool) -> None:
        if not self.done.done():
            self.done.set_result(ok)
        self.transport.close()  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._finish(False)
                return
            self.upgraded = True
            buf = buf[end + 4 :]
        pos = 0
        while len(buf) - pos >= 2:
            length = buf[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if len(buf) - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                start = pos + 4
            elif length == 127:
                if len(buf) - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                start = pos + 10
            if start + length > len(buf):
                break
            payload = buf[start : start + length]
            pos = start + length
            if payload[:1] == b"0":  # Engine.IO open: join namespace "/"
                self.transport.write(client_frame(b"40"))  # type: ignore[union-attr]
            elif payload[:2] == b"40":
                self._finish(True)
                return
            elif payload[:2] == b"44" or payload[:1] == b"1":
                self._finish(False)
                return
        self.buf = buf[pos:]


class _Http(asyncio.Protocol):
    """A minimal HTTP/1.1 client connection: one request at a time, Content-Length bodies."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed before the response"))

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Send one request; the future gets (status, body)."""
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)  # type: ignore[union-attr]
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = self.buf[:end].lower()
        at = head.find(b"content-length:")
        if at < 0:
            self.waiter.set_exception(ConnectionError(f"response without Content-Length: {self.buf[:200]!r}"))
            return
        length = int(head[at + 15 : head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else len(head)])
        if len(self.buf) < end + 4 + length:
            return
        body = self.buf[end + 4 : end + 4 + length]
        status = int(self.buf[9:12])
        self.buf = self.buf[end + 4 + length :]
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_result((status, body))


def _http_request(method: str, target: str, body: bytes, keepalive: bool) -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "Connection: keep-alive\r\n" if keepalive else "Connection: close\r\n"
    if method == "POST":
        head += f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


class _PollingSession:
    """One Engine.IO long-polling session: handshake, CONNECT, then POST/GET round trips."""

    def __init__(self, port: int, keepalive: bool) -> None:
        self.port = port
        self.keepalive = keepalive
        self.conn: _Http | None = None

    async def call(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        """One request, on the kept-alive connection or on a new one (closed after the answer)."""
        loop = asyncio.get_running_loop()
        if self.conn is None or self.conn.lost:
            _, self.conn = await loop.create_connection(_Http, "127.0.0.1", self.port)
        conn = self.conn
        try:
            return await asyncio.wait_for(conn.request(_http_request(method, target, body, self.keepalive)), 10.0)
        finally:
            if not self.keepalive:
                conn.transport.close()  # type: ignore[union-attr]
                self.conn = None

    async def run(self, t_end: float, w0: float, w1: float, stats: dict[str, Any]) -> None:
        """Round trips until ``t_end``; those finishing in [w0, w1] are counted in ``stats``."""
        base = "/socket.io/?EIO=4&transport=polling"
        while time.time() < t_end:
            try:
                status, body = await self.call("GET", base)
                if status != 200 or not body.startswith(b"0"):
                    raise ConnectionError(f"handshake answered {status} {body[:60]!r}")
                target = f"{base}&sid={json.loads(body[1:])['sid']}"
                status, _ = await self.call("POST", target, b"40")
                status2, body = await self.call("GET", target)
                if status != 200 or status2 != 200 or b"40" not in body:
                    raise ConnectionError(f"CONNECT answered {status2} {body[:60]!r}")
                n = 0
                while time.time() < t_end:
                    n += 1
                    t0 = time.time()
                    status, _ = await self.call("POST", target, b'42%d["echo",%d]' % (n, n))
                    if status != 200:
                        raise ConnectionError(f"POST answered {status}")
                    want = b"43%d[" % n
                    while True:
                        status, body = await self.call("GET", target)
                        if status != 200:
                            raise ConnectionError(f"GET answered {status} {body[:60]!r}")
                        if want in body:
                            break
                        if b"\x1e2" in body or body == b"2":  # a ping got there first: pong
                            await self.call("POST", target, b"3")
                    t1 = time.time()
                    if w0 <= t1 <= w1:
                        stats["ops"] += 1
                        stats["lat"].append(t1 - t0)
            except (OSError, ConnectionError, TimeoutError, ValueError, KeyError) as exc:
                stats["failures"] += 1
                stats["last_error"] = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.01)


async def _connect_loop(port: int, t_end: float, w0: float, w1: float, stats: dict[str, Any]) -> None:
    """Open WebSocket sessions one after the other until ``t_end``."""
    loop = asyncio.get_running_loop()
    while time.time() < t_end:
        t0 = time.time()
        done: asyncio.Future[bool] = loop.create_future()
        try:
            await loop.create_connection(
                lambda: _WsSession(upgrade_request("127.0.0.1", port), done), "127.0.0.1", port
            )
            ok = await asyncio.wait_for(done, 10.0)
        except (OSError, TimeoutError) as exc:
            ok = False
            stats["last_error"] = f"{type(exc).__name__}: {exc}"
        t1 = time.time()
        if not ok:
            stats["failures"] += 1
            await asyncio.sleep(0.01)
        elif w0 <= t1 <= w1:
            stats["ops"] += 1
            stats["lat"].append(t1 - t0)


def _client_main(conn: Any, mode: str, port: int, concurrency: int, t_start: float, times: tuple[float, ...]) -> None:
    """A routing-cost client process: ``concurrency`` loops of ``mode`` from ``t_start`` on."""
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    t_end, w0, w1 = times
    stats: dict[str, Any] = {"ops": 0, "failures": 0, "lat": array("d"), "last_error": ""}

    async def main() -> None:
        await asyncio.sleep(max(0.0, t_start - time.time()))
        if mode == "connect":
            loops = [_connect_loop(port, t_end, w0, w1, stats) for _ in range(concurrency)]
        else:
            keepalive = mode == "poll-keepalive"
            loops = [_PollingSession(port, keepalive).run(t_end, w0, w1, stats) for _ in range(concurrency)]
        await asyncio.wait_for(asyncio.gather(*loops), t_end - time.time() + 20)

    try:
        asyncio.run(main())
    except Exception as exc:
        stats["last_error"] = f"client: {type(exc).__name__}: {exc}"
    stats["lat"] = stats["lat"].tobytes()
    conn.send(stats)


def run_routing(kind: Kind, mode: str, *, processes: int, concurrency: int, seconds: float, say: Say) -> dict[str, Any]:
    """New WebSocket sessions (``mode`` "connect") or polling round trips ("poll-keepalive",
    "poll-fresh") for ``seconds`` from ``processes`` client processes against a fresh server."""
    result: dict[str, Any] = {"server": kind.name, "mode": mode, "concurrency": processes * concurrency}
    srv: Served | None = None
    procs: list[Any] = []
    pipes: list[Any] = []
    try:
        srv = Served(kind)
        ctx = multiprocessing.get_context("fork")
        t_start = time.time() + 1.0
        warm = min(1.0, 0.25 * seconds)
        t_end = t_start + seconds
        w0, w1 = t_start + warm, t_end - 0.2
        for _ in range(processes):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_client_main, args=(child, mode, srv.port, concurrency, t_start, (t_end, w0, w1)), daemon=True
            )
            proc.start()
            procs.append(proc)
            pipes.append(parent)
        clients = {f"client {i}": p.pid for i, p in enumerate(procs)}
        pids = {**srv.processes(), **clients}
        _sleep_until(w0)
        s0 = snapshot(pids)
        _sleep_until(w1)
        s1 = snapshot(pids)
        replies = []
        for pipe in pipes:
            if not pipe.poll(max(1.0, t_end + 25 - time.time())):
                raise TimeoutError("a routing-cost client did not report")
            replies.append(pipe.recv())
        ops = sum(r["ops"] for r in replies)
        window = s1["t"] - s0["t"]
        lat = _latencies(replies, "lat")
        shares = cpu_shares(s0, s1)
        requests = ops * (2 if mode != "connect" else 1)  # a polling round trip is a POST and a GET
        result.update(
            ops=ops,
            failures=sum(r["failures"] for r in replies),
            last_error=next((r["last_error"] for r in replies if r["last_error"]), ""),
            rate=ops / window,
            p50_ms=1e3 * percentile(lat, 0.5),
            p99_ms=1e3 * percentile(lat, 0.99),
            complete=ops > 0,
            alive=srv.alive(),
            **_cpu_fields(shares, list(srv.processes()), list(clients)),
        )
        result["cpu_us"] = 1e4 * result["cpu_server"] * window / max(1, ops)
        result["primary_us_per_request"] = (
            1e4 * shares["primary"] * window / max(1, requests) if "primary" in shares else float("nan")
        )
        if result["failures"]:
            say(f"   note: {result['failures']} failures, last: {result['last_error'][:200]}")
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        if srv is not None and not srv.alive():
            result["error"] += "\n" + srv.output()
    finally:
        for proc in procs:
            proc.join(max(0.1, t_end + 25 - time.time()) if procs else 0)
            if proc.is_alive():
                proc.kill()
                proc.join(2)
        if srv is not None:
            srv.stop()
    return result


# --------------------------------------------------------------------------- tables


def _cpu_cols(runs: list[dict[str, Any]], workers: int) -> list[str]:
    """Median CPU% of the primary, each worker (the one process under "worker 0"), clients, all."""
    one = not any("cpu_primary" in r for r in runs if "error" not in r)
    cols = ["-" if one else f"{median_of(runs, 'cpu_primary'):.0f}"]
    for i in range(workers):
        key = "cpu_server" if one and i == 0 else f"cpu_worker{i}"
        cols.append("-" if one and i else f"{median_of(runs, key):.0f}")
    cols += [f"{median_of(runs, key):.0f}" for key in ("cpu_clients", "cpu_all", "cpu_softirq", "cpu_others")]
    return cols


def _cpu_headers(workers: int, clients: str) -> list[str]:
    return [
        "CPU% primary",
        *(f"CPU% worker {i}" for i in range(workers)),
        f"CPU% {clients}",
        "CPU% all",
        "CPU% softirq",
        "CPU% other users",
    ]


def _base(results: dict[str, list[dict[str, Any]]], kinds: list[Kind], family: str) -> float:
    for kind in kinds:
        if kind.family == family and not kind.workers and kind.name in results:
            return median_of(results[kind.name], "rate")
    return float("nan")


def scenario_table(
    title: str, unit: str, results: dict[str, list[dict[str, Any]]], kinds: list[Kind], workers: int, markdown: bool
) -> str:
    """Medians per kind for the acks and rooms scenarios."""
    headers = [
        "server",
        unit,
        "vs 1 process",
        *_cpu_headers(workers, "loadgen (2 procs)"),
        "server CPU us/op",
        "loadgen CPU us/op",
        "p50 ms",
        "p99 ms",
    ]
    rows = []
    by_name = {k.name: k for k in kinds}
    for name, runs in results.items():
        rate = median_of(runs, "rate")
        rows.append(
            [
                name,
                fmt_rate(rate) + status(runs),
                ratio(rate, _base(results, kinds, by_name[name].family)),
                *_cpu_cols(runs, workers),
                f"{median_of(runs, 'cpu_us'):.2f}",
                f"{median_of(runs, 'gen_us'):.2f}",
                f"{median_of(runs, 'p50_ms'):.1f}",
                f"{median_of(runs, 'p99_ms'):.1f}",
            ]
        )
    return f"{title}\n\n" + render(headers, rows, markdown)


def routing_table(title: str, unit: str, results: dict[str, list[dict[str, Any]]], workers: int, markdown: bool) -> str:
    """Medians per kind and client mode for the connect and polling scenarios."""
    headers = [
        "server",
        unit,
        "p50 ms",
        "p99 ms",
        *_cpu_headers(workers, "clients (2 procs)"),
        "server CPU us/op",
        "primary CPU us/request",
        "failures",
    ]
    rows = []
    for name, runs in results.items():
        primary = median_of(runs, "primary_us_per_request")
        rows.append(
            [
                name,
                fmt_rate(median_of(runs, "rate")) + status(runs),
                f"{median_of(runs, 'p50_ms'):.2f}",
                f"{median_of(runs, 'p99_ms'):.2f}",
                *_cpu_cols(runs, workers),
                f"{median_of(runs, 'cpu_us'):.1f}",
                "-" if primary != primary else f"{primary:.1f}",
                f"{median_of(runs, 'failures'):.0f}",
            ]
        )
    return f"{title}\n\n" + render(headers, rows, markdown)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios over the chosen kinds, interleaved; print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, one repetition: a smoke run")
    ap.add_argument("--repeat", type=int, default=None, help="repetitions per kind (default 3; quick 1)")
    ap.add_argument("--servers", default=",".join(KINDS), help="kinds: " + ",".join(KINDS))
    ap.add_argument("--only", default=",".join(SCENARIOS), help="scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    ap.add_argument("--ack-clients", type=int, default=None, help="closed-loop ack clients (default 200; quick 50)")
    ap.add_argument("--ack-seconds", type=float, default=None, help="ack phase (default 5; quick 2)")
    ap.add_argument("--ack-batch", type=int, default=128, help="pipelined: requests per write (default 128)")
    ap.add_argument("--room-clients", type=int, default=None, help="rooms clients (default 10000; quick 1000)")
    ap.add_argument("--rooms", type=int, default=None, help="rooms (default 1000; quick 100)")
    ap.add_argument("--room-broadcasts", type=int, default=None, help="broadcasts (default 20000; quick 2000)")
    ap.add_argument("--per-turn", type=int, default=50, help="broadcasts per loop turn (default 50)")
    ap.add_argument("--payload-size", type=int, default=16)
    ap.add_argument("--routing-seconds", type=float, default=None, help="connect/polling phase (default 5; quick 2)")
    ap.add_argument("--concurrency", type=int, default=16, help="routing-cost loops per client process (default 16)")
    ap.add_argument("--loadgen", type=int, default=2, help="load generator / client processes (default 2)")
    ap.add_argument("--duration-limit", type=float, default=60.0, help="per-run cap on the rooms delivery wait (s)")
    ap.add_argument("--pin-workers", action="store_true", help="pin worker i to CPU i once started (an experiment)")
    ap.add_argument("--allow-pure", action="store_true", help="run even without hypersio's compiled extensions")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument("--json", help="also write every raw result to this file")
    args = ap.parse_args(argv)
    global PIN_WORKERS
    PIN_WORKERS = args.pin_workers

    q = args.quick

    def pick(value: Any, full: Any, quick: Any) -> Any:
        """The option's value if given, else the full or the quick default."""
        return value if value is not None else (quick if q else full)

    repeat = pick(args.repeat, 3, 1)
    ack_clients, ack_seconds = pick(args.ack_clients, 200, 50), pick(args.ack_seconds, 5.0, 2.0)
    room_clients, rooms = pick(args.room_clients, 10_000, 1000), pick(args.rooms, 1000, 100)
    room_broadcasts = pick(args.room_broadcasts, 20_000, 2000)
    routing_seconds = pick(args.routing_seconds, 5.0, 2.0)
    only = [s for s in args.only.split(",") if s]
    for s in only:
        if s not in SCENARIOS:
            raise SystemExit(f"unknown scenario {s!r}; known: {', '.join(SCENARIOS)}")
    import hypersio

    if not hypersio.HAS_SPEEDUPS and not args.allow_pure:
        raise SystemExit(f"refusing to benchmark: {describe_build()}; install it (pip install .) or pass --allow-pure")
    hard = raise_fd_limit()  # the servers inherit it: 10,000 clients need 10,000 descriptors
    if room_clients + 100 > hard:
        print(f"warning: RLIMIT_NOFILE hard limit {hard} is below the client count", file=sys.stderr)
    kinds = available([s for s in args.servers.split(",") if s], args.workers)
    print(
        f"# hypersio workers benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"{repeat} interleaved repetition(s); servers: {', '.join(k.name for k in kinds)}\n"
        f"# measuring: {describe_build()}",
        flush=True,
    )

    def say(line: str) -> None:
        print(line, flush=True)

    titles = {
        "acks": f"Request/response: {ack_clients} clients emitting with acks in a closed loop for {ack_seconds:g} s",
        "pipelined": f"Request/response, pipelined: {ack_clients} clients, {args.ack_batch} requests per write, "
        f"2 writes in flight each, {ack_seconds:g} s",
        "rooms": f"Rooms: {room_clients} clients in {rooms} rooms, {room_broadcasts} broadcasts each to one room, "
        f"{args.per_turn} per loop turn, payload {args.payload_size} B",
        "connect": f"New WebSocket sessions (connect, CONNECT answered, close): {args.loadgen} processes x "
        f"{args.concurrency} loops for {routing_seconds:g} s",
        "polling": f"Long-polling round trips (POST an echo with an ack, GET the ack): {args.loadgen} processes x "
        f"{args.concurrency} sessions for {routing_seconds:g} s",
    }
    all_results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    tables: list[str] = []
    gen = LoadGenerator(args.loadgen) if {"acks", "pipelined", "rooms"} & set(only) else None

    def variants(scenario: str) -> list[tuple[str, Kind, str]]:
        """(row name, kind, client mode) of every row of a scenario."""
        if scenario in ("acks", "pipelined", "rooms", "connect"):
            return [(k.name, k, "connect") for k in kinds]
        rows = []
        for k in kinds:
            if k.workers:
                rows.append((f"{k.name} (new connection per request)", k, "poll-fresh"))
            else:
                rows.append((f"{k.name}, keep-alive", k, "poll-keepalive"))
                rows.append((f"{k.name}, new connection per request", k, "poll-fresh"))
        return rows

    try:
        for scenario in only:
            say(f"\n== {titles[scenario]}")
            rows = variants(scenario)
            results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in rows}
            for rep in range(repeat):
                for name, kind, mode in rows:
                    say(f"-- {scenario} run {rep + 1}/{repeat}: {name}")
                    try:
                        if scenario in ("acks", "pipelined"):
                            assert gen is not None
                            batch = args.ack_batch if scenario == "pipelined" else 0
                            r = run_acks(kind, gen, clients=ack_clients, seconds=ack_seconds, batch=batch, say=say)
                        elif scenario == "rooms":
                            assert gen is not None
                            r = run_rooms(
                                kind,
                                gen,
                                clients=room_clients,
                                rooms=rooms,
                                broadcasts=room_broadcasts,
                                per_turn=args.per_turn,
                                payload_size=args.payload_size,
                                duration_limit=args.duration_limit,
                                say=say,
                            )
                        else:
                            r = run_routing(
                                kind,
                                mode,
                                processes=args.loadgen,
                                concurrency=args.concurrency,
                                seconds=routing_seconds,
                                say=say,
                            )
                    except Exception as exc:  # the generator itself broke: record it, start a fresh one
                        r = {"server": name, "error": f"load generator: {type(exc).__name__}: {exc}"}
                        if gen is not None:
                            gen.close()
                            gen = LoadGenerator(args.loadgen)
                    results[name].append(r)
                    if "error" in r:
                        say(f"   FAILED: {r['error'][:600]}")
                    else:
                        cpu = ", ".join(
                            f"{key[4:]} {value:.0f}"
                            for key, value in r.items()
                            if key.startswith("cpu_") and key != "cpu_us"
                        )
                        say(
                            f"   {fmt_rate(r['rate'])}/s, p99 {r['p99_ms']:.2f} ms; CPU% {cpu}"
                            + ("" if r.get("complete") else "  (INCOMPLETE)")
                        )
            all_results[scenario] = results
            if scenario in ("acks", "pipelined", "rooms"):
                unit = "deliveries/s" if scenario == "rooms" else "acks/s"
                tables.append(scenario_table(titles[scenario], unit, results, kinds, args.workers, args.markdown))
            else:
                unit = "sessions/s" if scenario == "connect" else "round trips/s"
                tables.append(routing_table(titles[scenario], unit, results, args.workers, args.markdown))
            say("\n" + tables[-1] + "\n")
            if args.json:
                Path(args.json).write_text(json.dumps(all_results, indent=1, default=str))
    finally:
        if gen is not None:
            gen.close()

    print("\n\n# Results (medians over the repetitions)\n")
    for t in tables:
        print(t + "\n")
    print(
        "CPU% = utime+stime over a steady window of the phase, 100 = one core, per process (one process: under "
        "'worker 0'); 'all' = every server and load-generator process together, of "
        f"{100 * (os.cpu_count() or 1)} on this machine; softirq = the kernel's softirq time (/proc/stat), mostly "
        "the loopback's TCP, charged to no process; other users = the machine's busy time less 'all', softirq and "
        "niced time. server CPU us/op = all server processes' CPU per ack, "
        "delivery, session or round trip. primary CPU us/request = the primary's CPU per routed HTTP request or "
        "WebSocket connection. Latency: ack round trip, send -> receipt of a tick, connect -> CONNECT answered, "
        "or POST -> GET answered."
    )
    for scenario in ("acks", "pipelined", "rooms"):
        res = all_results.get(scenario, {})
        for family in ("hypersio", "node"):
            one = next((k for k in kinds if k.family == family and not k.workers), None)
            many = next((k for k in kinds if k.family == family and k.workers), None)
            if one is None or many is None:
                continue
            a, b = median_of(res.get(many.name, []), "rate"), median_of(res.get(one.name, []), "rate")
            if a == a and b == b and b:
                line = f"{scenario}: {many.name} / {one.name} = {a / b:.2f}x measured"
                if family == "hypersio" and scenario != "rooms":
                    line += f" (the issue's target, >= 1.7x, {'is met' if a >= 1.7 * b else 'is NOT met'})"
                us_one, us_many = median_of(res[one.name], "cpu_us"), median_of(res[many.name], "cpu_us")
                if us_one == us_one and us_many == us_many and us_many:
                    line += f"; server CPU per op {us_many:.2f} us against {us_one:.2f} in one process"
                print(line + ".")
    if args.json:
        Path(args.json).write_text(json.dumps(all_results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
