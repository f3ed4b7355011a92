"""Interop: compression between a hypersio server and the official clients (node).

- socket.io-client over WebSocket negotiates permessage-deflate (engine.io-client offers it in
  Node); the bytes read from the socket show a compressed event is compressed and a
  ``compress(False)`` one is not, and the client's own compressed messages are inflated.
- socket.io-client over long-polling with the fetch transport receives gzip bodies (undici asks
  for them and inflates them): the Content-Encoding of each poll is recorded in the client.
- A raw ``ws`` client with permessage-deflate sends a zip bomb: the server closes that connection
  with 1009 and keeps serving.
- Every scenario of the seed suite (tests/js/sio_client_scenarios.js) passes through a server that
  compresses every message (threshold 0), over WebSocket and after an upgrade, with both parsers.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_server_vs_socketio_client import MODES, PARSERS, SCENARIOS, ServerThread, run_node

import hypersio

pytestmark = pytest.mark.interop

SCRIPT = Path(__file__).parent.parent / "js" / "compression_client.js"
N = 200_000  # characters of the big events (tests/js/compression_client.js)


class CompressingServer:
    """A hypersio server with permessage-deflate on, in a daemon thread."""

    def __init__(self) -> None:
        self.sio = hypersio.Server(per_message_deflate=True, ping_interval=5, ping_timeout=5)
        self.deflate: list[Any] = []

        @self.sio.on("connection")
        def on_connection(socket: hypersio.Socket) -> None:
            carrier = socket.conn.carrier
            self.deflate.append(getattr(carrier, "deflate", None))

            @socket.on("send-me")
            def send_me(compress: bool, n: int) -> bool:
                # Sent after the ack, in a poll of its own: a long-polling body is compressed
                # when any packet in it may be (Node's rule), and the ack may be.
                loop = asyncio.get_running_loop()
                loop.call_later(0.05, lambda: socket.compress(compress).emit("payload", "x" * n))
                return compress

            socket.on("echo", lambda data: len(data) if len(data) > 100 else data)

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

    def __enter__(self) -> CompressingServer:
        self.thread.start()
        assert self.ready.wait(5), "server did not start"
        return self

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.sio.close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def compressing() -> Iterator[CompressingServer]:
    with CompressingServer() as srv:
        yield srv


def run_script(node_env: dict[str, str], port: int, mode: str) -> dict[str, Any]:
    proc = subprocess.run(
        ["node", str(SCRIPT), f"http://127.0.0.1:{port}", mode],
        env=node_env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert lines, proc.stderr
    out: dict[str, Any] = lines[-1]
    assert out["ok"], out.get("error")
    return out


@pytest.mark.timeout(30)
def test_official_client_negotiates_permessage_deflate(
    node_env: dict[str, str], compressing: CompressingServer
) -> None:
    out = run_script(node_env, compressing.port, "ws")
    assert out["extensions"] == "permessage-deflate"
    assert out["params"] == {"server_no_context_takeover": True}
    assert compressing.deflate[-1] is not None  # the server side agreed too
    # 200,000 characters: compressed they take a few hundred bytes on the wire ...
    assert out["compressed"] == {"ack": True, "length": N, "intact": True}
    assert out["compressedBytes"] < N // 50
    # ... and compress(False) sends every byte of them.
    assert out["plain"] == {"ack": False, "length": N, "intact": True}
    assert out["plainBytes"] > N
    # The client compressed its own large event (its threshold is 1 KiB); the server inflated it.
    assert out["echoed"] == N
    assert out["sentBytes"] < N // 50


@pytest.mark.timeout(30)
def test_official_client_polling_receives_gzip(node_env: dict[str, str], compressing: CompressingServer) -> None:
    out = run_script(node_env, compressing.port, "fetch")
    assert out["transport"] == "polling"
    assert out["compressed"] == {"ack": True, "length": N, "intact": True}
    assert "gzip" in out["compressedEncodings"]
    assert out["plain"] == {"ack": False, "length": N, "intact": True}
    assert "gzip" not in out["plainEncodings"]


@pytest.mark.timeout(30)
def test_zip_bomb_from_ws_is_refused(node_env: dict[str, str], compressing: CompressingServer) -> None:
    out = run_script(node_env, compressing.port, "bomb")
    assert out["extensions"] == "permessage-deflate"
    assert out["closeCode"] == 1009
    assert out["after"] == "still here"


def _record_deflate(srv: ServerThread) -> None:
    """Note, as each socket leaves, whether its WebSocket negotiated permessage-deflate."""
    found = srv.record.setdefault("deflate", [])

    def on_connection(socket: hypersio.Socket) -> None:
        session = socket.conn
        socket.on("disconnect", lambda *_: found.append(getattr(session.carrier, "deflate", None) is not None))

    srv.sio.on("connection", on_connection)


@pytest.fixture(scope="module")
def deflating_servers() -> Iterator[dict[str, ServerThread]]:
    # Threshold 0: every message the server sends is deflated, the smallest ack included.
    json_srv = ServerThread("json", per_message_deflate={"threshold": 0})
    msgpack_srv = ServerThread("msgpack", per_message_deflate={"threshold": 0})
    for srv in (json_srv, msgpack_srv):
        _record_deflate(srv)
    with json_srv, msgpack_srv:
        yield {"json": json_srv, "msgpack": msgpack_srv}


@pytest.mark.timeout(15)
@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("mode", [m for m in MODES if m != "polling"])
def test_seed_scenarios_through_permessage_deflate(
    node_env: dict[str, str], deflating_servers: dict[str, ServerThread], mode: str, parser: str
) -> None:
    srv = deflating_servers[parser]
    lines = run_node(node_env, srv.port, mode, parser)
    failed = {name: lines.get(name) for name in SCENARIOS if not (lines.get(name) or {}).get("ok")}
    assert not failed, f"{failed}\nnode stderr:\n{lines['_stderr']}"
    assert True in srv.record["deflate"], "no connection negotiated permessage-deflate"
