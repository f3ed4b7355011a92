"""The kernel attribution of benchmarks/perf_acks.py puts a sample where its stack says it belongs,
and the machine's CPU reader (hypersio.bench.procs.machine_cpu) reads /proc/stat by kind."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hypersio.bench.procs import machine_cpu

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
perf_acks = pytest.importorskip("perf_acks")

SEND = [("__dev_queue_xmit", True), ("tcp_sendmsg_locked", True), ("tcp_sendmsg", True), ("ksys_write", True)]
DELIVERY = [("tcp_v4_rcv", True), ("process_backlog", True), ("net_rx_action", True), *SEND]
RECEIVE = [("tcp_recvmsg_locked", True), ("tcp_recvmsg", True), ("ksys_read", True)]
WAIT = [("schedule", True), ("ep_poll", True), ("do_epoll_wait", True)]
ENTRY = [("do_syscall_64", True), ("entry_SYSCALL_64_after_hwframe", True)]
USER = [("_PyEval_EvalFrameDefault", False), ("uv__io_poll", False)]


def test_each_stack_lands_in_its_part() -> None:
    stacks = [SEND, DELIVERY, DELIVERY, RECEIVE, WAIT, ENTRY, USER, USER]
    shares = perf_acks.attribute(stacks)
    parts = [label for label, _, _ in perf_acks.KERNEL_PARTS]
    assert shares["user"] == pytest.approx(2 / 8)
    assert shares[parts[0]] == pytest.approx(2 / 8)  # the peer's receive, inside our send
    assert shares[parts[1]] == pytest.approx(1 / 8)  # our own send
    assert shares[parts[2]] == pytest.approx(1 / 8)
    assert shares[parts[3]] == pytest.approx(1 / 8)
    assert shares[parts[4]] == pytest.approx(1 / 8)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_a_softirq_outside_a_send_is_not_a_delivery() -> None:
    # An interrupt's softirq during a read is the read's, not the loopback delivery of our write.
    shares = perf_acks.attribute([[("net_rx_action", True), *RECEIVE]])
    assert shares == {perf_acks.KERNEL_PARTS[2][0]: 1.0}


def test_machine_cpu_reads_proc_stat_by_kind() -> None:
    first = machine_cpu()
    assert 0 <= first.softirq <= first.busy <= first.total
    assert 0 <= first.nice <= first.busy
    sum(i * i for i in range(200_000))  # some CPU time passes
    second = machine_cpu()
    assert second.total >= first.total and second.busy >= first.busy
