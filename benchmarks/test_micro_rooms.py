"""Micro-benchmarks of rooms at scale: the in-memory adapter with 100,000 sockets in 10,000 rooms.

Run:  PYTHONPATH=src pytest benchmarks/test_micro_rooms.py --benchmark-columns=min,median,ops

Numbers only: nothing here asserts a speed. Every socket is in its own room and in one of 10,000
shared rooms (10 sockets each); sessions are WebSocket-like with null transports, so a broadcast
costs what the server itself does (encode once, resolve recipients, append, flush). Each case
runs with the compiled fan-out ("c") and the pure-Python twin ("py"). The index operations
(join, leave, connect, disconnect) are the adapter's Python code in both columns.
"""

from __future__ import annotations

import itertools
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from hypersio import parser
from hypersio.adapters import memory as adapter_mod
from hypersio.adapters.memory import BroadcastOptions, InMemoryAdapter
from hypersio.engine import PreparedMessage
from nulls import NullLoop, NullTransport, fanout_twin

SOCKETS = 100_000
ROOMS = 10_000


def _twin(kind: str) -> Any:
    return fanout_twin(kind)


class Sock:
    def __init__(self, sid: str, session: Any) -> None:
        self.id = sid
        self.session = session
        self.any_outgoing_listeners = ()
        self.connected = True


class World:
    """An adapter over SOCKETS sockets; ``room(k)`` holds sockets k, k + ROOMS, k + 2*ROOMS ..."""

    def __init__(self, twin: ModuleType) -> None:
        self.twin = twin

        class Writer(twin.CorkedWriter):  # type: ignore[misc,name-defined]
            __slots__ = ()

        class Session(twin.Outlet):  # type: ignore[misc,name-defined]
            __slots__ = ()

        self.Writer, self.Session = Writer, Session
        self.corker = twin.Corker(NullLoop())
        ack_ids = itertools.count()
        server = SimpleNamespace(
            connection_state_recovery=None,
            parser=parser,
            prepare_message=PreparedMessage,
        )
        self.nsp = SimpleNamespace(name="/", server=server, sockets={}, next_ack_id=lambda: next(ack_ids))
        with self.patched():
            self.adapter = InMemoryAdapter(self.nsp)  # type: ignore[arg-type]
            for i in range(SOCKETS):
                self.connect(self.sid(i), [self.room(i % ROOMS)])

    def patched(self) -> Any:
        mp = pytest.MonkeyPatch()
        mp.setattr(adapter_mod, "Member", self.twin.Member)
        mp.setattr(adapter_mod, "_fanout_deliver", self.twin.deliver)
        return _Undo(mp)

    @staticmethod
    def sid(i: int) -> str:
        return f"sid-{i:07d}"

    @staticmethod
    def room(k: int) -> str:
        return f"room-{k:05d}"

    def connect(self, sid: str, rooms: list[str]) -> None:
        w = self.Writer()
        w._init_writer(self.corker)
        w.transport = NullTransport()
        session = self.Session()
        session.closed = False
        session.ws_out = w
        self.adapter.add_all(sid, [sid])
        self.nsp.sockets[sid] = Sock(sid, session)
        self.adapter.add_all(sid, rooms)

    def disconnect(self, sid: str) -> None:
        self.adapter.del_all(sid)
        del self.nsp.sockets[sid]

    def emit(self, opts: BroadcastOptions) -> None:
        self.adapter.broadcast(["tick", "x" * 16], opts)
        self.corker.flush()


class _Undo:
    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.mp = mp

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        self.mp.undo()


@pytest.fixture(params=["c", "py"], scope="module")
def world(request: pytest.FixtureRequest) -> Any:
    w = World(_twin(request.param))
    with w.patched():
        yield w


def test_join_and_leave(benchmark: Any, world: World) -> None:
    sid = world.sid(123)
    adapter = world.adapter

    def op() -> None:
        adapter.add_all(sid, ["extra-room"])
        adapter.delete(sid, "extra-room")

    benchmark(op)
    assert adapter.socket_rooms(sid) == {sid, world.room(123)}


def test_connect_and_disconnect(benchmark: Any, world: World) -> None:
    """A socket arriving (own room + one shared room) and leaving again."""

    def op() -> None:
        world.connect("newcomer", [world.room(7)])
        world.disconnect("newcomer")

    benchmark(op)
    assert "newcomer" not in world.adapter.sids and len(world.adapter.rooms[world.room(7)]) == SOCKETS // ROOMS


def test_emit_to_one_room(benchmark: Any, world: World) -> None:
    opts = BroadcastOptions(rooms=frozenset((world.room(42),)))
    benchmark(world.emit, opts)


def test_emit_to_one_socket(benchmark: Any, world: World) -> None:
    """sio.to(sid): the socket's own room."""
    opts = BroadcastOptions(rooms=frozenset((world.sid(99_999),)))
    benchmark(world.emit, opts)


def test_socket_to_room_except_sender(benchmark: Any, world: World) -> None:
    """socket.to(room).emit: the room minus the sender's own room."""
    opts = BroadcastOptions(rooms=frozenset((world.room(42),)), except_rooms=frozenset((world.sid(42),)))
    benchmark(world.emit, opts)


def test_emit_to_ten_rooms(benchmark: Any, world: World) -> None:
    opts = BroadcastOptions(rooms=frozenset(world.room(k) for k in range(10)))
    benchmark(world.emit, opts)


def test_emit_to_ten_rooms_except_five(benchmark: Any, world: World) -> None:
    opts = BroadcastOptions(
        rooms=frozenset(world.room(k) for k in range(10)), except_rooms=frozenset(world.room(k) for k in range(5))
    )
    benchmark(world.emit, opts)


def test_emit_to_everyone(benchmark: Any, world: World) -> None:
    """All 100,000 sockets: one frame appended to each buffer, then 100,000 writes."""
    benchmark.pedantic(world.emit, (BroadcastOptions(),), rounds=5, iterations=1)


def test_emit_to_everyone_except_one_room(benchmark: Any, world: World) -> None:
    opts = BroadcastOptions(except_rooms=frozenset((world.room(0),)))
    benchmark.pedantic(world.emit, (opts,), rounds=5, iterations=1)


def test_fetch_sockets_of_one_room(benchmark: Any, world: World) -> None:
    opts = BroadcastOptions(rooms=frozenset((world.room(42),)))
    found = benchmark(lambda: list(world.adapter._iter_sockets(opts)))
    assert len(found) == SOCKETS // ROOMS
