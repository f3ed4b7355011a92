"""Interop: the official socket.io-client (node) against ``hypersio.ASGIApp`` under uvicorn.

The same seed scenarios as test_server_vs_socketio_client.py (websocket, polling, upgrade; JSON
and msgpack), but the hypersio server is mounted beside a FastAPI app and served by uvicorn
through the ASGI driver of the engine. Also: the FastAPI route answers on the same port, the
lifespan reaches the FastAPI app, and without ``other_app`` other paths get 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import hypersio

fastapi = pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

from test_server_vs_socketio_client import MODES, PARSERS, SCENARIOS, build_app, run_node  # noqa: E402

pytestmark = pytest.mark.interop


def fastapi_app(events: list[str]) -> Any:
    """A FastAPI app with one route and a lifespan that records its startup and shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = fastapi.FastAPI(lifespan=lifespan)

    @app.get("/api/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "from fastapi"}

    return app


class UvicornThread:
    """uvicorn serving an ASGI app on a free port, on its own (uvloop) event loop in a thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.loop: asyncio.AbstractEventLoop | None = None  # uvicorn's, seen at the first call

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            self.loop = asyncio.get_running_loop()
            await app(scope, receive, send)

        config = uvicorn.Config(recording, log_level="warning", loop="uvloop", ws="websockets-sansio", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            threading.Event().wait(0.01)
        raise AssertionError("uvicorn did not start")

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def get(self, path: str) -> tuple[int, bytes]:
        """A plain HTTP GET on the server: (status, body)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


class Mounted:
    """``ASGIApp(sio, other_app=FastAPI)`` under uvicorn, with what the scenarios record."""

    def __init__(self, parser: str) -> None:
        self.record: dict[str, list[Any]] = {"disconnect": []}
        self.events: list[str] = []
        self.sio = build_app(parser, self.record)
        self.uvicorn = UvicornThread(hypersio.ASGIApp(self.sio, other_app=fastapi_app(self.events)))

    @property
    def port(self) -> int:
        return self.uvicorn.port


@pytest.fixture(scope="module")
def mounted() -> Iterator[dict[str, Mounted]]:
    servers = {parser: Mounted(parser) for parser in PARSERS}
    with contextlib.ExitStack() as stack:
        for srv in servers.values():
            stack.enter_context(srv.uvicorn)
        yield servers


@pytest.fixture(scope="module")
def asgi_results(mounted: dict[str, Mounted], node_env: dict[str, str]) -> Any:
    cache: dict[tuple[str, str], dict[str, Any]] = {}

    def get(mode: str, parser: str) -> dict[str, Any]:
        key = (mode, parser)
        if key not in cache:
            cache[key] = run_node(node_env, mounted[parser].port, mode, parser)
        return cache[key]

    return get


@pytest.mark.timeout(20)
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("mode", MODES)
def test_client_scenario_through_asgi(asgi_results: Any, mode: str, parser: str, scenario: str) -> None:
    lines = asgi_results(mode, parser)
    line = lines.get(scenario)
    assert line is not None, f"no result for {scenario}; node stderr:\n{lines['_stderr']}"
    assert line["ok"], line.get("error")
    assert line["ms"] < 5000


def test_disconnect_reasons_through_asgi(asgi_results: Any, mounted: dict[str, Mounted]) -> None:
    """The JS reason strings of both ends' disconnects reach the server through ASGI too."""
    asgi_results("websocket", "json")
    reasons = mounted["json"].record["disconnect"]
    assert ("disconnect", "server namespace disconnect") in reasons
    assert ("hello", "client namespace disconnect") in reasons


def test_fastapi_route_beside_socketio(mounted: dict[str, Mounted]) -> None:
    """The FastAPI route answers on the port that serves Socket.IO; the engine answers its path."""
    srv = mounted["json"].uvicorn
    status, body = srv.get("/api/hello")
    assert (status, json.loads(body)) == (200, {"hello": "from fastapi"})
    status, body = srv.get("/socket.io/?EIO=4&transport=polling")
    assert status == 200
    assert body.startswith(b'0{"sid":"')
    # FastAPI's own 404 (JSON), not the engine's: other paths are the other app's.
    status, body = srv.get("/nowhere")
    assert (status, json.loads(body)) == (404, {"detail": "Not Found"})
    # An engine error is the engine's JSON, as on the native server.
    status, body = srv.get("/socket.io/?EIO=4&transport=polling&sid=nope")
    assert (status, json.loads(body)) == (400, {"code": 1, "message": "Session ID unknown"})


def test_lifespan_passed_on() -> None:
    """The FastAPI lifespan runs at uvicorn's startup and shutdown; the server starts and closes with it."""
    events: list[str] = []
    sio = hypersio.Server()
    with UvicornThread(hypersio.ASGIApp(sio, other_app=fastapi_app(events))) as srv:
        assert events == ["startup"]
        assert sio.engine.sessions == {}
        status, _body = srv.get("/socket.io/?EIO=4&transport=polling")
        assert status == 200
        assert len(sio.engine.sessions) == 1
    assert events == ["startup", "shutdown"]
    assert sio.engine.sessions == {}  # closed with the lifespan shutdown


def test_404_without_other_app() -> None:
    """Without other_app a path outside the server's gets 404; the server's own path works."""
    sio = hypersio.Server()
    with UvicornThread(hypersio.ASGIApp(sio)) as srv:
        status, body = srv.get("/api/hello")
        assert (status, body) == (404, b"Not Found")
        status, body = srv.get("/socket.io/?EIO=4&transport=polling")
        assert status == 200 and body.startswith(b"0{")


def test_websocket_outside_path_refused_without_other_app() -> None:
    """A WebSocket to another path, without other_app, is closed before it opens."""
    websockets = pytest.importorskip("websockets.asyncio.client")
    sio = hypersio.Server()

    async def attempt(port: int) -> str:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/elsewhere"):
                return "opened"
        except Exception as exc:  # the handshake is refused with 403
            return type(exc).__name__

    with UvicornThread(hypersio.ASGIApp(sio)) as srv:
        assert asyncio.run(attempt(srv.port)) != "opened"


def test_server_side_close_and_shutdown_end_the_websockets() -> None:
    """A session the server closes ends its ASGI WebSocket (the client gets a normal close), and
    uvicorn's shutdown with a WebSocket still open completes and closes the engine."""
    client = pytest.importorskip("websockets.asyncio.client")
    sio = hypersio.Server()

    async def close_all() -> None:
        for session in list(sio.engine.sessions.values()):
            session.close()

    async def scenario(srv: UvicornThread) -> tuple[str, list[str], int | None]:
        url = f"ws://127.0.0.1:{srv.port}/socket.io/?EIO=4&transport=websocket"
        async with client.connect(url) as ws:
            opened = str(await ws.recv())
            assert srv.loop is not None
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(close_all(), srv.loop))
            rest = [str(m) async for m in ws]
            code = ws.close_code
        second = await client.connect(url)
        await second.recv()  # left open: uvicorn's shutdown must still complete
        return opened, rest, code

    with UvicornThread(hypersio.ASGIApp(sio)) as srv:
        opened, rest, code = asyncio.run(scenario(srv))
        assert opened.startswith('0{"sid":"')
        assert rest == []  # as on the native server: a normal close frame, nothing before it
        assert code == 1000
        assert len(sio.engine.sessions) == 1
    assert not srv.thread.is_alive()
    assert sio.engine.sessions == {}
    assert sio.engine.connections == set()


def test_refused_websocket_gets_the_engine_error_over_http() -> None:
    """A WebSocket for an unknown session is refused with the engine's 400 and JSON body, through
    uvicorn's WebSocket denial response, as the native server answers it."""
    client = pytest.importorskip("websockets.asyncio.client")
    exceptions = pytest.importorskip("websockets.exceptions")
    sio = hypersio.Server()

    async def attempt(port: int) -> tuple[int, bytes]:
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket&sid=nope"
        try:
            async with client.connect(url):
                return 101, b""
        except exceptions.InvalidStatus as exc:
            return exc.response.status_code, exc.response.body or b""

    with UvicornThread(hypersio.ASGIApp(sio)) as srv:
        status, body = asyncio.run(attempt(srv.port))
    assert status == 400
    assert json.loads(body) == {"code": 1, "message": "Session ID unknown"}
