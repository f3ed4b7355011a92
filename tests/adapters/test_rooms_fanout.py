"""hypersio.engine.outlet_select, both twins: corked output buffers, the corker, and the broadcast fan-out loop.

The fan-out is checked recipient by recipient on small hand-built room indexes, and against a
brute-force model (hypothesis) for random rooms, targets and exclusions.
"""

from __future__ import annotations

from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _support import load_twin


@pytest.fixture(params=["c", "py"])
def fanout_twin(request: pytest.FixtureRequest) -> Any:
    """The outlet and rooms twins of one kind together: the buffers and the walk that fills them."""
    outlet, rooms = load_twin("outlet", request.param), load_twin("rooms", request.param)
    return SimpleNamespace(
        **{n: getattr(outlet, n) for n in outlet.__all__}, **{n: getattr(rooms, n) for n in rooms.__all__}
    )


# --------------------------------------------------------------------------- fakes


class FakeLoop:
    """Collects call_soon callbacks; run() plays them like the end of a loop turn."""

    def __init__(self) -> None:
        self.callbacks: list[Any] = []

    def call_soon(self, cb: Any, *args: Any) -> None:
        self.callbacks.append((cb, args))

    def run(self) -> None:
        callbacks, self.callbacks = self.callbacks, []
        for cb, args in callbacks:
            cb(*args)


class FakeTransport:
    """Records writes; like asyncio's transports it pauses the protocol past its high-water mark."""

    def __init__(self, protocol: Any = None, high_water: int = 0) -> None:
        self.protocol = protocol
        self.high_water = high_water
        self.writes: list[bytes] = []
        self.backlog = 0
        self.closing = False
        self.closed = False
        self.size_calls = 0

    def write(self, data: bytes) -> None:
        assert isinstance(data, bytes)
        self.writes.append(data)
        if self.protocol is not None and self.backlog > self.high_water:
            self.protocol.pause_writing()

    def get_write_buffer_size(self) -> int:
        self.size_calls += 1
        return self.backlog

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closed = True
        self.closing = True


def make_writer(twin: ModuleType, corker: Any, high_water: int = 1000, hard_limit: int = 5000) -> Any:
    class Writer(twin.CorkedWriter):  # type: ignore[misc,name-defined]
        __slots__ = ("overflows",)

        def __init__(self) -> None:
            self._init_writer(corker, high_water, hard_limit)
            self.overflows: list[int] = []
            self.transport = FakeTransport(self, high_water)

        def _write_overflow(self, size: int) -> None:
            self.overflows.append(size)

    return Writer()


class Msg:
    """Stand-in for engine.PreparedMessage: counts how often each wire form is built."""

    def __init__(self, data: str) -> None:
        self.data = data
        self.ws_builds = 0

    @property
    def ws_frame(self) -> bytes:
        self.ws_builds += 1
        return b"F:" + self.data.encode()


def make_ws_session(twin: ModuleType, writer: Any) -> Any:
    class Session(twin.Outlet):  # type: ignore[misc,name-defined]
        __slots__ = ("sent",)

        def __init__(self) -> None:
            self.closed = False
            self.ws_out = writer
            self.sent: list[tuple[Any, bool]] = []

        def send_prepared(self, msg: Any, volatile: bool = False) -> None:
            self.sent.append((msg, volatile))

    return Session()


class PlainSession:
    """A session that is not an Outlet (e.g. a test fake): the fan-out calls send_prepared."""

    def __init__(self) -> None:
        self.closed = False
        self.sent: list[tuple[Any, bool]] = []

    def send_prepared(self, msg: Any, volatile: bool = False) -> None:
        self.sent.append((msg, volatile))


class FakeSocket:
    def __init__(self, sid: str, session: Any) -> None:
        self.id = sid
        self.session = session
        self.any_outgoing_listeners: tuple[Any, ...] = ()
        self.notified: list[tuple[Any, list[Any]]] = []

    def notify_outgoing(self, event: Any, args: list[Any]) -> None:
        self.notified.append((event, list(args)))
        for fn in self.any_outgoing_listeners:
            fn(event, *args)


class Index:
    """A tiny room index built the way the adapter builds it, for driving deliver() directly."""

    def __init__(self, twin: ModuleType) -> None:
        self.twin = twin
        self.rooms: dict[str, dict[str, Any]] = {}
        self.members: dict[str, Any] = {}
        self.sockets: dict[str, FakeSocket] = {}

    def add(self, sid: str, session: Any, *rooms: str, own: bool = True) -> FakeSocket:
        member = self.members[sid] = self.twin.Member(sid)
        sock = self.sockets[sid] = FakeSocket(sid, session)
        member.own = own  # its own room is a flag of the member, not an index entry
        for room in rooms:
            if member.rooms is None:
                member.rooms = set()
            member.rooms.add(room)
            self.rooms.setdefault(room, {})[sid] = member
        return sock

    def deliver(
        self,
        prepared: list[Any],
        to: tuple[str, ...] = (),
        but: tuple[str, ...] = (),
        volatile: bool = False,
        data: list[Any] | None = None,
        on_client: Any = None,
        ack_id: int = 0,
    ) -> int:
        return self.twin.deliver(
            self.rooms,
            self.members,
            frozenset(to),
            frozenset(but),
            self.sockets,
            prepared,
            volatile,
            data if data is not None else ["ev", 1],
            on_client,
            ack_id,
        )


# --------------------------------------------------------------------------- output buffers


def test_writes_of_a_turn_leave_in_one_write(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    corker = fanout_twin.Corker(loop)
    a, b = make_writer(fanout_twin, corker), make_writer(fanout_twin, corker)
    a.write(b"one")
    a.write(b"two")
    b.write(b"three")
    assert len(loop.callbacks) == 1  # one flush scheduled for the whole turn
    assert a._out_size == 6 and a.transport.writes == []
    loop.run()
    assert a.transport.writes == [b"onetwo"] and b.transport.writes == [b"three"]
    assert a._out == [] and a._out_size == 0 and not a._corked
    a.write(b"again")
    assert len(loop.callbacks) == 1
    loop.run()
    assert a.transport.writes == [b"onetwo", b"again"] and b.transport.writes == [b"three"]


def test_single_buffered_item_is_written_as_is(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    w = make_writer(fanout_twin, fanout_twin.Corker(loop))
    frame = b"x" * 100
    w.write(frame)
    loop.run()
    assert w.transport.writes[0] is frame  # no join, no copy


def test_hard_limit_closes_at_end_of_turn_and_drops_later_writes(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    w = make_writer(fanout_twin, fanout_twin.Corker(loop), high_water=10, hard_limit=20)
    w.write(b"a" * 15)
    w.write(b"b" * 15)
    assert w.write_closed
    w.write(b"dropped")
    assert w._out_size == 30
    loop.run()
    assert w.overflows == [30] and w.transport.writes == []


def test_transport_backlog_past_hard_limit_is_an_overflow(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    w = make_writer(fanout_twin, fanout_twin.Corker(loop), high_water=10, hard_limit=20)
    w.transport.backlog = 25
    w.write(b"abc")
    loop.run()
    assert w.transport.writes == [b"abc"] and w.overflows == [25]


def test_close_after_flush(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    w = make_writer(fanout_twin, fanout_twin.Corker(loop))
    w.write(b"last words")
    w.close_after_flush()
    w.write(b"too late")
    loop.run()
    assert w.transport.writes == [b"last words"] and w.transport.closed


def test_nothing_written_to_a_closing_transport(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    w = make_writer(fanout_twin, fanout_twin.Corker(loop))
    w.write(b"x")
    w.transport.closing = True
    loop.run()
    assert w.transport.writes == [] and w._out_size == 0


def test_congestion(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    w = make_writer(fanout_twin, fanout_twin.Corker(loop), high_water=100, hard_limit=1000)
    assert not w.congested()
    w.transport.backlog = 50  # the transport keeps 50 bytes of what we write now
    w.write(b"x" * 10)
    loop.run()
    w.write(b"x" * 60)
    assert w.congested() and w.buffered_size() == 110  # the transport's backlog counts too
    w.transport.backlog = 0  # ... until it drains: then the answer follows at once
    assert not w.congested()
    w.pause_writing()
    assert w.congested()
    w.resume_writing()
    assert not w.congested()


def test_congestion_check_asks_the_transport_once_per_turn_when_clearly_under(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    w = make_writer(fanout_twin, fanout_twin.Corker(loop), high_water=100, hard_limit=1000)
    w.write(b"x" * 10)
    loop.run()
    assert w.transport.size_calls == 0  # not paused: no need to ask at flush time
    for _ in range(5):
        assert not w.congested()
        w.write(b"y")
    assert w.transport.size_calls == 1


def test_corker_flushes_items_marked_during_the_flush(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    corker = fanout_twin.Corker(loop)
    w = make_writer(fanout_twin, corker)

    class Poll:
        def __init__(self) -> None:
            self.flushed = 0

        def flush_output(self) -> None:
            self.flushed += 1
            w.write(b"answer")  # a polling transport answering into its HTTP connection

    poll = Poll()
    corker.mark(poll)
    loop.run()
    assert poll.flushed == 1 and w.transport.writes == [b"answer"]
    assert loop.callbacks == []


def test_corker_survives_a_failing_item(fanout_twin: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    loop = FakeLoop()
    corker = fanout_twin.Corker(loop)

    class Broken:
        def flush_output(self) -> None:
            raise RuntimeError("boom")

    w = make_writer(fanout_twin, corker)
    corker.mark(Broken())
    w.write(b"ok")
    loop.run()
    assert w.transport.writes == [b"ok"]
    assert "error while flushing" in caplog.text
    w.write(b"next turn")
    assert len(loop.callbacks) == 1


# --------------------------------------------------------------------------- fan-out


def _ws_setup(twin: ModuleType, n: int) -> tuple[FakeLoop, Index, list[Any]]:
    loop = FakeLoop()
    corker = twin.Corker(loop)
    index = Index(twin)
    writers = []
    for i in range(n):
        w = make_writer(twin, corker, high_water=100, hard_limit=1000)
        writers.append(w)
        index.add(f"s{i}", make_ws_session(twin, w), "even" if i % 2 == 0 else "odd", f"mod3-{i % 3}")
    return loop, index, writers


def test_broadcast_to_everyone_builds_the_frame_once(fanout_twin: ModuleType) -> None:
    loop, index, writers = _ws_setup(fanout_twin, 6)
    msg = Msg("hello")
    assert index.deliver([msg]) == 6
    assert msg.ws_builds == 1
    assert all(w._out == [b"F:hello"] for w in writers)
    assert all(w._out[0] is writers[0]._out[0] for w in writers)  # the same bytes object
    loop.run()
    assert [w.transport.writes for w in writers] == [[b"F:hello"]] * 6


def test_rooms_union_and_exclusions(fanout_twin: ModuleType) -> None:
    _, index, writers = _ws_setup(fanout_twin, 6)
    assert index.deliver([Msg("a")], to=("even",)) == 3
    assert index.deliver([Msg("b")], to=("even", "mod3-0")) == 4  # s0 s2 s3 s4, s0 once
    assert index.deliver([Msg("c")], but=("odd",)) == 3
    # even + mod3-1 = s0 s1 s2 s4; minus s4 and minus mod3-2 (s2 s5) -> s0 s1
    assert index.deliver([Msg("d")], to=("even", "mod3-1"), but=("s4", "mod3-2")) == 2
    assert index.deliver([Msg("e")], to=("nope",)) == 0
    assert index.deliver([Msg("f")], to=("s5",), but=("s5",)) == 0
    got = [[f.decode()[2:] for f in w._out] for w in writers]
    assert got == [
        ["a", "b", "c", "d"],  # s0: even, mod3-0
        ["d"],  # s1: odd, mod3-1
        ["a", "b", "c"],  # s2: even, mod3-2
        ["b"],  # s3: odd, mod3-0
        ["a", "b", "c"],  # s4: even, mod3-1 (excluded from d)
        [],  # s5: odd, mod3-2
    ]


def test_each_recipient_once_per_broadcast_with_many_rooms(fanout_twin: ModuleType) -> None:
    _, index, writers = _ws_setup(fanout_twin, 6)
    assert index.deliver([Msg("x")], to=("even", "odd", "mod3-0", "mod3-1", "mod3-2", "s1")) == 6
    assert [len(w._out) for w in writers] == [1] * 6
    # stamps from that broadcast do not leak into the next one
    assert index.deliver([Msg("y")], to=("even", "odd")) == 6


def test_unbound_member_binds_on_first_broadcast_and_missing_socket_is_skipped(fanout_twin: ModuleType) -> None:
    _, index, writers = _ws_setup(fanout_twin, 2)
    member = index.members["s0"]
    assert member.socket is None
    del index.sockets["s1"]  # joined its rooms, not registered (yet)
    assert index.deliver([Msg("x")]) == 1
    assert member.socket is index.sockets["s0"]
    assert writers[1]._out == []


def test_dead_member_is_skipped(fanout_twin: ModuleType) -> None:
    _, index, writers = _ws_setup(fanout_twin, 3)
    index.members["s1"].alive = False
    assert index.deliver([Msg("x")]) == 2
    assert writers[1]._out == []


def test_closed_session_counts_but_gets_nothing(fanout_twin: ModuleType) -> None:
    _, index, writers = _ws_setup(fanout_twin, 2)
    index.sockets["s0"].session.closed = True
    assert index.deliver([Msg("x")]) == 2  # like send_prepared on a closed session: a no-op
    assert writers[0]._out == [] and writers[1]._out == [b"F:x"]


def test_polling_and_foreign_sessions_get_send_prepared(fanout_twin: ModuleType) -> None:
    index = Index(fanout_twin)
    polling = make_ws_session(fanout_twin, None)  # an Outlet without a WebSocket buffer
    plain = PlainSession()
    index.add("p", polling)
    index.add("q", plain)
    m1, m2 = Msg("one"), Msg("two")
    assert index.deliver([m1, m2], volatile=True) == 2
    # two parts (binary attachments): never volatile, in order
    assert polling.sent == [(m1, False), (m2, False)] and plain.sent == [(m1, False), (m2, False)]
    assert index.deliver([m1], volatile=True) == 2
    assert polling.sent[-1] == (m1, True) and plain.sent[-1] == (m1, True)
    assert m1.ws_builds == 0  # no WebSocket recipient: the frame is never built


def test_volatile_is_dropped_for_congested_connections_only(fanout_twin: ModuleType) -> None:
    _, index, writers = _ws_setup(fanout_twin, 3)
    writers[1].pause_writing()
    writers[2].write(b"y" * 150)  # past high water (100)
    assert index.deliver([Msg("v")], volatile=True) == 3
    assert writers[0]._out == [b"F:v"] and writers[1]._out == [] and writers[2]._out == [b"y" * 150]
    index.deliver([Msg("n")])
    assert writers[1]._out == [b"F:n"] and writers[2]._out[-1] == b"F:n"


def test_hard_limit_during_a_broadcast(fanout_twin: ModuleType) -> None:
    loop, index, writers = _ws_setup(fanout_twin, 2)
    big = Msg("z" * 600)
    index.deliver([big])
    index.deliver([big])  # 1204 > 1000: write-closed, closed at the end of the turn
    index.deliver([big])
    assert all(w.write_closed and len(w._out) == 2 for w in writers)
    loop.run()
    assert [w.overflows for w in writers] == [[1204], [1204]]


def test_multi_part_message_goes_whole_and_in_order(fanout_twin: ModuleType) -> None:
    _, index, writers = _ws_setup(fanout_twin, 2)
    parts = [Msg("head"), Msg("att1"), Msg("att2")]
    assert index.deliver(parts, volatile=True) == 2
    writers[0].pause_writing()  # congested, but binary packets are never volatile
    assert index.deliver(parts, volatile=True) == 2
    assert writers[0]._out == [b"F:head", b"F:att1", b"F:att2"] * 2
    assert [p.ws_builds for p in parts] == [2, 2, 2]  # once per broadcast


def test_on_client_and_outgoing_listeners_run_per_recipient_before_the_write(fanout_twin: ModuleType) -> None:
    _, index, writers = _ws_setup(fanout_twin, 3)
    order: list[Any] = []
    s1 = index.sockets["s1"]
    s1.any_outgoing_listeners = (lambda ev, *args: order.append(("out", ev, args, list(writers[1]._out))),)

    def on_client(sock: Any, ack_id: int) -> None:
        order.append(("ack", sock.id, ack_id))

    assert index.deliver([Msg("x")], to=("s1", "s2"), data=["ev", 1, 2], on_client=on_client, ack_id=7) == 2
    assert ("ack", "s1", 7) in order and ("ack", "s2", 7) in order
    assert ("out", "ev", (1, 2), []) in order  # listener ran before the frame was appended
    assert order.index(("ack", "s1", 7)) < order.index(("out", "ev", (1, 2), []))
    assert s1.notified == [("ev", [1, 2])] and index.sockets["s2"].notified == []


def test_outgoing_listeners_of_a_socket_without_instance_dict(fanout_twin: ModuleType) -> None:
    class SlottedSocket:
        __slots__ = ("id", "session", "any_outgoing_listeners", "notified")

        def __init__(self, sid: str, session: Any) -> None:
            self.id = sid
            self.session = session
            self.any_outgoing_listeners: tuple[Any, ...] = ()
            self.notified: list[Any] = []

        def notify_outgoing(self, event: Any, args: list[Any]) -> None:
            self.notified.append((event, list(args)))

    index = Index(fanout_twin)
    index.add("a", PlainSession())
    sock = index.sockets["a"] = SlottedSocket("a", PlainSession())
    assert index.deliver([Msg("x")], data=["ev", 1]) == 1
    assert sock.notified == []
    sock.any_outgoing_listeners = (print,)  # added after the member was bound: still seen
    assert index.deliver([Msg("x")], data=["ev", 2]) == 1
    assert sock.notified == [("ev", [2])]


def test_nested_fanout_keeps_the_outer_deduplication(fanout_twin: ModuleType) -> None:
    _, index, writers = _ws_setup(fanout_twin, 6)
    inner_counts: list[int] = []

    def listener(ev: Any, *args: Any) -> None:
        if ev == "outer":  # a listener broadcasting to rooms the outer one is still walking
            inner_counts.append(index.deliver([Msg("inner")], to=("even", "odd"), data=["inner"]))

    index.sockets["s0"].any_outgoing_listeners = (listener,)
    assert index.deliver([Msg("outer")], to=("even", "mod3-0", "odd"), data=["outer"]) == 6
    assert inner_counts == [6]
    outer = [sum(f == b"F:outer" for f in w._out) for w in writers]
    inner = [sum(f == b"F:inner" for f in w._out) for w in writers]
    assert outer == [1] * 6 and inner == [1] * 6


# --------------------------------------------------------------------------- against a model

SIDS = [f"s{i}" for i in range(12)]
ROOMS = ["r0", "r1", "r2", "r3", "r4"]
room_names = st.sampled_from(ROOMS + SIDS[:3])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    # A socket may join another one's own room (s0..s2), and leave its own.
    memberships=st.lists(st.sets(room_names, max_size=4), min_size=0, max_size=len(SIDS)),
    targets=st.sets(room_names, max_size=4),
    excepts=st.sets(room_names, max_size=3),
    dead=st.sets(st.sampled_from(SIDS), max_size=3),
    left_own=st.sets(st.sampled_from(SIDS), max_size=3),
)
def test_recipients_match_a_brute_force_model(
    fanout_twin: ModuleType,
    memberships: list[set[str]],
    targets: set[str],
    excepts: set[str],
    dead: set[str],
    left_own: set[str],
) -> None:
    index = Index(fanout_twin)
    sessions = {}
    for sid, rooms in zip(SIDS, memberships):
        sessions[sid] = PlainSession()
        index.add(sid, sessions[sid], *sorted(rooms - {sid}), own=sid not in left_own)
    for sid in dead:
        if sid in index.members:
            index.members[sid].alive = False
    msg = Msg("m")
    count = index.deliver([msg], to=tuple(targets), but=tuple(excepts))

    def rooms_of(sid: str) -> set[str]:
        member = index.members[sid]
        return set(member.rooms or ()) | ({sid} if member.own else set())

    expected = {
        sid
        for sid in index.members
        if (not targets or rooms_of(sid) & targets) and not (rooms_of(sid) & excepts) and sid not in dead
    }
    got = {sid for sid, s in sessions.items() if s.sent}
    assert got == expected and count == len(expected)
    assert all(len(s.sent) == 1 for sid, s in sessions.items() if sid in expected)


# --------------------------------------------------------------------------- the adapter over both twins


class AdapterWorld:
    """An InMemoryAdapter over fake WebSocket sessions, its fan-out taken from one twin."""

    def __init__(self, twin: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
        from types import SimpleNamespace

        from hypersio import parser
        from hypersio.adapters import memory as adapter_mod

        monkeypatch.setattr(adapter_mod, "Member", twin.Member)
        monkeypatch.setattr(adapter_mod, "_fanout_deliver", twin.deliver)
        monkeypatch.setattr(adapter_mod, "_leave_rooms", twin.leave_rooms)
        self.twin = twin
        self.loop = FakeLoop()
        self.corker = twin.Corker(self.loop)
        server = SimpleNamespace(connection_state_recovery=None, parser=parser, prepare_message=Msg)
        self.nsp = SimpleNamespace(name="/", server=server, sockets={}, next_ack_id=lambda: 1)
        self.adapter = adapter_mod.InMemoryAdapter(self.nsp)  # type: ignore[arg-type]
        self.writers: dict[str, Any] = {}

    def connect(self, sid: str) -> FakeSocket:
        w = self.writers[sid] = make_writer(self.twin, self.corker, high_water=1 << 20, hard_limit=1 << 24)
        sock = FakeSocket(sid, make_ws_session(self.twin, w))
        self.adapter.add_all(sid, [sid])
        self.nsp.sockets[sid] = sock
        return sock

    def disconnect(self, sid: str) -> None:
        self.adapter.del_all(sid)
        self.nsp.sockets.pop(sid, None)

    def received(self) -> dict[str, list[str]]:
        """Events each socket got since the last call (frames are "F:" + packet text)."""
        got = {}
        for sid, w in self.writers.items():
            got[sid] = [frame.decode()[2:] for frame in w._out]
            w._out.clear()
            w._out_size = 0
        return got


def test_adapter_defers_index_changes_made_during_a_fanout(
    fanout_twin: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hypersio.adapters.memory import BroadcastOptions

    world = AdapterWorld(fanout_twin, monkeypatch)
    socks = [world.connect(f"s{i}") for i in range(4)]
    for sock in socks:
        world.adapter.add_all(sock.id, ["room"])

    def listener(event: Any, *args: Any) -> None:
        # during the fan-out: s1 leaves everything, s0 joins "later", s2 leaves "room"
        world.disconnect("s1")
        world.adapter.add_all("s0", ["later"])
        world.adapter.delete("s2", "room")

    socks[0].any_outgoing_listeners = (listener,)
    world.adapter.broadcast(["ev"], BroadcastOptions(rooms=frozenset(("room",))))
    got = world.received()
    # s0 ran first in the room; s1 was gone at once; s2 still got it (leaving waits for the end)
    assert got == {"s0": ['2["ev"]'], "s1": [], "s2": ['2["ev"]'], "s3": ['2["ev"]']}
    assert "s1" not in world.adapter.sids
    assert world.adapter.socket_rooms("s0") == {"s0", "room", "later"}
    assert world.adapter.socket_rooms("s2") == {"s2"}
    assert set(world.adapter.rooms["room"]) == {"s0", "s3"}


def test_own_rooms_are_member_flags_and_read_as_rooms(fanout_twin: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """A socket's own room costs no index entry, yet reads, broadcasts and room events see it."""
    from hypersio.adapters.memory import BroadcastOptions

    world = AdapterWorld(fanout_twin, monkeypatch)
    events: list[tuple[str, str]] = []
    world.adapter.on("create-room", lambda room: events.append(("create", room)))
    world.adapter.on("delete-room", lambda room: events.append(("delete", room)))
    joins: list[tuple[str, str, bool]] = []
    world.adapter.membership_observers.append(lambda room, sid, joined: joins.append((room, sid, joined)))
    for sid in ("s0", "s1", "s2"):
        world.connect(sid)
    assert world.adapter._rooms == {} and world.adapter.sids["s0"].rooms is None  # nothing stored
    assert events == [("create", "s0"), ("create", "s1"), ("create", "s2")]
    assert set(world.adapter.rooms) == {"s0", "s1", "s2"} and len(world.adapter.rooms) == 3

    world.adapter.add_all("s0", ["s1"])  # s0 joins the room named after s1: it exists already
    assert events[3:] == [] and joins[-1] == ("s1", "s0", True)
    assert set(world.adapter.rooms["s1"]) == {"s0", "s1"}
    assert world.adapter.socket_rooms("s0") == {"s0", "s1"}
    world.adapter.broadcast(["a"], BroadcastOptions(rooms=frozenset(("s1",))))
    assert world.received() == {"s0": ['2["a"]'], "s1": ['2["a"]'], "s2": []}
    world.adapter.broadcast(["b"], BroadcastOptions(rooms=frozenset(("s1", "s0"))))
    assert world.received() == {"s0": ['2["b"]'], "s1": ['2["b"]'], "s2": []}  # s0 once
    world.adapter.broadcast(["c"], BroadcastOptions(except_rooms=frozenset(("s1",))))
    assert world.received() == {"s0": [], "s1": [], "s2": ['2["c"]']}

    world.adapter.delete("s1", "s1")  # s1 leaves its own room, s0 is still in it
    assert world.adapter.socket_rooms("s1") == set() and set(world.adapter.rooms["s1"]) == {"s0"}
    assert events[3:] == [] and joins[-1] == ("s1", "s1", False)
    world.adapter.broadcast(["d"], BroadcastOptions(rooms=frozenset(("s1",))))
    assert world.received() == {"s0": ['2["d"]'], "s1": [], "s2": []}
    world.disconnect("s0")  # the last one in room s1, and in its own
    assert sorted(events[3:]) == [("delete", "s0"), ("delete", "s1")]
    assert set(world.adapter.rooms) == {"s2"} and "s1" not in world.adapter.rooms
    world.adapter.add_all("s1", ["s1"])  # back in its own room
    assert events[-1] == ("create", "s1") and world.adapter.socket_rooms("s1") == {"s1"}
    with pytest.raises(KeyError):
        world.adapter.rooms["s0"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(
        st.one_of(
            # room_names: a socket may also join another one's own room, or leave its own
            st.tuples(st.just("join"), st.integers(0, 7), room_names),
            st.tuples(st.just("leave"), st.integers(0, 7), room_names),
            st.tuples(st.just("connect"), st.integers(0, 7), st.just("")),
            st.tuples(st.just("disconnect"), st.integers(0, 7), st.just("")),
            st.tuples(
                st.just("emit"),
                st.sets(st.sampled_from(ROOMS + ["s0", "s1"]), max_size=3),
                st.sets(st.sampled_from(ROOMS + ["s2"]), max_size=2),
            ),
        ),
        max_size=40,
    )
)
def test_adapter_matches_a_model_over_random_operations(fanout_twin: ModuleType, ops: list[Any]) -> None:
    from hypersio.adapters.memory import BroadcastOptions

    with pytest.MonkeyPatch.context() as mp:
        world = AdapterWorld(fanout_twin, mp)
        model: dict[str, set[str]] = {}  # sid -> rooms
        # The rooms that exist according to the create-room / delete-room events.
        existing: set[str] = set()

        def created(room: str) -> None:
            assert room not in existing, f"{room} created twice"
            existing.add(room)

        world.adapter.on("create-room", created)
        world.adapter.on("delete-room", existing.remove)
        for n, (op, a, b) in enumerate(ops):
            if op == "emit":
                world.adapter.broadcast([f"e{n}"], BroadcastOptions(rooms=frozenset(a), except_rooms=frozenset(b)))
                expected = {sid for sid, rooms in model.items() if (not a or rooms & a) and not rooms & b}
                got = world.received()
                assert {sid for sid, events in got.items() if events} == expected
                assert all(len(events) == 1 for events in got.values() if events)
                continue
            sid = f"s{a}"
            if op == "connect" and sid not in model:
                world.connect(sid)
                model[sid] = {sid}
            elif op == "disconnect" and sid in model:
                world.disconnect(sid)
                del model[sid]
            elif op == "join" and sid in model:
                world.adapter.add_all(sid, [b])
                model[sid].add(b)
            elif op == "leave" and sid in model:
                world.adapter.delete(sid, b)
                model[sid].discard(b)
        assert {sid: world.adapter.socket_rooms(sid) for sid in model} == model
        index: dict[str, set[str]] = {}
        for sid, rooms in model.items():
            for room in rooms:
                index.setdefault(room, set()).add(sid)
        assert {room: set(group) for room, group in world.adapter.rooms.items()} == index
        assert existing == set(index) and len(world.adapter.rooms) == len(index)
        assert all(room in world.adapter.rooms for room in index) and "nope" not in world.adapter.rooms
        assert {s.id for s in world.adapter._iter_sockets(BroadcastOptions())} == set(model)


# --------------------------------------------------------------------------- on the wire


async def test_broadcast_over_a_real_server_reaches_websocket_and_polling_clients() -> None:
    """WebSocket clients get the frame from the fan-out, polling ones the polling record."""
    import asyncio
    import base64
    import json

    aiohttp = pytest.importorskip("aiohttp")
    import hypersio

    sio = hypersio.Server(ping_interval=20, ping_timeout=20)
    joined: list[Any] = []

    @sio.on("connection")
    def on_conn(socket: Any) -> None:
        socket.join("room")
        joined.append(socket)

    await sio.listen("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sio.engine.port}/socket.io/?EIO=4"
    try:
        async with aiohttp.ClientSession() as http:
            wss = []
            for _ in range(2):
                ws = await http.ws_connect(f"{base}&transport=websocket")
                assert (await ws.receive(timeout=2)).data.startswith("0{")
                await ws.send_str("40")
                assert (await ws.receive(timeout=2)).data.startswith("40{")
                wss.append(ws)
            async with http.get(f"{base}&transport=polling") as res:
                sid = json.loads((await res.text())[1:])["sid"]
            poll = f"{base}&transport=polling&sid={sid}"
            async with http.post(poll, data="40") as res:
                assert res.status == 200
            async with http.get(poll) as res:
                assert (await res.text()).startswith("40{")
            assert len(joined) == 3

            sio.volatile.emit("dropped-for-polling")  # no GET pending: dropped for the poller only
            sio.to("room").emit("hello", 1)
            sio.emit("bin", b"\x00\xff")
            joined[0].broadcast.emit("not-for-first")
            expected = [
                '42["dropped-for-polling"]',
                '42["hello",1]',
                '451-["bin",{"_placeholder":true,"num":0}]',
                b"\x00\xff",
            ]
            assert [(await wss[0].receive(timeout=2)).data for _ in range(4)] == expected
            assert [(await wss[1].receive(timeout=2)).data for _ in range(5)] == [*expected, '42["not-for-first"]']
            with pytest.raises(asyncio.TimeoutError):
                await wss[0].receive(timeout=0.2)  # the sender's own room was excluded
            async with http.get(poll) as res:
                body = (await res.text()).split("\x1e")
            assert body == [
                '42["hello",1]',
                '451-["bin",{"_placeholder":true,"num":0}]',
                "b" + base64.b64encode(b"\x00\xff").decode(),
                '42["not-for-first"]',
            ]
            for ws in wss:
                await ws.close()
            await asyncio.sleep(0)
    finally:
        await sio.close()


# --------------------------------------------------------------------------- Outlet.send


def test_outlet_send_frames_messages_into_the_websocket_buffer(fanout_twin: ModuleType) -> None:
    # The per-message path of acks and socket.emit: text gets the Engine.IO "4" inside a text
    # frame, bytes a binary frame, both appended to the connection buffer and written at turn end.
    loop = FakeLoop()
    w = make_writer(fanout_twin, fanout_twin.Corker(loop))
    session = make_ws_session(fanout_twin, w)
    session.send("3[1]")
    session.send(b"\x01\x02")
    session.send(bytearray(b"\x03"))
    assert w.transport.writes == []
    loop.run()
    assert w.transport.writes == [b"\x81\x0543[1]" + b"\x82\x02\x01\x02" + b"\x82\x01\x03"]
    assert session.sent == []  # nothing went through send_prepared


def test_outlet_send_on_closed_session_or_closed_writer_sends_nothing(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    w = make_writer(fanout_twin, fanout_twin.Corker(loop))
    session = make_ws_session(fanout_twin, w)
    session.closed = True
    session.send("2")
    w.close_after_flush()
    session.closed = False
    session.send("2")
    loop.run()
    assert w.transport.writes == [] and w.transport.closed


def test_outlet_send_volatile_is_dropped_while_congested(fanout_twin: ModuleType) -> None:
    loop = FakeLoop()
    w = make_writer(fanout_twin, fanout_twin.Corker(loop), high_water=100, hard_limit=1000)
    session = make_ws_session(fanout_twin, w)
    w.pause_writing()  # the transport passed its high-water mark: the peer stopped reading
    session.send("dropped", True)
    session.send("kept")
    loop.run()
    assert w.transport.writes == [b"\x81\x054kept"]


def test_outlet_send_without_websocket_goes_to_the_transport(fanout_twin: ModuleType) -> None:
    class Polling:
        def __init__(self) -> None:
            self.queued: list[tuple[Any, bool]] = []

        def send_message(self, data: Any, volatile: bool) -> None:
            self.queued.append((data, volatile))

    session = fanout_twin.Outlet()
    session.closed = False
    session.ws_out = None
    session.carrier = Polling()
    session.send("a")
    session.send(b"b", True)
    assert session.carrier.queued == [("a", False), (b"b", True)]


# --------------------------------------------------------------------------- deliver_messages


def _receiving_session(twin: ModuleType, ws: object, got: list[Any]) -> Any:
    class Session(twin.Outlet):  # type: ignore[misc,name-defined]
        __slots__ = ("adopted",)

        def __init__(self) -> None:
            self.id = "s1"
            self.closed = False
            self.ws_out = None
            self.carrier = ws
            self.awaiting_pong = False
            self.adopted: list[Any] = []

            def record(text: str) -> Any:
                got.append(text)
                if text == "close me":
                    self.closed = True
                if text == "later":
                    return "an awaitable stand-in"
                return None

            self.message_handlers = (record,)

        def adopt(self, result: Any) -> None:
            self.adopted.append(result)

    return Session()


def test_deliver_messages_takes_the_leading_message_frames(fanout_twin: ModuleType) -> None:
    ws, got = object(), []
    session = _receiving_session(fanout_twin, ws, got)
    frames = [(1, "4a"), (1, "4later"), (1, "2"), (1, "4b"), (2, b"x")]
    # the ping packet "2" is the general path's: the two messages before it are delivered
    assert fanout_twin.deliver_messages(session, ws, frames) == 2
    assert got == ["a", "later"] and session.adopted == ["an awaitable stand-in"]
    assert fanout_twin.deliver_messages(session, ws, [(1, "4c"), (1, "4")]) == 2
    assert got[2:] == ["c", ""]
    assert fanout_twin.deliver_messages(session, ws, [(2, b"4x")]) == 0  # binary: general path
    assert fanout_twin.deliver_messages(session, ws, []) == 0


def test_deliver_messages_stops_when_the_session_state_changes(fanout_twin: ModuleType) -> None:
    ws, got = object(), []
    session = _receiving_session(fanout_twin, ws, got)
    # a handler closed the session: what follows is left to the general path (which drops it)
    assert fanout_twin.deliver_messages(session, ws, [(1, "4close me"), (1, "4after")]) == 1
    assert got == ["close me"]
    session.closed = False
    session.awaiting_pong = True  # the general path restarts the pong deadline first
    assert fanout_twin.deliver_messages(session, ws, [(1, "4x")]) == 0
    session.awaiting_pong = False
    assert fanout_twin.deliver_messages(session, object(), [(1, "4x")]) == 0  # another transport
    assert got == ["close me"]


def test_deliver_messages_logs_a_failing_handler_and_goes_on(
    fanout_twin: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    ws, got = object(), []
    session = _receiving_session(fanout_twin, ws, got)

    def failing(text: str) -> None:
        raise ValueError(text)

    session.message_handlers = (failing, session.message_handlers[0])
    assert fanout_twin.deliver_messages(session, ws, [(1, "4one"), (1, "4two")]) == 2
    assert got == ["one", "two"]
    errors = [r for r in caplog.records if "error in a handler" in r.getMessage()]
    assert len(errors) == 2 and "s1" in errors[0].getMessage()
