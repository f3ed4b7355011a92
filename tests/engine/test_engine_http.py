"""HTTP/1.1 layer: keep-alive, pipelining, chunked bodies, limits, malformed input, idle peers."""

from __future__ import annotations

import asyncio
import json

import pytest
import uvloop

from _support import child_env
from _support.eio_client import Harness, attach_echo, split_payload


async def test_tests_run_on_uvloop(echo: Harness) -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


async def test_outside_path_is_404(echo: Harness) -> None:
    client = await echo.http()
    res = await client.request("GET", "/other/?EIO=4&transport=polling")
    assert res.status == 404
    res = await client.request("GET", "/engine.io?EIO=4&transport=polling")  # no trailing slash is fine
    assert res.status == 200


async def test_pipelined_requests_are_answered_in_order(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    client = await echo.http()
    base = f"/engine.io/?EIO=4&transport=polling&sid={sid}"
    body = b"4pipelined"
    client.send_raw(
        b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
        + f"POST {base} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
        + f"GET {base} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        + b"GET /engine.io/?EIO=4&transport=polling&sid=unknown HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    first = await client.read_response()
    second = await client.read_response()
    third = await client.read_response()
    fourth = await client.read_response()
    assert [first.status, second.status, third.status, fourth.status] == [404, 200, 200, 400]
    assert second.body == b"ok"
    assert third.text == "4pipelined"
    assert fourth.json()["code"] == 1


async def test_requests_behind_a_pending_poll_wait_their_turn(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    client = await echo.http()
    client.send_raw(
        f"GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        + b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    await asyncio.sleep(0.05)
    echo.server.sessions[sid].send("now")
    assert (await client.read_response()).text == "4now"
    assert (await client.read_response()).status == 404


async def test_chunked_post(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    client = await echo.http()
    client.send_raw(
        f"POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\n4ab\r\n4\r\n\x1e4cd\r\n0\r\n\r\n".encode()
    )
    assert (await client.read_response()).body == b"ok"
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert split_payload(res.text) == ["4ab", "4cd"]


async def test_chunked_post_over_limit_is_413(make_server) -> None:
    harness = await make_server(max_http_buffer_size=100)
    attach_echo(harness)
    sid = (await harness.handshake())["sid"]
    client = await harness.http()
    chunk = "4" + "x" * 79
    client.send_raw(
        f"POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"
        f"Transfer-Encoding: chunked\r\n\r\n50\r\n{chunk}\r\n50\r\n{chunk}\r\n0\r\n\r\n".encode()
    )
    assert (await client.read_response()).status == 413
    assert await client.at_eof()
    assert harness.closes == [(sid, "transport error")]


async def test_malformed_http_is_400_and_close(echo: Harness) -> None:
    client = await echo.http()
    client.send_raw(b"THIS IS NOT HTTP\r\n\r\n")
    res = await client.read_response()
    assert res.status == 400
    assert await client.at_eof()


async def test_huge_headers_are_refused(echo: Harness) -> None:
    client = await echo.http()
    client.send_raw(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    res = await client.read_response()
    assert res.status == 431
    assert await client.at_eof()


async def test_http10_without_keepalive_closes(echo: Harness) -> None:
    client = await echo.http()
    client.send_raw(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.0\r\n\r\n")
    res = await client.read_response()
    assert res.status == 200 and res.headers["connection"] == "close"
    assert await client.at_eof()


async def test_http10_keepalive_is_confirmed(echo: Harness) -> None:
    client = await echo.http()
    request = b"GET /engine.io/?EIO=4&transport=polling HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    client.send_raw(request)
    res = await client.read_response()
    assert res.status == 200 and res.headers["connection"] == "keep-alive"
    client.send_raw(request)
    assert (await client.read_response()).status == 200


async def test_connection_close_header(echo: Harness) -> None:
    res = await echo.get("EIO=4&transport=polling", headers={"Connection": "close"})
    assert res.status == 200 and res.headers.get("connection") == "close"


async def test_silent_client_is_disconnected(make_server) -> None:
    harness = await make_server(http_idle_timeout=0.2)
    silent = await harness.http()
    partial = await harness.http()
    partial.send_raw(b"GET /engine.io/?EIO=4&trans")  # and never finishes
    assert await silent.at_eof(timeout=2)
    assert await partial.at_eof(timeout=2)
    assert not harness.server.connections


async def test_keepalive_connection_idle_timeout(make_server) -> None:
    harness = await make_server(http_idle_timeout=0.2)
    client = await harness.http()
    assert (await client.request("GET", harness.url("EIO=4&transport=polling"))).status == 200
    assert await client.at_eof(timeout=2)


async def test_bad_client_does_not_disturb_another(echo: Harness) -> None:
    good, _fields = await echo.ws_session()
    good_poll_sid = (await echo.handshake())["sid"]
    bad = await echo.http()
    bad.send_raw(b"\x00\x01\x02 garbage \xff\r\n\r\n")
    assert await bad.at_eof()
    bad_ws, bad_fields = await echo.ws_session()
    bad_ws.writer.write(b"\x8f\x80\x00\x00\x00\x00")  # unknown opcode
    await bad_ws.closed()
    good.send_text("4still fine")
    assert await good.recv() == (1, "4still fine")
    await echo.post(f"EIO=4&transport=polling&sid={good_poll_sid}", "4me too")
    assert (await echo.get(f"EIO=4&transport=polling&sid={good_poll_sid}")).text == "4me too"
    assert echo.closes == [(bad_fields["sid"], "transport error")]


async def test_server_close_closes_every_session(echo: Harness) -> None:
    ws_client, ws_fields = await echo.ws_session()
    poll_sid = (await echo.handshake())["sid"]
    idle_sid = (await echo.handshake())["sid"]
    poller = await echo.http()
    poller.send_raw(f"GET /engine.io/?EIO=4&transport=polling&sid={poll_sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await asyncio.sleep(0.05)
    await asyncio.wait_for(echo.server.close(), 3)
    assert sorted(echo.closes) == sorted(
        [
            (ws_fields["sid"], "server shutting down"),
            (poll_sid, "server shutting down"),
            (idle_sid, "server shutting down"),
        ]
    )
    assert (await poller.read_response()).text == "1"
    assert await ws_client.closed() == (1000, "")
    assert not echo.server.sessions
    try:
        await asyncio.open_connection("127.0.0.1", echo.port)
    except OSError:
        pass
    else:  # pragma: no cover - only if the port was reused at once
        raise AssertionError("server still accepting")


async def test_slow_reader_is_closed_with_bounded_memory(make_server) -> None:
    harness = await make_server(write_buffer_high_water=64 * 1024, write_buffer_limit=256 * 1024)
    attach_echo(harness)
    reader, writer, _ = await harness.ws_upgrade_request("EIO=4&transport=websocket")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    # stop reading: pause our side so the kernel buffers fill up
    writer.transport.pause_reading()
    session = next(iter(harness.server.sessions.values()))
    chunk = "x" * 65536
    dropped_volatile = False
    for _ in range(2000):  # bounded: at most ~128 MiB offered, the limit must stop it far earlier
        if session.closed:
            break
        conn = session.carrier.conn
        if conn.congested():
            before = conn.buffered_size()
            session.send("v", volatile=True)
            dropped_volatile = dropped_volatile or conn.buffered_size() == before
        session.send(chunk)
        await asyncio.sleep(0)
        assert conn.buffered_size() <= 256 * 1024 + 2 * len(chunk) + 64
    assert session.closed
    assert dropped_volatile
    assert harness.closes == [(session.id, "transport error")]


async def test_poller_that_never_polls_is_closed_past_the_limit(make_server) -> None:
    harness = await make_server(write_buffer_high_water=10_000, write_buffer_limit=50_000)
    attach_echo(harness)
    sid = (await harness.handshake())["sid"]
    session = harness.server.sessions[sid]
    for _ in range(100):
        session.send("x" * 1000)
    assert not session.closed  # never inside send(): the caller may be iterating over sessions
    await asyncio.sleep(0)
    assert session.closed
    assert harness.closes == [(sid, "transport error")]
    assert json.loads((await harness.get(f"EIO=4&transport=polling&sid={sid}")).body)["code"] == 1


async def test_expect_100_continue(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    client = await echo.http()
    client.send_raw(
        f"POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 6\r\nExpect: 100-continue\r\n\r\n".encode()
    )
    interim = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), 3)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    client.send_raw(b"4hello")
    assert (await client.read_response()).body == b"ok"
    assert (await echo.get(f"EIO=4&transport=polling&sid={sid}")).text == "4hello"


async def test_pipeline_flood_is_refused(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    client = await echo.http()
    # a pending poll first, so nothing behind it can be answered
    flood = f"GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n"
    flood += "GET /x HTTP/1.1\r\nHost: x\r\n\r\n" * 1000
    client.send_raw(flood.encode())
    assert await client.at_eof()
    assert len(echo.server.connections) <= 1


async def test_websocket_burst_over_the_limit_closes_at_end_of_turn(make_server) -> None:
    harness = await make_server(write_buffer_high_water=16 * 1024, write_buffer_limit=64 * 1024)
    attach_echo(harness)
    client, fields = await harness.ws_session()
    session = harness.server.sessions[fields["sid"]]
    for _ in range(20):
        session.send("y" * 10_000)  # 200 kB in one turn
    assert not session.closed
    conn = session.carrier.conn
    assert conn.buffered_size() <= 64 * 1024 + 10_010  # data past the limit is not even buffered
    await asyncio.sleep(0.01)
    assert session.closed
    assert harness.closes == [(fields["sid"], "transport error")]
    assert await client.closed() is None  # aborted: no close frame behind 64 kB of backlog


async def test_endless_header_line_is_refused(echo: Harness, caplog: pytest.LogCaptureFixture) -> None:
    client = await echo.http()
    client.send_raw(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nX-Endless: ")
    for _ in range(10):  # 80 kB of one header value, never terminated
        try:
            client.send_raw(b"b" * 8192)
        except (ConnectionError, RuntimeError):  # the server already hung up: fine
            break
        await asyncio.sleep(0.005)
    for _ in range(100):
        if not echo.server.connections:
            break
        await asyncio.sleep(0.01)
    assert not echo.server.connections  # dropped long before the 80 kB were buffered
    assert "request head too large" in caplog.text


async def test_run_serves_until_sigterm(tmp_path) -> None:
    import signal
    import socket
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = (
        "import logging, sys\n"
        "from hypersio.engine import Server\n"
        "server = Server()\n"
        "server.on('connection', lambda s: s.on('close', lambda r, d: print('closed', r, flush=True)))\n"
        f"server.run('127.0.0.1', {port})\n"
        "print('stopped', flush=True)\n"
    )
    env = child_env()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(200):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.02)
        else:
            raise AssertionError("server did not start")
        writer.write(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        assert head.startswith(b"HTTP/1.1 200")
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 4)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    assert stdout.decode().splitlines() == ["closed server shutting down", "stopped"]


async def test_tls(tmp_path, make_server) -> None:
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=20,
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    from _support.eio_client import HttpClient
    from hypersio.engine import Server

    server = Server()
    sessions = []
    server.on("connection", sessions.append)
    await server.listen("127.0.0.1", 0, ssl=server_ctx)
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))
        client_ctx.check_hostname = False
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=client_ctx)
        client = HttpClient(reader, writer)
        res = await client.request("GET", "/engine.io/?EIO=4&transport=polling")
        assert res.status == 200 and res.text[0] == "0"
        assert sessions[0].request.secure is True
        sessions[0].send("over tls")
        sid = json.loads(res.text[1:])["sid"]
        res = await client.request("GET", f"/engine.io/?EIO=4&transport=polling&sid={sid}")
        assert res.text == "4over tls"
        client.close()
    finally:
        await server.close()


async def test_listen_binds_ip_literals_itself_and_resolves_names_through_the_loop() -> None:
    # IP literals are bound without getaddrinfo (so libuv starts no resolver threads); names
    # still go through the loop. Both must serve.
    import socket

    from hypersio.engine.server.server import Server, _bind_literal

    assert _bind_literal("localhost", 0) is None and _bind_literal("", 0) is None
    sock = _bind_literal("127.0.0.1", 0)
    assert sock is not None and sock.getsockname()[0] == "127.0.0.1"
    sock.close()
    hosts = ["127.0.0.1", "localhost"]
    if socket.has_ipv6:
        try:
            probe = _bind_literal("::1", 0)
        except OSError:
            probe = None
        if probe is not None:
            probe.close()
            hosts.append("::1")
    for host in hosts:
        server = Server()
        await server.listen(host, 0)
        try:
            family = socket.AF_INET6 if host == "::1" else socket.AF_INET
            reader, writer = await asyncio.open_connection(
                "::1" if host == "::1" else "127.0.0.1", server.port, family=family
            )
            writer.write(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200"), (host, head)
            writer.close()
        finally:
            await server.close()
