"""Server(metrics=True): /metrics scraped after a scripted session, checked against what it did;
the prometheus_client registration; /health (on, moved, off, failing once the server closes)."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest

import hypersio

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus text -> {(name, labels): value}; fails on any line that is not well formed."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if not line or line.startswith(("# HELP ", "# TYPE ")):
            continue
        match = SAMPLE.match(line)
        assert match, f"malformed line {line!r}"
        name, labels, value = match.groups()
        pairs = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def http_get(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def http_post(port: int, path: str, body: bytes) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST")
    req.add_header("Content-Type", "text/plain;charset=UTF-8")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    status, content_type, body = await asyncio.to_thread(http_get, port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    return parse(body)


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_metrics_after_a_scripted_session() -> None:
    sio = hypersio.Server(metrics=True)
    sio.on("connection", lambda socket: socket.on("echo", lambda x: x))
    await sio.listen("127.0.0.1", 0)
    port = sio.engine.port
    try:
        ws = hypersio.AsyncClient(f"http://127.0.0.1:{port}", transports=("websocket",), reconnection=False)
        polling = hypersio.AsyncClient(f"http://127.0.0.1:{port}", transports=("polling",), reconnection=False)
        news: list[Any] = []
        big: list[Any] = []
        ws.on("news", news.append)
        polling.on("news", news.append)
        ws.on("big", big.append)
        ws.on("question", lambda: "answer")
        await ws.connect()
        await polling.connect()

        # 3 events in (with acks answered by the server).
        for i in range(3):
            assert await ws.emit_with_ack("echo", i) == i
        # 1 broadcast to 2 sockets.
        sio.emit("news", "hello")
        await wait_until(lambda: len(news) == 2)
        # 1 ack the server waits for: its latency is observed.
        assert await sio.of("/").sockets[ws.id].emit_with_ack("question") == "answer"
        # 30 volatile broadcasts of 100 kB to the WebSocket client in one loop turn: past the 1 MiB
        # high-water mark the rest are dropped.
        target = sio.to(ws.id).volatile
        for _ in range(30):
            target.emit("big", "x" * 100_000)
        await asyncio.sleep(0.5)
        assert 5 < len(big) < 30

        # A slow client: 20 MB queued in one turn, past the 16 MiB limit, closes its connection.
        slow = hypersio.AsyncClient(f"http://127.0.0.1:{port}", transports=("websocket",), reconnection=False)
        await slow.connect()
        slow_socket = sio.of("/").sockets[slow.id]
        for _ in range(20):
            slow_socket.emit("flood", "y" * 1_000_000)
        await wait_until(lambda: not slow.connected)

        # A client whose packet does not parse: closed with "parse error".
        status, _, body = await asyncio.to_thread(http_get, port, "/socket.io/?EIO=4&transport=polling")
        assert status == 200
        sid = json.loads(body[1:])["sid"]
        assert (
            await asyncio.to_thread(http_post, port, f"/socket.io/?EIO=4&transport=polling&sid={sid}", b"4{oops") == 200
        )
        await wait_until(lambda: sid not in sio.engine.sessions)

        m = await scrape(port)
        assert value(m, "hypersio_sockets_connected", namespace="/") == 2
        assert value(m, "hypersio_engine_sessions", transport="websocket") == 1
        assert value(m, "hypersio_engine_sessions", transport="polling") == 1
        assert value(m, "hypersio_connections_total", transport="websocket") == 2
        assert value(m, "hypersio_connections_total", transport="polling") == 2
        assert value(m, "hypersio_upgrades_total") == 0
        assert value(m, "hypersio_events_received_total") == 3
        # socket.emit: 1 question + 20 floods; fan-outs: 2 news + 30 volatile (dropped ones included:
        # the fan-out handed them to the socket, its buffer refused them).
        assert value(m, "hypersio_events_sent_total") == 1 + 20 + 2 + 30
        assert value(m, "hypersio_broadcasts_total") == 1 + 30
        assert value(m, "hypersio_volatile_dropped_total") == 30 - len(big)
        assert value(m, "hypersio_slow_client_closes_total") == 1
        assert value(m, "hypersio_parse_errors_total") == 1
        assert value(m, "hypersio_disconnections_total", reason="parse error") == 1
        assert value(m, "hypersio_disconnections_total", reason="transport error") == 1
        assert value(m, "hypersio_bytes_sent_total") > 100_000 * len(big)
        assert value(m, "hypersio_bytes_received_total") > 0
        assert value(m, "hypersio_ack_latency_seconds_count") == 1
        assert value(m, "hypersio_ack_latency_seconds_bucket", le="+Inf") == 1
        assert 0 < value(m, "hypersio_ack_latency_seconds_sum") < 5

        # What was counted on connections still open is kept once they close.
        before = value(m, "hypersio_bytes_received_total")
        await ws.disconnect()
        await polling.disconnect()
        await wait_until(lambda: not sio.engine.connections or not sio.engine.sessions)
        after = await scrape(port)
        assert value(after, "hypersio_events_received_total") == 3
        assert value(after, "hypersio_bytes_received_total") >= before
        assert value(after, "hypersio_sockets_connected", namespace="/") == 0
    finally:
        await sio.close()


async def test_upgrade_and_namespaces_are_counted() -> None:
    sio = hypersio.Server(metrics=True)
    sio.of("/chat")
    await sio.listen("127.0.0.1", 0)
    port = sio.engine.port
    try:
        client = hypersio.AsyncClient(f"http://127.0.0.1:{port}/chat", reconnection=False)
        await client.connect()
        await wait_until(lambda: any(s.transport == "websocket" for s in sio.engine.sessions.values()))
        m = await scrape(port)
        assert value(m, "hypersio_upgrades_total") == 1
        assert value(m, "hypersio_sockets_connected", namespace="/chat") == 1
        assert value(m, "hypersio_sockets_connected", namespace="/") == 0
        await client.disconnect()
    finally:
        await sio.close()


async def test_prometheus_client_registry() -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    sio = hypersio.Server(metrics=True)
    sio.on("connection", lambda socket: socket.on("echo", lambda x: x))
    await sio.listen("127.0.0.1", 0)
    try:
        registry = prometheus_client.CollectorRegistry()
        assert sio.metrics is not None
        sio.metrics.register(registry)
        client = hypersio.AsyncClient(f"http://127.0.0.1:{sio.engine.port}", reconnection=False)
        await client.connect()
        for i in range(4):
            await client.emit_with_ack("echo", i)
        assert registry.get_sample_value("hypersio_events_received_total") == 4
        assert registry.get_sample_value("hypersio_sockets_connected", {"namespace": "/"}) == 1
        assert registry.get_sample_value("hypersio_connections_total", {"transport": "polling"}) == 1
        assert registry.get_sample_value("hypersio_ack_latency_seconds_count") == 0
        text = prometheus_client.generate_latest(registry).decode()
        assert "hypersio_bytes_sent_total" in text
        await client.disconnect()
    finally:
        await sio.close()


async def test_health_on_off_and_moved() -> None:
    default = hypersio.Server()
    moved = hypersio.Server(health_path="/healthz")
    off = hypersio.Server(health_path=None)
    for server in (default, moved, off):
        await server.listen("127.0.0.1", 0)
    try:
        assert await asyncio.to_thread(http_get, default.engine.port, "/health") == (200, "text/plain", "ok")
        assert (await asyncio.to_thread(http_get, moved.engine.port, "/healthz"))[0] == 200
        assert (await asyncio.to_thread(http_get, moved.engine.port, "/health"))[0] == 404
        assert (await asyncio.to_thread(http_get, off.engine.port, "/health"))[0] == 404
        # No metrics unless asked for.
        assert (await asyncio.to_thread(http_get, default.engine.port, "/metrics"))[0] == 404
        assert default.metrics is None
    finally:
        for server in (default, moved, off):
            await server.close()
    # Once closing, the check fails (the route answers 503 to whatever request still reaches it).
    assert default.engine.routes["/health"](None)[0] == 503
