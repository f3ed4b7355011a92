"""``hypersio.ASGIApp``: a hypersio server as an ASGI 3 application, beside a FastAPI or Starlette app.

::

    app = FastAPI()
    sio = hypersio.Server()
    asgi = hypersio.ASGIApp(sio, other_app=app)   # uvicorn module:asgi

Requests for the server's path (``/socket.io/``) are Engine.IO long-polling and WebSocket,
served by the same engine as ``sio.listen`` through the ASGI driver
(``hypersio.engine.server.asgi``); everything else goes to ``other_app``, or gets 404 without
one. Lifespan events are passed on to ``other_app``; at startup the server gets ready (the
adapters' ``init()``, as ``listen`` does) and at shutdown it closes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypersio.engine.outlet import logger
from hypersio.engine.server.asgi import Message, Receive, Scope, Send, serve_http, serve_websocket
from hypersio.engine.server.routing import path_matches
from hypersio.server.server import Server

__all__ = ["ASGIApp"]


class ASGIApp:
    """An ASGI 3 application serving ``sio`` and, for every other path, ``other_app``.

    Run it with any ASGI server (``uvicorn module:app``, hypercorn). ``other_app`` is an ASGI
    application (FastAPI, Starlette, another framework) that gets every request outside
    ``sio.path`` and the lifespan events; without it those requests get 404. The server starts
    at the ASGI lifespan startup, or with the first request when the ASGI server sends no
    lifespan events, and closes at the lifespan shutdown.
    """

    def __init__(self, sio: Server, other_app: Any = None) -> None:
        self.sio = sio
        self.other_app = other_app
        self._engine: Any = None
        self._starting: asyncio.Future[Any] | None = None

    def __repr__(self) -> str:
        return f"<hypersio.ASGIApp {self.sio!r} other_app={self.other_app!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point: route one connection (HTTP, WebSocket or lifespan)."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind in ("http", "websocket") and path_matches(self.sio.engine.options, scope.get("path", "")):
            engine = await self.start()
            if kind == "http":
                await serve_http(engine, engine.options, scope, receive, send)
            else:
                await serve_websocket(engine, engine.options, scope, receive, send)
            return
        if self.other_app is not None:
            await self.other_app(scope, receive, send)
        elif kind == "http":
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"Not Found"})
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def start(self) -> Any:
        """Get the server ready (once; lifespan startup or the first request): return its engine."""
        if self._engine is not None:
            return self._engine
        if self._starting is None:
            self._starting = asyncio.ensure_future(self.sio.start_external())
        self._engine = await asyncio.shield(self._starting)
        return self._engine

    async def close(self) -> None:
        """Close the server (every client gets "server shutting down"); lifespan shutdown calls it."""
        starting, self._starting = self._starting, None
        self._engine = None
        if starting is not None:
            await self.sio.close()

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.other_app is None:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        await self.start()
                    except Exception as exc:
                        logger.exception("hypersio could not start")
                        await send({"type": "lifespan.startup.failed", "message": str(exc)})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

        async def passed_on() -> Message:
            # Ours first at startup (the app's startup may already emit); at shutdown the
            # clients are told before the app's own resources go away.
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
            elif message["type"] == "lifespan.shutdown":
                await self.close()
            return message

        await self.other_app(scope, passed_on, send)
