"""The public decorators keep the decorated function's type, so a user's program passes ``mypy --strict``.

Runs mypy (when installed) on a small application using ``@sio.on``, ``@socket.on``, ``@sio.use``,
``@nsp.on``, ``once``, ``on_any`` and the client's ``@client.on``; ``assert_type`` pins what
each decorator returns. Without the typed overloads mypy reports "Untyped decorator makes function
... untyped" here.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

PROGRAM = """
from collections.abc import Callable
from typing import Any

import hypersio

sio = hypersio.Server()


@sio.on("connection")
async def on_connection(socket: hypersio.Socket) -> None:
    @socket.on("request")
    def on_request(a: int, callback: Callable[..., None]) -> None:
        callback({"status": "ok"})

    @socket.once("first")
    async def first(a: int) -> int:
        return a

    @socket.on_any
    def seen(event: str, *args: Any) -> None: ...

    @socket.on_any_outgoing
    def sent(event: str, *args: Any) -> None: ...

    @socket.use
    def check(event: list[Any]) -> None: ...

    socket.nsp.to("room").except_(socket.id).emit("joined", socket.id)

    reveal_type(on_request)
    reveal_type(first)
    reveal_type(seen)
    reveal_type(check)
    reveal_type(socket.on("plain", len))


@sio.use
async def auth(socket: hypersio.Socket) -> None: ...


admin = sio.of("/admin")


@admin.on("connection")
def on_admin(socket: hypersio.Socket) -> None: ...


@admin.once("connect")
def on_first_admin(socket: hypersio.Socket) -> None: ...


@admin.use
def admin_only(socket: hypersio.Socket) -> None: ...


client = hypersio.AsyncClient("http://localhost:3000")


@client.on("news")
def news(item: str) -> None: ...


@client.on_any
def anything(event: str, *args: Any) -> None: ...


reveal_type(on_connection)
reveal_type(auth)
reveal_type(on_admin)
reveal_type(on_first_admin)
reveal_type(admin_only)
reveal_type(news)
reveal_type(anything)
reveal_type(client.manager.socket("/admin"))
"""

REVEALED = [
    "def (a: int, callback: def (*Any, **Any))",
    "def (a: int) -> typing.Coroutine[Any, Any, int]",
    "def (event: str, *args: Any)",
    "def (event: list[Any])",
    "def (typing.Sized) -> int",
    "def (socket: hypersio.server.socket.Socket) -> typing.Coroutine[Any, Any, None]",
    "def (socket: hypersio.server.socket.Socket) -> typing.Coroutine[Any, Any, None]",
    "def (socket: hypersio.server.socket.Socket)",
    "def (socket: hypersio.server.socket.Socket)",
    "def (socket: hypersio.server.socket.Socket)",
    "def (item: str)",
    "def (event: str, *args: Any)",
    "hypersio.client.client.AsyncClient",
]


def test_decorated_handlers_keep_their_types_under_mypy_strict(tmp_path: Path) -> None:
    # mypy runs in a child process: in-process it raises the interpreter's recursion limit for the
    # rest of the test session, which changes what other tests see.
    pytest.importorskip("mypy", reason="mypy is in the lint extra")
    program = tmp_path / "app.py"
    program.write_text(textwrap.dedent(PROGRAM))
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\nmypy_path = {SRC}\n")
    options = ["--strict", "--follow-imports=silent", "--cache-dir", str(tmp_path / "cache")]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *options, "--config-file", str(config), str(program)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    stdout = result.stdout
    assert result.returncode == 0, stdout + result.stderr
    marker = 'Revealed type is "'
    revealed = [line.split(marker, 1)[1].rstrip('"') for line in stdout.splitlines() if marker in line]
    assert revealed == REVEALED
