"""The official Admin UI dashboard, in a real headless Chromium, lists this server's sockets.

The dashboard is the built ``ui/dist`` of the npm package ``@socket.io/admin-ui`` (tests/js),
served by a small static HTTP server on another port (so the dashboard reaches the hypersio
server cross-origin, with credentials, as from admin.socket.io). The page is told where to
connect the way the dashboard remembers it itself, in localStorage: the served index.html sets
the server URL and a session id that a login with the test credentials obtained first (the
dashboard's own session-id login). Chromium is driven over the DevTools protocol (tests/faces/
cdp.py): the sockets page must list every test client's socket id, and a screenshot of it is
saved under build/ (git-ignored) for whoever wants to look.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cdp import Chromium, find_chromium

import hypersio
from hypersio import admin

ROOT = Path(__file__).resolve().parents[2]
UI_DIST = ROOT / "tests" / "js" / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"
SCREENSHOT = ROOT / "build" / "admin-ui-sockets.png"
CREDENTIALS = {"type": "basic", "username": "admin", "password": "dashboard-test"}


def _require(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("HYPERSIO_REQUIRE_INTEROP"):
            pytest.fail(why)
        pytest.skip(why)


class _DashboardHandler(http.server.SimpleHTTPRequestHandler):
    """ui/dist as is, except index.html: no web fonts from CDNs (the tests run offline) and a
    first script that stores the connection settings where the dashboard reads them."""

    settings_script = ""

    def do_GET(self) -> None:
        if self.path.split("?")[0] not in ("/", "/index.html"):
            super().do_GET()
            return
        html = (UI_DIST / "index.html").read_text()
        for external in (
            '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto:100,300,400,500,700,900">',
            '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@mdi/font@latest/css/materialdesignicons.min.css">',
        ):
            html = html.replace(external, "")
        html = html.replace("<head>", "<head>" + self.settings_script, 1)
        body = html.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet test output


@pytest.fixture
def dashboard_server() -> Iterator[tuple[http.server.ThreadingHTTPServer, type[_DashboardHandler]]]:
    _require(UI_DIST.is_dir(), f"{UI_DIST} missing (run: npm ci --prefix tests/js)")
    handler = type("Handler", (_DashboardHandler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(UI_DIST)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


async def test_dashboard_lists_the_sockets(
    dashboard_server: tuple[http.server.ThreadingHTTPServer, type[_DashboardHandler]], tmp_path: Path
) -> None:
    binary = find_chromium()
    _require(binary is not None, "no Chromium (Debian: apt-get install chromium)")
    assert binary is not None
    static, handler = dashboard_server
    origin = f"http://127.0.0.1:{static.server_address[1]}"
    sio = hypersio.Server(cors_allowed_origins=[origin])
    sio.of("/chat").on("connection", lambda socket: socket.join("lobby"))
    ui = admin.instrument(sio, auth=CREDENTIALS)
    await sio.listen("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sio.engine.port}"
    clients = [
        hypersio.AsyncClient(url, transports=("websocket",), reconnection=False),
        hypersio.AsyncClient(url, transports=("polling",), reconnection=False),
        hypersio.AsyncClient(url + "/chat", reconnection=False),
    ]
    try:
        for client in clients:
            await client.connect()
        ids = [client.id for client in clients]
        # The dashboard's session-id login: obtain one with the credentials, as its form would.
        login = hypersio.AsyncClient(url + "/admin", auth={"username": "admin", "password": "dashboard-test"})
        session_id = asyncio.get_running_loop().create_future()
        login.on("session", session_id.set_result)
        await login.connect()
        sid = await asyncio.wait_for(session_id, 5)
        await login.disconnect()
        handler.settings_script = (
            "<script>"
            f"localStorage.setItem('server_url', '{url}');"
            "localStorage.setItem('namespace', '/admin');"
            f"localStorage.setItem('session_id', '{sid}');"
            "localStorage.setItem('ws_only', 'false');"
            "</script>"
        )

        def drive() -> tuple[str, str, int]:
            with Chromium(binary, tmp_path / "profile") as browser:
                # The sockets page lists the main namespace's sockets: both of them.
                browser.navigate(origin + "/#/sockets/")
                checks = " && ".join(f"document.body.innerText.includes('{i}')" for i in ids[:2])
                browser.wait_for(f"document.body && {checks}", timeout=30)
                text: str = browser.evaluate("document.body.innerText")
                size = browser.screenshot(SCREENSHOT)
                # The /chat socket's own page (same document: the dashboard stays connected).
                browser.navigate(origin + f"/#/n/%2Fchat/sockets/{ids[2]}")
                browser.wait_for(f"document.body.innerText.includes('{ids[2]}')", timeout=30)
                details: str = browser.wait_for("document.body.innerText.includes('lobby') && document.body.innerText")
                return text, details, size

        text, details, size = await asyncio.to_thread(drive)
        assert "WebSocket" in text
        assert "HTTP long-polling" in text
        assert "127.0.0.1" in text
        assert "lobby" in details  # the room the /chat socket joined
        assert size > 10_000  # a real rendering, not an empty page
        assert SCREENSHOT.stat().st_size == size
    finally:
        for client in clients:
            await client.disconnect()
        ui.close()
        await sio.close()
