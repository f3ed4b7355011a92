"""What the two ASGI benchmark servers share: their options and one way of running uvicorn.

Both run under the same uvicorn, on uvloop with httptools and uvicorn's default WebSocket
implementation, one process, access log off, so the comparison is between the Socket.IO
servers and not between ASGI set-ups.
"""

from __future__ import annotations

import argparse
import resource
from typing import Any


def parse_args() -> argparse.Namespace:
    """The benchmark control protocol's server options (see node_server.js)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--parser", default="json")
    ap.add_argument("--ping-interval", type=float, default=25.0)
    ap.add_argument("--ping-timeout", type=float, default=20.0)
    return ap.parse_args()


def serve(app: Any, port: int) -> None:
    """Serve ``app`` with uvicorn on 127.0.0.1:``port`` until SIGTERM."""
    import uvicorn

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"READY {port}", flush=True)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        backlog=4096,
    )
