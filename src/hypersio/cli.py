"""``python -m hypersio``: ``bench`` (the fan-out benchmark) and ``serve MODULE:ATTR``."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any


def _load(target: str) -> Any:
    """Import ``MODULE:ATTR`` (ATTR may be dotted) and return the attribute."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise SystemExit(f"expected MODULE:ATTR, got {target!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: the current directory's modules are importable
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _load_server(app: str) -> Any:
    server = _load(app)
    if callable(server) and not hasattr(server, "run"):
        server = server()  # a factory returning the Server
    if not hasattr(server, "run"):
        raise SystemExit(f"{app} is not a hypersio.Server (it has no run method)")
    return server


def serve_command(args: argparse.Namespace) -> int:
    """Serve an application's ``hypersio.Server`` until interrupted (with ``--workers N``, in N
    processes behind one port; see ``hypersio.workers``)."""
    import logging

    if args.worker:
        import socket

        from hypersio.engine import workers

        index, _, fd = args.worker.partition(":")
        server = _load_server(args.app)
        server.prepare_worker(int(index), args.workers, args.cluster_dir)
        workers.run_worker(server, socket.socket(fileno=int(fd)), int(index))
        return 0
    if args.workers > 1 and args.certfile:
        raise SystemExit("--workers routes by session id, which TLS hides: terminate TLS in front of the workers")
    if args.workers > 1:
        import shutil
        import tempfile

        from hypersio.engine import workers

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        cluster_dir = tempfile.mkdtemp(prefix="hypersio-workers-")
        extra = ["--workers", str(args.workers), "--cluster-dir", cluster_dir]
        primary = workers.Primary(args.host, args.port, args.workers, workers.spawn_starter(args.app, extra))
        primary.bind()
        print(
            f"hypersio: serving {args.app} on http://{args.host}:{primary.port} with {args.workers} workers", flush=True
        )
        try:
            return primary.run()
        finally:
            shutil.rmtree(cluster_dir, ignore_errors=True)  # the workers' sockets live here
    server = _load_server(args.app)
    context = None
    if args.certfile:
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.certfile, args.keyfile or None)
    scheme = "https" if context is not None else "http"
    print(f"hypersio: serving {args.app} on {scheme}://{args.host}:{args.port}", flush=True)
    try:
        server.run(host=args.host, port=args.port, ssl=context)
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m hypersio`` and of the ``hypersio`` console script."""
    ap = argparse.ArgumentParser(prog="hypersio", description="hypersio command line")
    sub = ap.add_subparsers(dest="command", required=True)

    from hypersio.bench import runner as _bench

    bench = sub.add_parser("bench", help="run the broadcast fan-out benchmark against hypersio")
    _bench.add_bench_arguments(bench)
    bench.set_defaults(func=_bench.bench_command)

    serve = sub.add_parser("serve", help="serve an application's hypersio.Server")
    serve.add_argument("app", metavar="MODULE:ATTR", help="e.g. myapp:sio")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes behind the port (default 1)")
    serve.add_argument("--certfile", default="", help="TLS certificate chain (PEM): serve HTTPS and WSS")
    serve.add_argument("--keyfile", default="", help="the certificate's private key (PEM), if not in --certfile")
    # internal: how the primary starts each worker
    serve.add_argument("--worker", default="", help=argparse.SUPPRESS)
    serve.add_argument("--cluster-dir", default="", help=argparse.SUPPRESS)
    serve.set_defaults(func=serve_command)

    args = ap.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
