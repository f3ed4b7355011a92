"""The memory budget's accounting (engine/budget.py): the totals go up where bytes pile up, come
back down when they drain, complete or close, and end at zero once every connection is gone
(a leak would later close innocent connections); past a limit the largest holders go first."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from _support.eio_client import Harness
from _support.fixtures import MakeServer
from hypersio import wsframe
from hypersio.engine.budget import INPUT_COUNTED_FROM, MemoryBudget, malloc_trim
from hypersio.engine.stats import EngineStats


class Holder:
    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self.closed: list[str] = []

    def __repr__(self) -> str:
        return f"<Holder {self.name}>"

    def budget_size(self, kind: str) -> int:
        return self.size

    def budget_close(self, kind: str) -> None:
        self.closed.append(kind)


def test_totals_follow_the_holders_and_return_to_zero() -> None:
    budget = MemoryBudget(None, None)
    a, b = Holder("a", 0), Holder("b", 0)
    budget.set_output(a, 100)
    budget.set_output(b, 50)
    budget.set_output(a, 70)  # a changed figure replaces the old one
    budget.set_input(a, 30)
    assert (budget.output, budget.input) == (120, 30)
    budget.set_output(b, 0)
    assert budget.output == 70 and b not in budget.holders("output")
    budget.release(a)
    budget.release(a)  # twice is harmless
    budget.set_output(b, -5)  # never below zero
    assert (budget.output, budget.input) == (0, 0)
    assert not budget.holders("output") and not budget.holders("input")


def test_past_the_limit_the_largest_holders_are_closed_first(caplog: pytest.LogCaptureFixture) -> None:
    stats = EngineStats()
    budget = MemoryBudget(1000, 500, stats)
    small, mid, big = Holder("small", 300), Holder("mid", 400), Holder("big", 500)
    stale = Holder("stale", 10)  # counted at 600, but it drained since: refreshed before choosing
    with caplog.at_level(logging.WARNING, "hypersio.engine"):
        budget.set_output(stale, 600)
        budget.set_output(small, 300)  # 900: under
        assert not any(h.closed for h in (stale, small))
        budget.set_output(mid, 400)  # 1300 (no loop running: enforced at once)
    # refreshed: 10 + 300 + 400 = 710, under the limit: nobody closed
    assert not any(h.closed for h in (stale, small, mid)) and budget.output == 710
    budget.set_output(big, 500)  # 1210: big (500) goes, 710 left
    assert big.closed == ["output"] and not mid.closed and not small.closed
    assert budget.output == 710 and big not in budget.holders("output")
    assert budget.closes == {"output": 1, "input": 0} and stats.budget_closes == 1
    assert "closing <Holder big>: it holds 500 bytes of buffered output" in caplog.text
    one, two = Holder("one", 300), Holder("two", 250)
    budget.set_input(one, 300)
    budget.set_input(two, 250)  # 550 > 500: the larger one goes
    assert one.closed == ["input"] and not two.closed and budget.input == 250


def test_a_failing_close_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Holder):
        def budget_close(self, kind: str) -> None:
            raise RuntimeError("boom")

    budget = MemoryBudget(100, None)
    broken, other, last = Broken("broken", 90), Holder("other", 80), Holder("last", 50)
    budget.set_output(other, 80)
    budget.set_output(last, 10)
    last.size = 50
    with caplog.at_level(logging.ERROR, "hypersio.engine"):
        budget.set_output(broken, 90)  # 220 once refreshed: broken (90) goes first and fails, then other
    assert other.closed == ["output"] and not last.closed and budget.output == 50
    assert "error while closing <Holder broken>" in caplog.text


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "1"])
def test_limits_are_checked(value: Any) -> None:
    with pytest.raises(ValueError):
        MemoryBudget(value, None)
    with pytest.raises(ValueError):
        MemoryBudget(None, value)


def test_malloc_trim_runs_on_glibc() -> None:
    import platform

    assert malloc_trim() is (platform.libc_ver()[0] == "glibc")


# ---- against a real server ------------------------------------------------------------------------


async def _until(condition: Any, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_a_slow_websocket_reader_is_counted_until_it_reads(make_server: MakeServer) -> None:
    h: Harness = await make_server(write_buffer_high_water=64 << 10)
    budget = h.server.options.budget
    sessions: list[Any] = []
    h.server.on("connection", sessions.append)
    client = await h.ws()
    await _until(lambda: sessions)
    await client.recv_packet()  # the open packet
    for _ in range(40):  # 8 MB the client does not read (its stream reader stops reading)
        sessions[0].send("x" * 200_000)
        await asyncio.sleep(0)
    await _until(lambda: budget.output > 0)
    [conn] = budget.holders("output")
    assert budget.output == conn.transport.get_write_buffer_size() > 64 << 10
    received = 0
    while received < 40:  # now it reads: the transport drains and resumes writing
        opcode, payload = await client.recv()
        received += opcode == wsframe.OP_TEXT and payload == "4" + "x" * 200_000
    await _until(lambda: budget.output == 0)
    client.close()
    await _until(lambda: not h.server.connections)
    assert (budget.output, budget.input) == (0, 0)


async def test_a_polling_queue_is_counted_past_the_high_water(make_server: MakeServer) -> None:
    h: Harness = await make_server(write_buffer_high_water=100_000)
    budget = h.server.options.budget
    sessions: list[Any] = []
    h.server.on("connection", sessions.append)
    sid = (await h.handshake())["sid"]
    session = sessions[0]
    session.send("y" * 60_000)
    assert budget.output == 0  # under the high water: not counted
    session.send("y" * 60_000)
    assert budget.output > 100_000 and len(budget.holders("output")) == 1
    res = await h.get(f"EIO=4&transport=polling&sid={sid}")
    assert res.status == 200 and len(res.body) > 120_000
    assert budget.output == 0  # answered: nothing queued
    session.send("y" * 150_000)
    assert budget.output > 0
    session.close("transport error")  # closed with the queue full: released
    assert (budget.output, budget.input) == (0, 0)


async def test_unfinished_websocket_messages_and_post_bodies_are_counted(make_server: MakeServer) -> None:
    h: Harness = await make_server()
    budget = h.server.options.budget
    client, _ = await h.ws_session()
    frame = wsframe.build_frame(wsframe.OP_TEXT, "4" + "z" * 500_000, mask=True)
    client.writer.write(frame[:300_000])
    await _until(lambda: budget.input >= 290_000)
    assert budget.input < 300_000 + INPUT_COUNTED_FROM
    client.writer.write(frame[300_000:])
    await _until(lambda: budget.input == 0)  # complete: no longer unfinished
    client.writer.write(frame[:200_000])
    await _until(lambda: budget.input > 0)
    client.close()  # gone with a partial frame: released
    await _until(lambda: budget.input == 0)
    sid = (await h.handshake())["sid"]
    http = await h.http()
    body = b"4" + b"p" * 400_000
    head = (
        f"POST {h.url(f'EIO=4&transport=polling&sid={sid}')} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    http.send_raw(head + body[:250_000])
    await _until(lambda: budget.input >= 200_000)
    http.send_raw(body[250_000:])
    res = await http.read_response()
    assert res.status == 200 and budget.input == 0
    http.send_raw(head + body[:250_000])
    await _until(lambda: budget.input > 0)
    http.close()
    await _until(lambda: budget.input == 0)
    assert budget.output == 0


async def test_a_packet_waiting_for_attachments_is_counted() -> None:
    import hypersio

    sio = hypersio.Server()
    await sio.listen("127.0.0.1", 0)
    budget = sio.engine.options.budget
    h = Harness(sio.engine)
    got: list[Any] = []
    sio.on("connection", lambda s: s.on("up", lambda *a: got.append(a)))
    try:
        for finish in (True, False):
            client, _ = await h.ws_session()
            client.send_text("40")
            await client.recv_packet()  # the CONNECT answer
            header = '452-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
            client.send_text(header)
            client.send_binary(b"\x01" * 100_000)
            await _until(lambda: budget.input >= 100_000)
            assert budget.input == 100_000 + len(header) - 1  # the decoder's parts, without the "4"
            if finish:
                client.send_binary(b"\x02" * 10)
                await _until(lambda: got)
                assert budget.input == 0
            else:
                client.close()  # gone in the middle: released with the connection
                await _until(lambda: budget.input == 0)
        assert got[0] == (b"\x01" * 100_000, b"\x02" * 10)
    finally:
        h.close()
        await sio.close()
    assert (budget.output, budget.input) == (0, 0)
