"""Issue 13: a client joining and leaving thousands of distinct dynamic namespaces must not leave
them behind when ``cleanup_empty_child_namespaces`` is on (they were kept forever: 50,000 names,
+202 MB), while a canary in another child namespace keeps being served."""

from __future__ import annotations

import asyncio
import re

import hypersio


async def test_thousands_of_dynamic_namespaces_are_freed() -> None:
    sio = hypersio.Server(cleanup_empty_child_namespaces=True)
    dynamic = sio.of(re.compile(r"^/dyn-\d+$"))
    dynamic.on("connection", lambda s: s.on("echo", lambda x: x))
    await sio.listen("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sio.engine.port}"
    canary = hypersio.AsyncClient(url + "/dyn-0", transports=("websocket",))
    attacker = hypersio.AsyncClient(url, transports=("websocket",))
    try:
        await canary.connect()
        baseline = len(sio.namespaces)
        await attacker.connect()
        manager = attacker.manager
        for i in range(1, 3001):
            manager.send_packet(0, f"/dyn-{i}", None, None)  # CONNECT
            manager.send_packet(1, f"/dyn-{i}", None, None)  # DISCONNECT
            if i % 200 == 0:
                await asyncio.sleep(0.01)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if len(sio.namespaces) <= baseline:
                break
        assert len(sio.namespaces) <= baseline, len(sio.namespaces)
        assert len(dynamic.children) == 1  # the canary's
        assert await canary.timeout(2).emit_with_ack("echo", "still") == "still"
    finally:
        await attacker.disconnect()
        await canary.disconnect()
        await sio.close()
