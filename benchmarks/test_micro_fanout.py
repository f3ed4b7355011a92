"""Micro-benchmarks of the broadcast fan-out (hypersio.engine.outlet_select), both twins.

Run:  PYTHONPATH=src pytest benchmarks/test_micro_fanout.py --benchmark-columns=min,median,ops

Numbers only: nothing here asserts a speed. 500 WebSocket recipients whose connection buffers
write to a null transport, so what is measured is the server's own work: resolving recipients,
appending the frame to each buffer, and the end-of-turn flush (join + one write per connection).
Divide a row's time by its deliveries (500 or 25,000) for the cost per delivery.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from nulls import NullLoop, NullTransport, fanout_twin

CLIENTS = 500
FRAME_TEXT = '42["tick","xxxxxxxxxxxxxxxx"]'


def _twin(kind: str) -> Any:
    return fanout_twin(kind)


class Msg:
    def __init__(self, frame: bytes) -> None:
        self.ws_frame = frame


class Sock:
    def __init__(self, sid: str, session: Any) -> None:
        self.id = sid
        self.session = session
        self.any_outgoing_listeners = ()


class Setup:
    """CLIENTS WebSocket-like sessions in one namespace: each in its own room, half in "even"."""

    def __init__(self, twin: ModuleType) -> None:
        self.twin = twin

        class Writer(twin.CorkedWriter):  # type: ignore[misc,name-defined]
            __slots__ = ()

            def _write_overflow(self, size: int) -> None:
                raise AssertionError("no overflow in a benchmark")

        class Session(twin.Outlet):  # type: ignore[misc,name-defined]
            __slots__ = ()

        self.corker = twin.Corker(NullLoop())
        self.rooms: dict[str, dict[str, Any]] = {}
        self.members: dict[str, Any] = {}
        self.sockets: dict[str, Any] = {}
        for i in range(CLIENTS):
            w = Writer()
            w._init_writer(self.corker)
            w.transport = NullTransport()
            session = Session()
            session.closed = False
            session.ws_out = w
            sid = f"sid{i:06d}"
            self.sockets[sid] = Sock(sid, session)
            m = self.members[sid] = twin.Member(sid)
            for room in (sid, "even" if i % 2 == 0 else "odd"):
                m.rooms.add(room)
                self.rooms.setdefault(room, {})[sid] = m
        self.msg = [Msg(b"\x81" + bytes((len(FRAME_TEXT),)) + FRAME_TEXT.encode())]
        self.data = ["tick", "x" * 16]

    def broadcast(
        self, to: frozenset[str] = frozenset(), but: frozenset[str] = frozenset(), volatile: bool = False
    ) -> int:
        return self.twin.deliver(self.rooms, self.members, to, but, self.sockets, self.msg, volatile, self.data)


@pytest.fixture(params=["c", "py"], scope="module")
def setup(request: pytest.FixtureRequest) -> Setup:
    return Setup(_twin(request.param))


def test_one_broadcast_per_turn(benchmark: Any, setup: Setup) -> None:
    """sio.emit to all 500, then the flush: 500 deliveries, 500 writes."""

    def turn() -> int:
        n = setup.broadcast()
        setup.corker.flush()
        return n

    assert benchmark(turn) == CLIENTS


def test_fifty_broadcasts_per_turn(benchmark: Any, setup: Setup) -> None:
    """50 broadcasts to all 500, then the flush: 25,000 deliveries, 500 joins and writes."""

    def turn() -> int:
        n = 0
        for _ in range(50):
            n += setup.broadcast()
        setup.corker.flush()
        return n

    assert benchmark(turn) == 50 * CLIENTS


def test_fifty_volatile_broadcasts_per_turn(benchmark: Any, setup: Setup) -> None:
    """As above with the volatile flag: a congestion check per delivery."""

    def turn() -> int:
        n = 0
        for _ in range(50):
            n += setup.broadcast(volatile=True)
        setup.corker.flush()
        return n

    assert benchmark(turn) == 50 * CLIENTS


def test_fifty_broadcasts_except_sender(benchmark: Any, setup: Setup) -> None:
    """socket.broadcast.emit: everyone but the sender's own room."""
    but = frozenset(("sid000000",))

    def turn() -> int:
        n = 0
        for _ in range(50):
            n += setup.broadcast(but=but)
        setup.corker.flush()
        return n

    assert benchmark(turn) == 50 * (CLIENTS - 1)


def test_fifty_broadcasts_to_two_overlapping_rooms(benchmark: Any, setup: Setup) -> None:
    """to("even").to("odd").to(<one sid>): deduplicated union of three rooms."""
    to = frozenset(("even", "odd", "sid000002"))

    def turn() -> int:
        n = 0
        for _ in range(50):
            n += setup.broadcast(to=to)
        setup.corker.flush()
        return n

    assert benchmark(turn) == 50 * CLIENTS
