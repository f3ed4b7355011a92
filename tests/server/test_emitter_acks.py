"""Unit tests of the shared EventEmitter and ack helpers (no network)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hypersio.events.acks import AckCallback, PendingAcks, takes_extra_arg, unpack_ack_args
from hypersio.events.emitter import EventEmitter
from hypersio.exceptions import AckTimeoutError, DisconnectedError


def test_takes_extra_arg_variants() -> None:
    def two(a, b): ...
    def three(a, b, cb): ...
    def star(*args): ...

    class K:
        def m(self, a, cb): ...

    assert not takes_extra_arg(two, 2)
    assert takes_extra_arg(three, 2)
    assert takes_extra_arg(star, 5)
    assert takes_extra_arg(K().m, 1)
    assert not takes_extra_arg(K().m, 2)
    assert takes_extra_arg(lambda *a: None, 0)


def test_ack_callback_sends_once() -> None:
    sent = []
    ack = AckCallback(sent.append)
    ack(1, 2)
    ack(3)
    assert sent == [[1, 2]]
    assert ack.sent


def test_unpack() -> None:
    assert unpack_ack_args([]) is None
    assert unpack_ack_args([1]) == 1
    assert unpack_ack_args([1, 2]) == (1, 2)


async def test_dispatch_order_ack_and_once() -> None:
    em = EventEmitter()
    seen = []
    em.on_any(lambda ev, *a: seen.append(("any", ev, a)))
    em.prepend_any(lambda ev, *a: seen.append(("first", ev)))

    @em.on("x")
    def h(a, cb):
        seen.append(("h", a))
        cb("ok")

    em.once("x", lambda a: seen.append(("once", a)))
    sent = []
    em._dispatch_event("x", [1], AckCallback(sent.append))
    em._dispatch_event("x", [2], None)
    assert seen[0] == ("first", "x")
    assert seen[1] == ("any", "x", (1,))
    assert ("once", 1) in seen and ("once", 2) not in seen
    assert sent == [["ok"]]


async def test_return_value_is_ack_and_tuple_spreads() -> None:
    em = EventEmitter()
    em.on("sync", lambda a: (a, a + 1))

    async def coro(a):
        await asyncio.sleep(0)
        return {"v": a}

    em.on("async", coro)
    sent = []
    em._dispatch_event("sync", [1], AckCallback(sent.append))
    em._dispatch_event("async", [5], AckCallback(sent.append))
    await asyncio.sleep(0.01)
    assert sent == [[1, 2], [{"v": 5}]]


async def test_handler_exception_logged_others_run(caplog: pytest.LogCaptureFixture) -> None:
    em = EventEmitter()
    ran = []

    def bad():
        raise RuntimeError("boom")

    async def bad_async():
        raise RuntimeError("boom async")

    em.on("e", bad)
    em.on("e", bad_async)
    em.on("e", lambda: ran.append(1))
    with caplog.at_level(logging.ERROR, logger="hypersio"):
        em._dispatch_event("e", [])
        await asyncio.sleep(0.01)
    assert ran == [1]
    text = caplog.text
    assert "boom" in text and "boom async" in text


def test_off_variants() -> None:
    em = EventEmitter()
    f = lambda: None  # noqa: E731
    g = lambda: None  # noqa: E731
    em.on("a", f)
    em.once("a", g)
    em.off("a", g)
    assert em.listeners("a") == [f]
    em.off("a", f)
    assert not em.has_listeners("a")
    em.on_any(f)
    em.on_any(g)
    em.off_any(f)
    assert em.listeners_any() == [g]
    em.off_any()
    assert em.listeners_any() == []
    em.on_any_outgoing(f)
    em.prepend_any_outgoing(g)
    assert em.listeners_any_outgoing() == [g, f]
    em.off_any_outgoing()
    assert em.listeners_any_outgoing() == []


async def test_pending_acks_callback_future_timeout_cancel() -> None:
    acks = PendingAcks()
    got = []
    i1 = acks.register_callback(lambda *a: got.append(("plain", a)))
    i2 = acks.register_callback(lambda err, *a: got.append(("timed", err, a)), timeout=5)
    i3, fut = acks.register_future(timeout=0.02)
    i4, fut4 = acks.register_future()
    assert len({i1, i2, i3, i4}) == 4
    assert acks.resolve(i1, [1, 2])
    assert acks.resolve(i2, ["x"])
    assert not acks.resolve(i2, ["again"])
    with pytest.raises(AckTimeoutError):
        await fut
    late = []
    acks.register_callback(lambda err, *a: late.append(err), timeout=10)
    acks.cancel_all(DisconnectedError("gone"))
    with pytest.raises(DisconnectedError):
        await fut4
    assert got == [("plain", (1, 2)), ("timed", None, ("x",))]
    assert isinstance(late[0], DisconnectedError)
    assert len(acks) == 0
