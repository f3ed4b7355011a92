"""Issue 12's options and events on a real server: TLS (listen and serve --certfile), the origin
check and CORS credentials, allow_request, allow_upgrades, new_namespace,
cleanup_empty_child_namespaces, socket.request, and the client's ``disconnected``."""

from __future__ import annotations

import asyncio
import re
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import hypersio
from _support import child_env


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _client_context(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    return context


async def _get(url: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None) -> Any:
    def fetch() -> Any:
        request = urllib.request.Request(url, headers=headers or {})
        try:
            with urllib.request.urlopen(request, context=context, timeout=5) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    return await asyncio.get_running_loop().run_in_executor(None, fetch)


async def test_tls_listen_serves_https_and_wss(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    sio = hypersio.Server()
    sio.on("connection", lambda s: s.on("echo", lambda x: x))
    await sio.listen("127.0.0.1", 0, ssl=server_context)
    try:
        for transports in (("polling",), ("websocket",), ("polling", "websocket")):
            client = hypersio.AsyncClient(
                f"https://127.0.0.1:{sio.engine.port}", transports=transports, ssl=_client_context(cert)
            )
            await client.connect()
            assert await client.timeout(3).emit_with_ack("echo", "over tls") == "over tls"
            await client.disconnect()
            assert client.disconnected
        status, _, body = await _get(
            f"https://127.0.0.1:{sio.engine.port}/socket.io/?EIO=4&transport=polling", context=_client_context(cert)
        )
        assert status == 200 and body.startswith(b'0{"sid"')
    finally:
        await sio.close()


async def test_serve_with_certfile(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = certificate
    (tmp_path / "tlsapp.py").write_text("import hypersio\nsio = hypersio.Server()\n")
    env = child_env()
    env["PYTHONPATH"] = f"{tmp_path}:{env.get('PYTHONPATH', '')}"
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hypersio",
            "serve",
            "tlsapp:sio",
            "--port",
            str(port),
            "--certfile",
            str(cert),
            "--keyfile",
            str(key),
        ],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
        assert re.search(rb"https://127\.0\.0\.1:\d+", line), line
        for _ in range(100):
            try:
                status, _, body = await _get(
                    f"https://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", context=_client_context(cert)
                )
                break
            except OSError:
                await asyncio.sleep(0.05)
        assert status == 200 and body.startswith(b'0{"sid"')
    finally:
        proc.terminate()
        proc.wait(10)


async def test_origin_check_and_cors_credentials() -> None:
    same = hypersio.Server()
    listed = hypersio.Server(cors_allowed_origins=["https://app.example"])
    anyone = hypersio.Server(cors_allowed_origins="*")
    anyone_creds = hypersio.Server(cors_allowed_origins="*", cors_credentials=True)
    servers = [same, listed, anyone, anyone_creds]
    for sio in servers:
        await sio.listen("127.0.0.1", 0)
    try:

        def url(sio: hypersio.Server) -> str:
            return f"http://127.0.0.1:{sio.engine.port}/socket.io/?EIO=4&transport=polling"

        # same origin only: a foreign Origin is refused, the server's own one and none pass
        assert (await _get(url(same), {"Origin": "https://evil.example"}))[0] == 400
        assert (await _get(url(same), {"Origin": f"http://127.0.0.1:{same.engine.port}"}))[0] == 200
        assert (await _get(url(same)))[0] == 200
        assert (await _get(url(listed), {"Origin": "https://evil.example"}))[0] == 400
        status, headers, _ = await _get(url(listed), {"Origin": "https://app.example"})
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert headers["Access-Control-Allow-Credentials"] == "true"
        status, headers, _ = await _get(url(anyone), {"Origin": "https://evil.example"})
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in headers
        status, headers, _ = await _get(url(anyone_creds), {"Origin": "https://evil.example"})
        assert headers["Access-Control-Allow-Origin"] == "https://evil.example"
        assert headers["Access-Control-Allow-Credentials"] == "true"
    finally:
        for sio in servers:
            await sio.close()


async def test_allow_request_and_allow_upgrades() -> None:
    seen: list[Any] = []

    async def allow(request: Any) -> bool:
        seen.append(request.query.get("token"))
        return request.query.get("token") == "yes"

    sio = hypersio.Server(allow_request=allow, allow_upgrades=False)
    await sio.listen("127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{sio.engine.port}/socket.io/?EIO=4&transport=polling"
        assert (await _get(base + "&token=no"))[0] == 403
        status, _, body = await _get(base + "&token=yes")
        assert status == 200 and b'"upgrades":[]' in body
        assert seen == ["no", "yes"]
        client = hypersio.AsyncClient(
            f"http://127.0.0.1:{sio.engine.port}", transports=("polling", "websocket"), query={"token": "yes"}
        )
        await client.connect()
        await asyncio.sleep(0.3)
        assert client.transport == "polling"  # no upgrade offered
        await client.disconnect()
    finally:
        await sio.close()


async def test_new_namespace_cleanup_and_socket_request() -> None:
    sio = hypersio.Server(cleanup_empty_child_namespaces=True)
    created: list[str] = []
    sio.on("new_namespace", lambda nsp: created.append(nsp.name))
    requests: list[Any] = []
    dynamic = sio.of(re.compile(r"^/room-\d+$"))
    dynamic.on("connection", lambda s: requests.append(s.request))
    sio.of("/static")
    await sio.listen("127.0.0.1", 0)
    try:
        client = hypersio.AsyncClient(f"http://127.0.0.1:{sio.engine.port}/room-7", transports=("websocket",))
        await client.connect()
        assert created == ["/static", "/room-7"]
        assert requests[0].query["EIO"] == "4" and requests[0].path.startswith("/socket.io")
        assert "/room-7" in sio.namespaces
        await client.disconnect()
        await asyncio.sleep(0.2)
        assert "/room-7" not in sio.namespaces
        assert "/static" in sio.namespaces  # not a dynamic child: kept
    finally:
        await sio.close()


async def test_connection_error_header_hooks_and_cookie() -> None:
    sio = hypersio.Server(cookie=True)
    errors: list[Any] = []
    sio.engine.on("connection_error", errors.append)

    def initial(headers: dict[str, str], request: Any) -> None:
        headers["X-Handshake"] = request.query.get("transport", "")

    def every(headers: dict[str, str], request: Any) -> None:
        headers["X-Every"] = "1"

    sio.engine.on("initial_headers", initial)
    sio.engine.on("headers", every)
    await sio.listen("127.0.0.1", 0)
    port = sio.engine.port
    try:
        base = f"http://127.0.0.1:{port}/socket.io/?EIO=4"
        status, headers, body = await _get(base + "&transport=polling")
        assert status == 200
        sid = body.split(b'"sid":"')[1].split(b'"')[0].decode()
        assert headers["Set-Cookie"] == f"io={sid}; Path=/; HttpOnly; SameSite=Lax"
        assert headers["X-Handshake"] == "polling" and headers["X-Every"] == "1"
        # refusals reach connection_error with the engine's code and message; "headers" hooks
        # run on every response, the handshake ones only on handshakes
        status, headers, _ = await _get(base + "&transport=carrier-pigeon")
        assert status == 400 and headers["X-Every"] == "1"
        assert "X-Handshake" not in headers and "Set-Cookie" not in headers
        assert (await _get(base + "&transport=polling&sid=nope"))[0] == 400
        assert [(e.code, e.message) for e in errors] == [(0, "Transport unknown"), (1, "Session ID unknown")]
        assert errors[1].request.query["sid"] == "nope"
        # a WebSocket handshake's 101 carries them too
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
        assert head.startswith(b"HTTP/1.1 101")
        assert b"X-Handshake: websocket\r\n" in head and b"Set-Cookie: io=" in head and b"X-Every: 1" in head
    finally:
        await sio.close()
