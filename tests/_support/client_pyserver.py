"""The scenarios of tests/js/node_server.js on hypersio.Server, for the client tests."""

from __future__ import annotations

from typing import Any

import hypersio


class PyServer:
    """A hypersio.Server on 127.0.0.1 with the node_server.js scenarios (same events, same answers)."""

    def __init__(self, parser: str = "json", **options: Any) -> None:
        self.parser = parser
        self.sio = hypersio.Server(parser=parser, **options)
        self.port = 0
        self.reasons: dict[str, str] = {}
        for name in ("/", "/admin", "/auth"):
            self._setup(self.sio.of(name))
        self.sio.of("/auth").use(self._require_token)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on ``self.port`` (0 = a free port, remembered for restarts)."""
        engine = await self.sio.listen("127.0.0.1", self.port)
        self.port = engine.port

    async def stop(self) -> None:
        """Close the server (sockets see "server shutting down")."""
        await self.sio.close()

    @staticmethod
    async def _require_token(socket: Any) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise hypersio.ConnectError("not authorized", {"code": 42})

    def _setup(self, nsp: Any) -> None:
        reasons = self.reasons

        @nsp.on("connection")
        def on_connection(socket: Any) -> None:
            socket.on("disconnect", lambda reason, *rest: reasons.__setitem__(socket.id, reason))
            socket.on("echo", lambda *args: socket.emit("echo-back", *args))

            @socket.on("ack")
            def ack(*args: Any) -> None:
                if args and callable(args[-1]):
                    args[-1](*args[:-1])

            socket.on("no-ack", lambda *args: None)
            socket.on("ack-multi", lambda cb: cb(1, "two", b"\x03\x04"))

            @socket.on("ask")
            async def ask(event: str, *args: Any) -> None:
                cb = args[-1]
                try:
                    response = await socket.timeout(2).emit_with_ack(event, *args[:-1])
                except hypersio.AckTimeoutError as exc:
                    cb({"ok": False, "error": str(exc)})
                else:
                    cb({"ok": True, "response": response})

            @socket.on("join")
            def join(room: str, cb: Any) -> None:
                socket.join(room)
                cb(sorted(socket.rooms))

            socket.on("to-room", lambda room, event, *args: nsp.to(room).emit(event, *args))
            socket.on("broadcast", lambda event, *args: socket.broadcast.emit(event, *args))

            @socket.on("whoami")
            def whoami(cb: Any) -> None:
                cb(
                    {
                        "id": socket.id,
                        "nsp": nsp.name,
                        "auth": socket.handshake.auth,
                        "query": socket.handshake.query,
                        "headers": socket.handshake.headers,
                        "transport": socket.conn.transport,
                    }
                )

            socket.on("disconnect-me", lambda: socket.disconnect())
            socket.on("close-transport", lambda: socket.conn.close())
            socket.on("reason-of", lambda sid, cb: cb(reasons.get(sid)))
