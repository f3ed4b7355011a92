"""Process-level helpers of the benchmarks: fd limits, source addresses, CPU and RSS from /proc.

Shared by the load generator (hypersio.bench.loadgen), the workload runner (hypersio.bench.runner)
and the scripts in benchmarks/.
"""

from __future__ import annotations

import os
import resource
from typing import NamedTuple


def raise_fd_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit (10,000 clients need 10,000 fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


#: File descriptors a load-generator worker or a server keeps for itself (listening socket, pipes,
#: the control connection, the interpreter's own files) when the rest is counted as connections.
FD_MARGIN = 200


def connection_capacity() -> int:
    """How many connections one process can hold here: the RLIMIT_NOFILE hard limit (the soft
    limit is raised to it by :func:`raise_fd_limit`) minus :data:`FD_MARGIN`.

    The hard limit can only be raised by a privileged user (CAP_SYS_RESOURCE), so a benchmark
    asking for more connections than this in one server process is capped to it and says so.
    """
    return max(1, resource.getrlimit(resource.RLIMIT_NOFILE)[1] - FD_MARGIN)


def source_addresses(clients: int, per_address: int = 10_000) -> list[str]:
    """Loopback source addresses 127.0.0.2, 127.0.0.3, ... for ``clients`` connections to one
    server port, ``per_address`` each.

    A TCP connection is unique by (source address, source port, destination): one source address
    has only the ephemeral port range (``net.ipv4.ip_local_port_range``, 28,232 ports by
    default) to connect from, so 100,000 connections to one port need four or more. Every
    127.0.0.0/8 address is the loopback interface on Linux; no configuration is needed.
    """
    count = max(1, -(-clients // max(1, per_address)))
    if count > 250:
        raise ValueError(f"{clients} clients at {per_address} per address need more than 127.0.0.2-127.0.0.251")
    return [f"127.0.0.{2 + i}" for i in range(count)]


class MachineCPU(NamedTuple):
    """CPU seconds the whole machine has spent so far, by kind (the first line of /proc/stat).

    ``busy`` is everything but idle and iowait, niced work included: a benchmark that asks whether
    anything competed with it counts ``busy``; one that lets niced background jobs yield to it
    (they do: the scheduler weights them down) counts ``busy - nice``. ``softirq`` is mostly the
    loopback's TCP, which no process is charged for. ``total`` includes idle.
    """

    busy: float
    nice: float
    softirq: float
    total: float


def machine_cpu() -> MachineCPU:
    """The machine's CPU seconds so far (:class:`MachineCPU`); subtract two readings for a span."""
    with open("/proc/stat") as f:
        # user nice system idle iowait irq softirq steal (guest and guest_nice are inside user, nice)
        fields = [int(x) for x in f.readline().split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(fields)
    idle = fields[3] + fields[4]
    return MachineCPU((total - idle) / tick, fields[1] / tick, fields[6] / tick, total / tick)


def _user_system(pid: int | str) -> tuple[float, float]:
    """utime and stime of a process (all its threads) from /proc/<pid>/stat, in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    fields = raw[raw.rindex(b")") + 2 :].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int | str = "self") -> float:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat, in seconds."""
    return sum(_user_system(pid))


def cpu_split(pid: int) -> tuple[float, float, int]:
    """(user seconds, system seconds, read + write syscalls) of process ``pid`` so far, from
    /proc/<pid>/stat and /proc/<pid>/io: the split of a server's CPU between its own code and the
    kernel, and its syscall count (0 where /proc/<pid>/io cannot be read)."""
    user, system = _user_system(pid)
    calls = 0
    try:
        with open(f"/proc/{pid}/io", "rb") as f:
            for line in f:
                if line.startswith((b"syscr:", b"syscw:")):
                    calls += int(line.split()[1])
    except OSError:
        pass
    return user, system, calls


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (VmRSS from /proc/<pid>/status), in bytes."""
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0
