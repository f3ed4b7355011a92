"""Where a closed-loop ack's server CPU goes, kernel included: hypersio and Node side by side.

    python benchmarks/perf_acks.py [--servers hypersio,node] [--clients 200] [--seconds 12] [--batch 0]

Each server runs the ``acks`` workload of ``run_all.py`` (the same load generator, ``--batch 0``: one
request in flight per client, so one read and one write per ack). While it runs, ``perf`` attaches
to the server process for a window in the middle of the phase:

- ``perf record -g`` (cpu-clock samples with kernel stacks) splits the server's CPU into user space
  and the kernel, and the kernel by what it was doing: sending (``tcp_sendmsg``), and within a send
  the **loopback delivery to the peer** (the softirq that runs the client socket's TCP receive and
  wakes the client, which on a real network is the NIC's and the client machine's work), receiving
  (``tcp_recvmsg``), waiting (``epoll_wait``) and the rest;
- ``perf stat`` counts the server's syscalls by kind;
- ``nstat`` counts TCP segments on the machine (both directions of loopback: 2 per ack is the least).

The shares are applied to the server's CPU per ack over the whole phase (from /proc, as in
``run_all.py``). The last lines give the bound the kernel sets: the ratio to Node that hypersio
would reach if its user space cost nothing, and if it cost what a pipelined ack costs (the per-ack
work that no batching removes). Needs ``perf`` (linux-perf) and root or perf_event_paranoid <= 1.
A benchmark, not a test: run it on a quiet machine, under the benchmark lock.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from hypersio.bench.loadgen import LoadGenerator
from hypersio.bench.runner import describe_build, run_acks

SYSCALLS = ("read", "write", "writev", "readv", "recvfrom", "sendto", "epoll_wait", "epoll_pwait", "epoll_ctl", "futex")

#: Kernel categories, tested in this order on a sample's stack (innermost frame first).
KERNEL_PARTS = (
    ("loopback delivery to the peer (in a send)", ("tcp_sendmsg",), ("net_rx_action", "process_backlog")),
    ("send (own TCP, IP, loopback device)", ("tcp_sendmsg",), ()),
    ("receive (tcp_recvmsg, copy)", ("tcp_recvmsg",), ()),
    ("epoll_wait (incl. sleeping, waking)", ("do_epoll_wait", "ep_poll"), ()),
    ("syscall entry/exit, the VFS part of read/write, interrupts", (), ()),
)


def _stacks(data: Path) -> list[list[tuple[str, bool]]]:
    """The samples of a perf.data file: each a stack of (symbol, is_kernel), innermost first."""
    out = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "ip,sym,dso"], capture_output=True, text=True, check=False
    ).stdout
    stacks: list[list[tuple[str, bool]]] = []
    current: list[tuple[str, bool]] = []
    for raw in out.splitlines():
        line = raw.strip()
        if not line:
            if current:
                stacks.append(current)
                current = []
            continue
        match = re.match(r"[0-9a-f]+\s+(.*?)\s+\((.*)\)$", line)
        if match:
            current.append((match.group(1), "kernel" in match.group(2)))
    if current:
        stacks.append(current)
    return stacks


def attribute(stacks: list[list[tuple[str, bool]]]) -> dict[str, float]:
    """Shares of the samples: ``user`` (the innermost frame outside the kernel) and each kernel part."""
    counts: Counter[str] = Counter()
    for stack in stacks:
        if not stack or not stack[0][1]:
            counts["user"] += 1
            continue
        names = {name.split("+")[0] for name, is_kernel in stack if is_kernel}
        for label, within, inside in KERNEL_PARTS:
            if within and not any(w in names for w in within):
                continue
            if inside and not any(i in names for i in inside):
                continue
            counts[label] += 1
            break
    total = max(1, sum(counts.values()))
    return {key: value / total for key, value in counts.items()}


def nstat_segments() -> int:
    """TCP segments sent on the machine so far (nstat's absolute TcpOutSegs)."""
    out = subprocess.run(["nstat", "-az", "TcpOutSegs"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"TcpOutSegs\s+(\d+)", out)
    return int(match.group(1)) if match else 0


class Probe:
    """perf record + perf stat + nstat over a window of the measured phase, in a thread."""

    def __init__(self, delay: float, window: float, workdir: Path) -> None:
        self.delay, self.window, self.workdir = delay, window, workdir
        self.thread: threading.Thread | None = None
        self.result: dict[str, Any] = {}
        self.nstat_seconds = 0.0

    def start(self, pid: int) -> None:
        self.thread = threading.Thread(target=self._run, args=(pid,), daemon=True)
        self.thread.start()

    def _run(self, pid: int) -> None:
        time.sleep(self.delay)
        data = self.workdir / f"perf-{pid}.data"
        events = ",".join(f"syscalls:sys_enter_{name}" for name in SYSCALLS)
        segs0, t0 = nstat_segments(), time.monotonic()
        record = subprocess.Popen(
            ["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "-g", "-p", str(pid), "-o", str(data), "--"]
            + ["sleep", str(self.window)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stat = subprocess.run(
            ["perf", "stat", "-x", ",", "-e", events, "-p", str(pid), "--", "sleep", str(self.window)],
            capture_output=True,
            text=True,
            check=False,
        )
        segments, seconds = nstat_segments() - segs0, time.monotonic() - t0
        record.wait()
        counts: dict[str, int] = {}
        for line in stat.stderr.splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[0].strip().isdigit() and "sys_enter_" in fields[2]:
                counts[fields[2].split("sys_enter_")[1]] = int(fields[0])
        self.result = {"shares": attribute(_stacks(data)), "syscall_counts": counts, "segments_sent": segments}
        self.nstat_seconds = seconds

    def join(self, rate: float) -> dict[str, Any]:
        """The window's results, counts per ack at the phase's steady ack rate (``rate``/s).

        (The generator's progress counter is not used for the window: it lags by up to 100 ms
        per worker and counts differently per workload.)"""
        if self.thread is not None:
            self.thread.join()
        # perf stat counts for its workload's ``sleep`` (after its own start-up); nstat's two
        # readings span the start-up too.
        counted = max(1.0, rate * self.window)
        self.result["syscalls"] = {name: n / counted for name, n in self.result.get("syscall_counts", {}).items()}
        self.result["segments"] = self.result.get("segments_sent", 0) / max(1.0, rate * self.nstat_seconds)
        return self.result


def table(rows: dict[str, dict[str, Any]]) -> list[str]:
    """The per-ack breakdown, one column per server, in microseconds."""
    names = list(rows)
    lines = ["| per ack | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]

    def line(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    line("server CPU, us (whole phase, /proc)", [f"{rows[n]['cpu_us']:.2f}" for n in names])
    line("acks/s; server CPU%", [f"{rows[n]['rate'] / 1e3:.1f}k; {rows[n]['server_cpu_pct']:.0f}%" for n in names])
    line("user space, us (perf)", [f"{rows[n]['cpu_us'] * rows[n]['shares'].get('user', 0):.2f}" for n in names])
    for label, _, _ in KERNEL_PARTS:
        line(f"kernel: {label}, us", [f"{rows[n]['cpu_us'] * rows[n]['shares'].get(label, 0):.2f}" for n in names])
    line("kernel in all, us", [f"{kernel_us(rows[n]):.2f}" for n in names])
    for name in SYSCALLS:
        if any(rows[n]["syscalls"].get(name, 0) >= 0.005 for n in names):
            line(f"`{name}` calls", [f"{rows[n]['syscalls'].get(name, 0):.2f}" for n in names])
    line("TCP segments (both directions)", [f"{rows[n]['segments']:.2f}" for n in names])
    return lines


def kernel_us(row: dict[str, Any]) -> float:
    return float(row["cpu_us"]) * (1.0 - row["shares"].get("user", 0.0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="hypersio,node")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--batch", type=int, default=0, help="0: closed loop; N: N requests per write, pipelined")
    ap.add_argument("--pipelined-user-us", type=float, default=None, help="hypersio's user us per pipelined ack")
    args = ap.parse_args(argv)
    if shutil.which("perf") is None or shutil.which("nstat") is None:
        raise SystemExit("needs perf (Debian: linux-perf) and nstat (iproute2)")
    print(f"# perf_acks {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {os.getloadavg()[0]:.2f}")
    print(f"# measuring: {describe_build()}", flush=True)
    specs = common.available([s for s in args.servers.split(",") if s])
    gen = LoadGenerator(2)
    rows: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for spec in specs:
                probe = Probe(delay=2.0, window=max(2.0, args.seconds - 4.0), workdir=Path(tmp))
                result = run_acks(
                    spec, gen, clients=args.clients, seconds=args.seconds, batch=args.batch, on_phase=probe.start
                )
                result.update(probe.join(result["rate"]))
                rows[spec.name] = result
                print(f"-- {spec.name}: {result['rate'] / 1e3:.1f}k acks/s, {result['cpu_us']:.2f} us/ack", flush=True)
    finally:
        gen.close()
    print()
    print("\n".join(table(rows)))
    if "hypersio" in rows and "node" in rows:
        ours, node = rows["hypersio"], rows["node"]
        print()
        print(f"ratio now (Node's CPU per ack / hypersio's): {node['cpu_us'] / ours['cpu_us']:.2f}x")
        print(f"ratio if hypersio's user space cost nothing: {node['cpu_us'] / kernel_us(ours):.2f}x")
        if args.pipelined_user_us:
            bound = node["cpu_us"] / (kernel_us(ours) + args.pipelined_user_us)
            print(f"ratio if its user space cost what a pipelined ack does ({args.pipelined_user_us} us): {bound:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
