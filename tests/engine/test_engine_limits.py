"""Issue 13's connection budget and handshake fixes: max_connections refuses with 503 while the
connected clients keep being served, the open files limit is raised (and a server under a low
hard limit refuses cleanly instead of resetting), 426 names the WebSocket version, a client that
never joins a namespace is dropped at connect_timeout, and duplicate CONNECTs end the connection."""

from __future__ import annotations

import asyncio
import sys
import textwrap

import hypersio
from _support import child_env


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


async def test_max_connections_refuses_new_ones_and_serves_the_rest() -> None:
    sio = hypersio.Server(max_connections=5)
    sio.on("connection", lambda s: s.on("echo", lambda x: x))
    await sio.listen("127.0.0.1", 0)
    port = sio.engine.port
    canary = hypersio.AsyncClient(f"http://127.0.0.1:{port}", transports=("websocket",))
    idle: list[asyncio.StreamWriter] = []
    try:
        await canary.connect()
        for _ in range(4):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            idle.append(writer)
        await asyncio.sleep(0.1)
        answer = await _raw(port, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503")
        assert await canary.timeout(2).emit_with_ack("echo", "still here") == "still here"
        for writer in idle:
            writer.close()
        await asyncio.sleep(0.2)
        answer = await _raw(port, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
    finally:
        await canary.disconnect()
        await sio.close()


async def test_a_low_fd_limit_is_refused_cleanly() -> None:
    # A server whose soft and hard limits are 128 open files cannot raise them: it derives
    # max_connections from them and answers clients past it with 503 instead of failing accept
    # (which resets every new client); the clients it holds keep being served.
    code = textwrap.dedent(
        """
        import asyncio, resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
        import hypersio

        async def main():
            sio = hypersio.Server()
            sio.on("connection", lambda s: s.on("echo", lambda x: x))
            await sio.listen("127.0.0.1", 0)
            print(sio.engine.port, sio.engine.max_connections, flush=True)
            await asyncio.sleep(30)

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, env=child_env()
    )
    held: list[asyncio.StreamWriter] = []
    try:
        assert proc.stdout is not None
        port_s, limit_s = (await asyncio.wait_for(proc.stdout.readline(), 15)).split()
        port, limit = int(port_s), int(limit_s)
        assert limit == 128 - 64
        canary = hypersio.AsyncClient(f"http://127.0.0.1:{port}", transports=("websocket",))
        await canary.connect()
        for _ in range(limit - 1):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            held.append(writer)
        await asyncio.sleep(0.3)
        for _ in range(3):
            answer = await _raw(port, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 503")
        assert await canary.timeout(2).emit_with_ack("echo", "served") == "served"
        await canary.disconnect()
    finally:
        for writer in held:
            writer.close()
        proc.kill()
        await proc.wait()


async def test_unsupported_websocket_version_gets_426() -> None:
    sio = hypersio.Server()
    await sio.listen("127.0.0.1", 0)
    try:
        answer = await _raw(
            sio.engine.port,
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 426")
        assert b"Sec-WebSocket-Version: 13" in answer
    finally:
        await sio.close()


async def test_never_connecting_polling_session_is_gone_at_connect_timeout() -> None:
    sio = hypersio.Server(connect_timeout=0.3)
    await sio.listen("127.0.0.1", 0)
    try:
        answer = await _raw(sio.engine.port, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b'"sid"' in answer
        assert len(sio.engine.sessions) == 1
        await asyncio.sleep(0.6)
        assert len(sio.engine.sessions) == 0  # not kept routable for ping_timeout (20 s)
    finally:
        await sio.close()


async def test_duplicate_connects_are_logged_once_then_close(caplog) -> None:  # type: ignore[no-untyped-def]
    sio = hypersio.Server()
    await sio.listen("127.0.0.1", 0)
    client = hypersio.AsyncClient(f"http://127.0.0.1:{sio.engine.port}", transports=("websocket",), reconnection=False)
    try:
        await client.connect()
        for _ in range(30):
            client.manager.send_packet(0, "/", None, None)  # CONNECT again for "/"
        await asyncio.sleep(0.3)
        lines = [r for r in caplog.records if "CONNECT" in r.getMessage()]
        assert len(lines) == 2  # the first duplicate, then the closing line
        assert not client.connected
    finally:
        await client.disconnect()
        await sio.close()


async def _handshake_from(port: int, source: str, headers: str = "") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(f"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


async def test_handshake_rate_limit_per_address() -> None:
    # only 127.0.0.1 is a trusted proxy here, so 127.0.0.2 stands for a client on the network
    sio = hypersio.Server(handshake_rate_limit=(5, 1), trusted_proxies=("127.0.0.1",))
    sio.on("connection", lambda s: s.on("echo", lambda x: x))
    await sio.listen("127.0.0.1", 0)
    port = sio.engine.port
    try:
        answers = [await _handshake_from(port, "127.0.0.2") for _ in range(8)]
        statuses = [a.split(b"\r\n")[0] for a in answers]
        assert statuses[:5] == [b"HTTP/1.1 200 OK"] * 5
        assert all(s.startswith(b"HTTP/1.1 429") for s in statuses[5:])
        # behind a trusted proxy (loopback) the forwarded client address is what counts ...
        proxied = [await _handshake_from(port, "127.0.0.1", "X-Forwarded-For: 10.1.2.3\r\n") for _ in range(7)]
        assert [a.startswith(b"HTTP/1.1 200") for a in proxied] == [True] * 5 + [False] * 2
        # ... and the proxy itself, and other addresses, are not affected
        for _ in range(10):
            assert (await _handshake_from(port, "127.0.0.1")).startswith(b"HTTP/1.1 200")
        canary = hypersio.AsyncClient(f"http://127.0.0.1:{port}", transports=("polling",))
        await canary.connect()
        assert await canary.timeout(2).emit_with_ack("echo", 1) == 1
        await canary.disconnect()
    finally:
        await sio.close()


async def test_unjoined_connections_are_capped() -> None:
    sio = hypersio.Server(max_unjoined_connections=3, connect_timeout=0.5)
    await sio.listen("127.0.0.1", 0)
    port = sio.engine.port
    try:
        for _ in range(10):
            await _handshake_from(port, "127.0.0.1")  # sessions that never send CONNECT
        await asyncio.sleep(0.05)
        assert len(sio.engine.sessions) <= 3
        await asyncio.sleep(0.7)  # their connect_timeout passes: room again for real clients
        canary = hypersio.AsyncClient(f"http://127.0.0.1:{port}", transports=("websocket",))
        await canary.connect()
        assert canary.connected
        await canary.disconnect()
    finally:
        await sio.close()
