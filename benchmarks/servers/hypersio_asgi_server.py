"""hypersio's benchmark application (hypersio.bench.runner.build_app) as hypersio.ASGIApp under uvicorn.

Usage: python hypersio_asgi_server.py --port P [--parser json|msgpack] [--ping-interval S] [--ping-timeout S]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import asgi_common

import hypersio
from hypersio.bench.runner import build_app

if __name__ == "__main__":
    args = asgi_common.parse_args()
    sio = build_app(args.parser, args.ping_interval, args.ping_timeout)
    asgi_common.serve(hypersio.ASGIApp(sio), args.port)
