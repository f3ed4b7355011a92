"""Server-driven heartbeat: pings every ping_interval, "ping timeout" when no pong comes."""

from __future__ import annotations

import asyncio
import time

from _support.eio_client import Harness, attach_echo

INTERVAL = 0.3
TIMEOUT = 0.2


async def heartbeat_server(make_server) -> Harness:
    harness = await make_server(ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    attach_echo(harness)
    return harness


async def test_polling_session_gone_after_interval_plus_timeout(make_server) -> None:
    harness = await heartbeat_server(make_server)
    sid = (await harness.handshake())["sid"]
    started = time.monotonic()
    await asyncio.sleep(INTERVAL + TIMEOUT + 0.02)
    res = await harness.get(f"EIO=4&transport=polling&sid={sid}")
    assert res.status == 400 and res.json()["code"] == 1
    assert harness.closes == [(sid, "ping timeout")]
    assert time.monotonic() - started < 2


async def test_polling_ping_arrives_after_interval(make_server) -> None:
    harness = await heartbeat_server(make_server)
    sid = (await harness.handshake())["sid"]
    started = time.monotonic()
    res = await harness.get(f"EIO=4&transport=polling&sid={sid}")
    elapsed = time.monotonic() - started
    assert res.text == "2"
    assert INTERVAL - 0.05 <= elapsed <= INTERVAL + 0.15


async def test_polling_session_kept_alive_by_pongs(make_server) -> None:
    harness = await heartbeat_server(make_server)
    sid = (await harness.handshake())["sid"]
    deadline = time.monotonic() + 3 * (INTERVAL + TIMEOUT)
    pings = 0
    while time.monotonic() < deadline:
        res = await harness.get(f"EIO=4&transport=polling&sid={sid}")
        assert res.status == 200
        assert res.text == "2"
        pings += 1
        assert (await harness.post(f"EIO=4&transport=polling&sid={sid}", "3")).status == 200
    assert pings >= 3
    assert not harness.closes
    assert sid in harness.server.sessions


async def test_websocket_heartbeat(make_server) -> None:
    harness = await heartbeat_server(make_server)
    alive, alive_fields = await harness.ws_session()
    silent, silent_fields = await harness.ws_session()
    deadline = time.monotonic() + 2 * (INTERVAL + TIMEOUT) + 0.1
    while time.monotonic() < deadline:
        try:
            packet = await alive.recv_packet(timeout=deadline - time.monotonic())
        except TimeoutError:
            break
        assert packet == "2"
        alive.send_text("3")
    assert harness.closes == [(silent_fields["sid"], "ping timeout")]
    assert await silent.recv_packet() == "2"
    assert await silent.closed() == (1000, "")
    assert alive_fields["sid"] in harness.server.sessions


async def test_traffic_while_a_pong_is_due_extends_the_deadline_once(make_server) -> None:
    harness = await heartbeat_server(make_server)
    client, fields = await harness.ws_session()
    assert await client.recv_packet(timeout=1) == "2"
    pinged = time.monotonic()
    await asyncio.sleep(TIMEOUT * 0.75)
    client.send_text("4busy")  # no pong, but the client is evidently alive
    assert await client.recv_packet() == "4busy"
    await asyncio.sleep(TIMEOUT * 0.5)  # past the original deadline
    assert fields["sid"] in harness.server.sessions
    client.send_text("4again")  # a second message does not extend it again
    assert await client.closed() == (1000, "")
    assert harness.closes == [(fields["sid"], "ping timeout")]
    assert time.monotonic() - pinged < TIMEOUT * 2.5


async def test_many_sessions_share_one_timer_and_stale_deadlines_are_skipped() -> None:
    from types import SimpleNamespace

    from hypersio.engine.server.heartbeat import Heartbeats

    loop = asyncio.get_running_loop()
    sessions: dict[str, object] = {}
    fired: list[str] = []
    beats = Heartbeats(loop, sessions)  # type: ignore[arg-type]

    def make(sid: str, delay: float) -> SimpleNamespace:
        s = SimpleNamespace(id=sid, closed=False, heartbeat_at=loop.time() + delay)
        s.on_heartbeat = lambda: fired.append(sid)
        sessions[sid] = s
        beats.schedule(s)  # type: ignore[arg-type]
        return s

    a, b, c = make("a", 0.05), make("b", 0.02), make("c", 0.03)
    make("d", 0.04)
    armed_at = beats.armed_at
    assert armed_at == b.heartbeat_at  # the earliest deadline
    make("e", 0.5)  # later than the armed timer: no new loop timer
    assert beats.armed_at == armed_at
    a.heartbeat_at = loop.time() + 0.06  # moved: the first entry of "a" is stale now
    beats.schedule(a)  # type: ignore[arg-type]
    c.closed = True
    del sessions["d"]
    await asyncio.sleep(0.12)
    assert fired == ["b", "a"]  # c closed, d gone, e not due, a once (at its new deadline)
    assert len(beats) == 1  # only e's entry is left
    beats.close()
    await asyncio.sleep(0)
    assert beats.armed_at is None and len(beats) == 0


async def test_a_deadline_between_a_fired_one_and_its_successor_is_kept() -> None:
    from types import SimpleNamespace

    from hypersio.engine.server.heartbeat import Heartbeats

    loop = asyncio.get_running_loop()
    sessions: dict[str, object] = {}
    fired: list[str] = []
    beats = Heartbeats(loop, sessions)  # type: ignore[arg-type]

    def make(sid: str, delay: float, then: float | None) -> None:
        s = SimpleNamespace(id=sid, closed=False, heartbeat_at=loop.time() + delay)

        def on_timer() -> None:
            fired.append(sid)
            if then is not None:  # like a ping: the next deadline comes much later
                s.heartbeat_at += then
                beats.schedule(s)  # type: ignore[arg-type]

        s.on_heartbeat = on_timer
        sessions[sid] = s
        beats.schedule(s)  # type: ignore[arg-type]

    make("first", 0.02, 1.0)
    make("second", 0.06, None)
    await asyncio.sleep(0.15)
    assert fired == ["first", "second"]
    beats.close()


async def test_bucketed_deadlines_fire_at_their_exact_times_in_order() -> None:
    """Far deadlines are only sids in per-slot buckets, yet each fires at its own time, in order,
    once, at its latest deadline when moved (within or across slots), never when its session closed."""
    import random
    from types import SimpleNamespace

    from hypersio.engine.server.heartbeat import SLOT, Heartbeats

    loop = asyncio.get_running_loop()
    rng = random.Random(14)
    sessions: dict[str, object] = {}
    fired: list[tuple[str, float, float]] = []  # sid, deadline, loop time it ran
    beats = Heartbeats(loop, sessions)  # type: ignore[arg-type]
    start = loop.time()

    def make(sid: str, delay: float) -> SimpleNamespace:
        s = SimpleNamespace(id=sid, closed=False, heartbeat_at=start + delay)
        s.on_heartbeat = lambda: fired.append((sid, s.heartbeat_at, loop.time()))
        sessions[sid] = s
        beats.schedule(s)  # type: ignore[arg-type]
        return s

    made = [make(f"s{i}", 0.1 + rng.random() * 0.3) for i in range(120)]  # over about 6 slots
    assert len(beats._heap) == 0 and len(beats._buckets) >= 5  # no tuple per far deadline
    assert beats.armed_at == min(s.heartbeat_at for s in made)
    for s in made[:20]:  # moved within a slot or across slots, later or earlier
        s.heartbeat_at = start + 0.1 + rng.random() * 0.3
        beats.schedule(s)  # type: ignore[arg-type]
    for s in made[20:30]:
        s.closed = True
    await asyncio.sleep(0.5)
    expected = sorted((s.heartbeat_at, s.id) for s in made[30:] + made[:20])
    assert [sid for sid, _, _ in fired] == [sid for _, sid in expected]  # each once, in order
    for _, deadline, ran in fired:
        assert deadline - 0.0011 <= ran < deadline + SLOT  # at its time (uvloop: ms resolution)
    late = sorted(ran - deadline for _, deadline, ran in fired)
    assert late[len(late) // 2] < SLOT / 5  # not at the end of its slot: at its own deadline
    assert len(beats) == 0 and beats.armed_at is None
