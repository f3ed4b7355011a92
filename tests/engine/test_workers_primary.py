"""The primary of ``serve --workers N`` routes without blocking: a worker that does not read its
channel (busy or stopped) gets its connections queued in order, and the other workers keep
getting theirs at once. In-process, with socket pairs standing in for the workers."""

from __future__ import annotations

import socket
import time

from hypersio.engine import workers
from hypersio.engine.workers import Primary


class _Idle:
    pid = 0

    def poll(self) -> int | None:
        return None

    def send_signal(self, sig: int) -> None:
        pass


def _primary(n: int) -> tuple[Primary, list[socket.socket]]:
    """A primary with ``n`` started slots; returns the workers' ends of the channels."""
    ends: list[socket.socket] = []

    def start(index: int, channel: socket.socket, primary_fds: list[int]) -> _Idle:
        ends.append(socket.socket(fileno=socket.dup(channel.fileno())))
        return _Idle()

    primary = Primary("127.0.0.1", 0, n, start)
    for slot in primary.slots:
        primary._start_worker(slot)
    return primary, ends


def _connection() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    return a, b


def _head(sid: str | None) -> bytes:
    query = "EIO=4&transport=polling" + (f"&sid={sid}" if sid else "")
    return f"GET /socket.io/?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def _received(end: socket.socket) -> list[bytes]:
    end.setblocking(False)
    heads = []
    while True:
        try:
            head, fds, _, _ = socket.recv_fds(end, 65536, 8)
        except BlockingIOError:
            return heads
        for fd in fds:
            socket.socket(fileno=fd).close()
        heads.append(head)


def test_a_full_channel_neither_blocks_nor_loses_connections() -> None:
    primary, ends = _primary(2)
    keep: list[socket.socket] = []
    try:
        busy_sid = workers.tag_for(1) + "x" * 18
        # Fill worker 1's channel (it reads nothing) until the primary has to queue.
        sent = 0
        t0 = time.monotonic()
        while not primary.slots[1].backlog:
            conn, peer = _connection()
            keep.append(peer)
            primary._route(conn, _head(busy_sid) + str(sent).encode())
            sent += 1
            assert sent < 100_000
        assert time.monotonic() - t0 < 5, "routing to a full channel must not wait"
        queued = [_head(busy_sid) + b"late-%d" % i for i in range(3)]
        for head in queued:
            conn, peer = _connection()
            keep.append(peer)
            primary._route(conn, head)
        # A handshake skips the worker that is not keeping up; worker 0's session goes through.
        for head in (_head(None), _head(workers.tag_for(0) + "y" * 18)):
            conn, peer = _connection()
            keep.append(peer)
            t = time.monotonic()
            primary._route(conn, head)
            assert time.monotonic() - t < 0.5
        assert _received(ends[0]) == [_head(None), _head(workers.tag_for(0) + "y" * 18)]
        backlog = len(primary.slots[1].backlog)
        assert backlog == 1 + len(queued)
        # Worker 1 catches up: the waiting connections follow, oldest first.
        got = _received(ends[1])
        assert len(got) == sent - 1
        primary._flush(primary.slots[1])
        got += _received(ends[1])
        assert got[-len(queued) :] == queued
        assert len(got) == sent + len(queued)
        assert not primary.slots[1].backlog
    finally:
        for slot in primary.slots:
            primary._close_channel(slot)
        for sock in keep + ends:
            sock.close()


def test_connections_waiting_too_long_are_closed() -> None:
    primary, ends = _primary(1)
    try:
        conn, peer = _connection()
        slot = primary.slots[0]
        slot.backlog.append((conn, b"", time.monotonic() - 60))
        primary._selector.register(slot.channel, workers.selectors.EVENT_WRITE, slot)  # type: ignore[arg-type]
        primary._sweep()
        assert not slot.backlog
        peer.settimeout(1)
        assert peer.recv(1) == b""  # closed: the client retries
        peer.close()
    finally:
        primary._close_channel(primary.slots[0])
        for sock in ends:
            sock.close()
