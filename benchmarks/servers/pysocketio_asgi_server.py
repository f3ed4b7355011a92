"""python-socketio's benchmark server (pysocketio_server.build_sio) as socketio.ASGIApp under uvicorn.

Usage: python pysocketio_asgi_server.py --port P [--parser json|msgpack] [--ping-interval S] [--ping-timeout S]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import asgi_common
import socketio
from pysocketio_server import build_sio

if __name__ == "__main__":
    args = asgi_common.parse_args()
    sio = build_sio(args.parser, args.ping_interval, args.ping_timeout, "asgi")
    asgi_common.serve(socketio.ASGIApp(sio), args.port)
