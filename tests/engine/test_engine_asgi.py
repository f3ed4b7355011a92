"""The ASGI driver of the engine (``hypersio.engine.server.asgi``) and ``hypersio.ASGIApp``, driven
with hand-made ASGI messages: no ASGI server, so the edge cases are exact (bodies over the limit,
a long-poll whose client leaves, refused WebSockets, a client that stops reading, lifespan).
The official client through uvicorn is in tests/interop/test_asgi_vs_socketio_client.py.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import hypersio
from hypersio.engine import Server
from hypersio.engine.server.asgi import serve_http, serve_websocket

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def http_scope(method: str, path: str, query: str = "", headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers or [],
        "client": ("127.0.0.1", 5555),
        "scheme": "http",
        "http_version": "1.1",
    }


def ws_scope(query: str, extensions: dict[str, Any] | None = None) -> Any:
    return {
        "type": "websocket",
        "path": "/engine.io/",
        "raw_path": b"/engine.io/",
        "query_string": query.encode(),
        "headers": [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-key", KEY.encode()),
        ],
        "client": ("127.0.0.1", 5556),
        "scheme": "ws",
        "extensions": extensions if extensions is not None else {"websocket.http.response": {}},
    }


class Peer:
    """The ASGI server's side of one exchange: what the app receives, and what it sent."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.got = asyncio.Event()
        self.blocked: asyncio.Future[None] | None = None

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        if self.blocked is not None and message["type"] == "websocket.send":
            await self.blocked  # a client that stopped reading
        self.sent.append(message)
        self.got.set()

    def push(self, message: dict[str, Any]) -> None:
        self.inbox.put_nowait(message)

    async def wait_for(self, predicate: Any, timeout: float = 2.0) -> None:
        async def loop() -> None:
            while not predicate(self.sent):
                self.got.clear()
                await self.got.wait()

        await asyncio.wait_for(loop(), timeout)

    def status(self) -> int:
        return next(m["status"] for m in self.sent if m["type"].endswith("response.start"))

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"].endswith("response.body"))

    def texts(self) -> list[str]:
        return [m["text"] for m in self.sent if m["type"] == "websocket.send" and "text" in m]


async def started(**kwargs: Any) -> Server:
    server = Server(**kwargs)
    server.start_external()
    return server


async def http(server: Server, method: str, query: str, body: bytes = b"", **kw: Any) -> Peer:
    peer = Peer()
    peer.push({"type": "http.request", "body": body, "more_body": False})
    await asyncio.wait_for(
        serve_http(server, server.options, http_scope(method, "/engine.io/", query, **kw), peer.receive, peer.send), 2
    )
    return peer


async def handshake(server: Server) -> str:
    peer = await http(server, "GET", "EIO=4&transport=polling")
    assert peer.status() == 200
    return str(json.loads(peer.body()[1:])["sid"])


async def test_polling_handshake_post_and_poll() -> None:
    server = await started()
    got: list[Any] = []
    server.on("connection", lambda s: s.on("message", got.append) and None)
    sid = await handshake(server)
    post = await http(server, "POST", f"EIO=4&transport=polling&sid={sid}", b"4hello\x1e4world")
    assert (post.status(), post.body()) == (200, b"ok")
    assert got == ["hello", "world"]
    server.sessions[sid].send("back")
    poll = await http(server, "GET", f"EIO=4&transport=polling&sid={sid}")
    assert poll.body() == b"4back"
    await server.close()
    assert server.connections == set()


async def test_body_over_the_limit_is_413_and_closes_the_session() -> None:
    server = await started(max_http_buffer_size=100)
    reasons: list[Any] = []
    server.on("connection", lambda s: s.on("close", lambda r, d: reasons.append(r)) and None)
    sid = await handshake(server)
    peer = Peer()
    scope = http_scope("POST", "/engine.io/", f"EIO=4&transport=polling&sid={sid}")
    for _ in range(3):  # chunked: no Content-Length, the size is counted as it arrives
        peer.push({"type": "http.request", "body": b"4" + b"x" * 60, "more_body": True})
    await asyncio.wait_for(serve_http(server, server.options, scope, peer.receive, peer.send), 2)
    assert peer.status() == 413
    assert reasons == ["transport error"]
    # announced too large: refused before reading
    sid = await handshake(server)
    big = await http(server, "POST", f"EIO=4&transport=polling&sid={sid}", headers=[(b"content-length", b"1000")])
    assert big.status() == 413
    await server.close()


async def test_long_poll_whose_client_leaves_closes_the_session() -> None:
    server = await started()
    reasons: list[Any] = []
    server.on("connection", lambda s: s.on("close", lambda r, d: reasons.append((r, d))) and None)
    sid = await handshake(server)
    peer = Peer()
    peer.push({"type": "http.request", "body": b"", "more_body": False})
    scope = http_scope("GET", "/engine.io/", f"EIO=4&transport=polling&sid={sid}")
    task = asyncio.ensure_future(serve_http(server, server.options, scope, peer.receive, peer.send))
    await asyncio.sleep(0.05)
    assert not task.done()  # held: nothing to send yet
    peer.push({"type": "http.disconnect"})
    await asyncio.wait_for(task, 2)
    assert peer.sent == []
    assert reasons == [("transport error", "poll connection closed prematurely")]
    assert sid not in server.sessions
    await server.close()


async def test_held_poll_answered_at_shutdown() -> None:
    server = await started()
    sid = await handshake(server)
    peer = Peer()
    peer.push({"type": "http.request", "body": b"", "more_body": False})
    scope = http_scope("GET", "/engine.io/", f"EIO=4&transport=polling&sid={sid}")
    task = asyncio.ensure_future(serve_http(server, server.options, scope, peer.receive, peer.send))
    await asyncio.sleep(0.05)
    await server.close()
    await asyncio.wait_for(task, 2)
    assert (peer.status(), peer.body()) == (200, b"1")  # the close packet


async def test_websocket_session_echo_and_close() -> None:
    server = await started()
    closes: list[Any] = []

    def on_connection(session: Any) -> None:
        session.on("message", lambda data: session.send(data.upper()))
        session.on("close", lambda r, d: closes.append(r))

    server.on("connection", on_connection)
    peer = Peer()
    peer.push({"type": "websocket.connect"})
    task = asyncio.ensure_future(
        serve_websocket(server, server.options, ws_scope("EIO=4&transport=websocket"), peer.receive, peer.send)
    )
    await peer.wait_for(lambda sent: len(sent) >= 2)
    assert peer.sent[0] == {"type": "websocket.accept"}
    assert peer.texts()[0].startswith('0{"sid":"')
    peer.push({"type": "websocket.receive", "text": "4hi"})
    peer.push({"type": "websocket.receive", "bytes": b"\x01\x02"})  # binary: a MESSAGE of bytes
    await peer.wait_for(lambda sent: "4HI" in [m.get("text") for m in sent])
    peer.push({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(task, 2)
    assert closes == ["transport close"]
    assert server.sessions == {} and server.connections == set()
    await server.close()


async def test_broadcast_frame_reaches_every_asgi_websocket() -> None:
    server = await started()
    sessions: list[Any] = []
    server.on("connection", sessions.append)
    peers = [Peer() for _ in range(3)]
    tasks = []
    for peer in peers:
        peer.push({"type": "websocket.connect"})
        scope = ws_scope("EIO=4&transport=websocket")
        tasks.append(asyncio.ensure_future(serve_websocket(server, server.options, scope, peer.receive, peer.send)))
    for peer in peers:
        await peer.wait_for(lambda sent: len(sent) >= 2)
    msg = hypersio.engine.PreparedMessage('2["news","é"]')
    for session in sessions:
        session.send_prepared(msg)
    for peer in peers:
        await peer.wait_for(lambda sent: '42["news","é"]' in [m.get("text") for m in sent])
    await server.close()
    for peer in peers:
        assert peer.sent[-1] == {"type": "websocket.close", "code": 1000}
        peer.push({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(asyncio.gather(*tasks), 2)


async def test_unknown_sid_websocket_refused_with_http_400() -> None:
    server = await started()
    peer = Peer()
    peer.push({"type": "websocket.connect"})
    await asyncio.wait_for(
        serve_websocket(
            server, server.options, ws_scope("EIO=4&transport=websocket&sid=nope"), peer.receive, peer.send
        ),
        2,
    )
    assert peer.status() == 400
    assert json.loads(peer.body()) == {"code": 1, "message": "Session ID unknown"}
    # without the denial extension the refusal is a close before the accept (the server's 403)
    peer = Peer()
    peer.push({"type": "websocket.connect"})
    scope = ws_scope("EIO=4&transport=websocket&sid=nope", extensions={})
    await asyncio.wait_for(serve_websocket(server, server.options, scope, peer.receive, peer.send), 2)
    assert peer.sent == [{"type": "websocket.close", "code": 1008}]
    await server.close()


async def test_async_allow_request_refusal_and_early_messages() -> None:
    verdicts = {"no": False, "yes": True}

    async def allow(req: Any) -> bool:
        await asyncio.sleep(0.02)
        return verdicts[req.query["who"]]

    server = await started(allow_request=allow)
    got: list[Any] = []
    server.on("connection", lambda s: s.on("message", got.append) and None)
    refused = Peer()
    refused.push({"type": "websocket.connect"})
    scope = ws_scope("EIO=4&transport=websocket&who=no")
    task = asyncio.ensure_future(serve_websocket(server, server.options, scope, refused.receive, refused.send))
    await refused.wait_for(lambda sent: len(sent) >= 2)
    assert refused.status() == 403
    refused.push({"type": "websocket.disconnect", "code": 1006})
    await asyncio.wait_for(task, 2)
    allowed = Peer()
    allowed.push({"type": "websocket.connect"})
    allowed.push({"type": "websocket.receive", "text": "4early"})  # before the verdict: kept, in order
    scope = ws_scope("EIO=4&transport=websocket&who=yes")
    task = asyncio.ensure_future(serve_websocket(server, server.options, scope, allowed.receive, allowed.send))
    await allowed.wait_for(lambda sent: len(sent) >= 2)
    await asyncio.sleep(0.01)
    assert got == ["early"]
    allowed.push({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(task, 2)
    await server.close()


async def test_client_that_stops_reading_is_closed_at_the_hard_limit() -> None:
    server = await started(write_buffer_high_water=1000, write_buffer_limit=10_000)
    reasons: list[Any] = []
    sessions: list[Any] = []

    def on_connection(session: Any) -> None:
        sessions.append(session)
        session.on("close", lambda r, d: reasons.append((r, d)))

    server.on("connection", on_connection)
    peer = Peer()
    peer.push({"type": "websocket.connect"})
    task = asyncio.ensure_future(
        serve_websocket(server, server.options, ws_scope("EIO=4&transport=websocket"), peer.receive, peer.send)
    )
    await peer.wait_for(lambda sent: len(sent) >= 2)
    peer.blocked = asyncio.get_running_loop().create_future()
    for _ in range(30):
        sessions[0].send("x" * 1000)
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    assert reasons == [("transport error", "write buffer limit exceeded")]
    peer.blocked.set_result(None)
    peer.push({"type": "websocket.disconnect", "code": 1006})
    await asyncio.wait_for(task, 2)
    await server.close()


async def test_asgi_app_lifespan_without_other_app_and_404() -> None:
    sio = hypersio.Server()
    app = hypersio.ASGIApp(sio)
    life = Peer()
    life.push({"type": "lifespan.startup"})
    life.push({"type": "lifespan.shutdown"})
    await asyncio.wait_for(app({"type": "lifespan"}, life.receive, life.send), 2)
    assert [m["type"] for m in life.sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    other = Peer()
    other.push({"type": "http.request", "body": b"", "more_body": False})
    await app(http_scope("GET", "/api"), other.receive, other.send)
    assert (other.status(), other.body()) == (404, b"Not Found")


async def test_asgi_app_starts_on_first_request_without_lifespan() -> None:
    sio = hypersio.Server()
    app = hypersio.ASGIApp(sio)
    peer = Peer()
    peer.push({"type": "http.request", "body": b"", "more_body": False})
    await app(http_scope("GET", "/socket.io/", "EIO=4&transport=polling"), peer.receive, peer.send)
    assert peer.status() == 200 and peer.body().startswith(b"0{")
    await app.close()
    assert sio.engine.sessions == {}
