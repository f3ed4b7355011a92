"""Interop: the official socket.io-client (node) against a hypersio server.

One hypersio server per parser runs in a background thread for the module; one node process per
(transport mode, parser) runs every scenario of tests/js/sio_client_scenarios.js and reports one
JSON line per scenario; each pytest case checks one scenario's line. The scenarios cover the
examples of the Socket.IO API overview (emit, binary, acks both ways with and without timeouts,
onAny/onAnyOutgoing, io.emit, rooms, except, socket.to, leave, namespaces, middleware errors).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

import hypersio

pytestmark = pytest.mark.interop

SCRIPT = Path(__file__).parent.parent / "js" / "sio_client_scenarios.js"
SCENARIOS = [
    "hello",
    "multi",
    "ack",
    "emitWithAck",
    "ackTimeout",
    "serverAck",
    "onAny",
    "broadcastAll",
    "rooms",
    "namespace",
    "unknownNamespace",
    "middleware",
    "disconnect",
    "dynamicNamespace",
    "operators",
    "transport",
]
MODES = ["websocket", "polling", "upgrade"]
# One node process runs a whole scenario group in about 3 s; this bounds it even when a
# scenario hangs (each scenario also stops itself after 5 s).
NODE_TIMEOUT = 9.0
PARSERS = ["json", "msgpack"]


def build_app(parser: str, record: dict[str, list[Any]], recovery: bool = False, **options: Any) -> hypersio.Server:
    """The server half of the scenarios (the client half is the node script); ``options`` go to
    ``hypersio.Server`` (the compression tests run the scenarios with ``per_message_deflate``)."""
    sio = hypersio.Server(
        parser=parser,
        ping_interval=5.0,
        ping_timeout=5.0,
        connection_state_recovery=hypersio.Recovery(max_disconnection_duration=10) if recovery else None,
        **options,
    )

    @sio.on("connection")
    async def on_connection(socket: hypersio.Socket) -> None:
        scenario = socket.handshake.auth.get("scenario")
        socket.on("disconnect", lambda reason, desc: record["disconnect"].append((scenario, reason)))

        @socket.on("echo")
        def echo(*args: Any) -> None:
            ack = args[-1]  # *args takes the ack callable too, JS style
            ack(*args[:-1])

        @socket.on("request")
        def on_request(arg1: Any, arg2: Any, callback: Any) -> None:
            callback({"status": "ok", "got": [arg1, arg2]})

        @socket.on("request2")
        async def on_request2(a: int, b: int) -> dict[str, Any]:
            await asyncio.sleep(0)
            return {"status": "ok2", "sum": a + b}

        socket.on("spread", lambda: (1, "two", None))
        socket.on("never", lambda *args: None)
        socket.on("transport", lambda: socket.conn.transport)

        @socket.on("shout")
        def shout(token: str) -> bool:
            sio.emit("shouted", token)
            return True

        @socket.on("join")
        def join(room: str) -> bool:
            socket.join(room)
            return True

        @socket.on("leave")
        def leave(room: str) -> bool:
            socket.leave(room)
            return True

        socket.on("to-room", lambda room, msg: sio.to(room).emit("room-msg", msg) or True)
        socket.on("except-room", lambda room, msg: sio.except_(room).emit("except-msg", msg) or True)
        socket.on("socket-to", lambda room, msg: socket.to(room).emit("peer-msg", msg) or True)
        socket.on("socket-broadcast", lambda msg: socket.broadcast.emit("peer-msg", msg) or True)
        socket.on("kick", lambda: socket.disconnect())
        socket.on("ping-me", lambda: socket.emit("pong-me", "pong"))
        socket.on("my-rooms", lambda: sorted(socket.rooms))

        @socket.on("emit-later")
        def emit_later(room: str, delay: float) -> bool:
            loop = asyncio.get_running_loop()
            loop.call_later(delay, lambda: sio.to(room).emit("later", "missed while away"))
            return True

        if scenario == "hello":
            socket.emit("hello", "world")
        elif scenario == "multi":
            socket.emit("hello", 1, "2", {"3": "4", "5": b"\x06"})
        elif scenario == "onAny":
            outgoing: list[Any] = []
            socket.on_any(lambda event, *args: socket.emit("any-report", [event, *args]))
            socket.on_any_outgoing(lambda event, *args: outgoing.append([event, *args]))
            socket.on("get-outgoing", lambda: list(outgoing))
        elif scenario == "serverAck":
            report: dict[str, Any] = {}
            report["with_ack"] = await socket.timeout(2).emit_with_ack("ask", {"foo": "bar"}, "baz")
            done = asyncio.get_running_loop().create_future()
            socket.timeout(2).emit("ask2", 21, lambda err, *args: done.set_result([err, *args]))
            report["cb_timeout"] = await done
            done = asyncio.get_running_loop().create_future()
            socket.emit("ask3", lambda *args: done.set_result(list(args)))
            report["cb_plain"] = await done
            try:
                await socket.timeout(0.2).emit_with_ack("ignored")
            except hypersio.AckTimeoutError as exc:
                report["timeout_error"] = type(exc).__name__
            socket.emit("serverAck-report", report)

    admin = sio.of("/admin")

    @admin.on("connection")
    def on_admin(socket: hypersio.Socket) -> None:
        socket.emit("hello-admin", "welcome to /admin")
        socket.on("whoami", lambda: socket.nsp.name)

    private = sio.of("/private")

    @private.use
    async def auth_middleware(socket: hypersio.Socket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise hypersio.ConnectError("Not authorized", {"code": 42})
        socket.data["user"] = "alice"

    private.on("connection", lambda socket: socket.emit("user", socket.data["user"]))

    dynamic = sio.of(re.compile(r"^/dyn-\d+$"))
    dynamic.on("connection", lambda socket: socket.emit("hello-dyn", socket.nsp.name))

    @sio.on("connection")
    def operators(socket: hypersio.Socket) -> None:
        @socket.on("poll-room")
        async def poll_room(room: str) -> list[Any]:
            return await sio.to(room).timeout(2).emit_with_ack("poll", "q")

        @socket.on("fetch-room")
        async def fetch_room(room: str) -> list[Any]:
            return [s.id for s in await sio.in_(room).fetch_sockets()]

        socket.on("room-joins", lambda room, new_room: sio.in_(room).sockets_join(new_room) or True)
        socket.on("room-disconnect", lambda room: sio.in_(room).disconnect_sockets() or True)

    return sio


class ServerThread:
    """A hypersio server on its own event loop in a daemon thread, for blocking node runs."""

    def __init__(self, parser: str, recovery: bool = False, **options: Any) -> None:
        self.record: dict[str, list[Any]] = {"disconnect": []}
        self.sio = build_app(parser, self.record, recovery, **options)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.sio.listen("127.0.0.1", 0))
        self.port = self.sio.engine.port
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> ServerThread:
        self.thread.start()
        assert self.ready.wait(5), "server did not start"
        return self

    def __exit__(self, *exc: Any) -> None:
        fut = asyncio.run_coroutine_threadsafe(self.sio.close(), self.loop)
        fut.result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def servers() -> Any:
    with ServerThread("json") as json_srv, ServerThread("msgpack") as msgpack_srv:
        yield {"json": json_srv, "msgpack": msgpack_srv}


def run_node(node_env: dict[str, str], port: int, mode: str, parser: str, *names: str) -> dict[str, Any]:
    """One node process running the named scenarios (all default ones when none)."""
    try:
        proc = subprocess.run(
            ["node", str(SCRIPT), f"http://127.0.0.1:{port}", mode, parser, *names],
            env=node_env,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
        )
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        # Keep what finished, so the report names the scenario that hung.
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stderr = f"node killed after {NODE_TIMEOUT}s"
    lines = [json.loads(x) for x in stdout.splitlines() if x.startswith("{")]
    out: dict[str, Any] = {line["name"]: line for line in lines}
    out["_stderr"] = stderr
    return out


@pytest.fixture(scope="module")
def results(servers: dict[str, ServerThread], node_env: dict[str, str]) -> Any:
    """Runs node once per (mode, parser) on first use; maps the pair to {scenario: line}."""
    cache: dict[tuple[str, str], dict[str, Any]] = {}

    def get(mode: str, parser: str) -> dict[str, Any]:
        key = (mode, parser)
        if key not in cache:
            cache[key] = run_node(node_env, servers[parser].port, mode, parser)
        return cache[key]

    return get


@pytest.mark.timeout(10)
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("mode", MODES)
def test_client_scenario(results: Any, mode: str, parser: str, scenario: str) -> None:
    lines = results(mode, parser)
    line = lines.get(scenario)
    assert line is not None, f"no result for {scenario}; node stderr:\n{lines['_stderr']}"
    assert line["ok"], line.get("error")
    assert line["ms"] < 5000


def test_server_saw_disconnect_reasons(results: Any, servers: dict[str, ServerThread]) -> None:
    """After a run, the server recorded the JS reason strings for both ends' disconnects."""
    results("websocket", "json")
    reasons = servers["json"].record["disconnect"]
    assert ("disconnect", "server namespace disconnect") in reasons
    # socket.disconnect() in the JS client sends DISCONNECT before closing its transport
    assert ("hello", "client namespace disconnect") in reasons
    assert ("operators", "server namespace disconnect") in reasons


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("mode", "parser"), [("websocket", "json"), ("polling", "json"), ("upgrade", "msgpack")])
def test_connection_state_recovery(node_env: dict[str, str], mode: str, parser: str) -> None:
    """socket.io-client recovers its sid, rooms and a missed room event after a transport drop."""
    with ServerThread(parser, recovery=True) as srv:
        lines = run_node(node_env, srv.port, mode, parser, "recovery")
    line = lines.get("recovery")
    assert line is not None, lines["_stderr"]
    assert line["ok"], line.get("error")
