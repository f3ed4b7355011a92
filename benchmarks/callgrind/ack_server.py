"""Instruction counts of the server alone on the ack path: the benchmark server under callgrind,
driven from outside by a raw client, so none of the client's work is counted.

The server is ``python -m hypersio.bench.runner`` (the benchmark application: ``echo`` returns its
argument as the ack) under ``valgrind --tool=callgrind``; the client, in this process, opens
``--clients`` WebSocket sessions and sends ``N`` requests over them, ``--batch`` per write with one
batch in flight per client (``--batch 1``: a closed loop, one request in flight), then stops the
server with SIGTERM so that callgrind writes its profile. Two runs with different ``N`` give the
cost of one ack as the slope, free of start-up and shutdown:

    python benchmarks/callgrind/ack_server.py --acks 2000 --out /tmp/cg.a
    python benchmarks/callgrind/ack_server.py --acks 6000 --out /tmp/cg.b
    python benchmarks/callgrind/ack_server.py --compare /tmp/cg.a /tmp/cg.b

``--compare`` prints instructions per ack in total and per function (self cost, from
``callgrind_annotate``), largest first. Instruction counts do not depend on the machine's load,
so the comparison of two builds or two commits is exact where timings are noisy. Valgrind makes
the server ~50x slower: keep ``N`` in the thousands.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time


def frame(payload: bytes) -> bytes:
    """A masked client text frame (mask 0: the bytes are sent as they are)."""
    n = len(payload)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + b"\x00\x00\x00\x00" + payload


def read_frames(sock: socket.socket, buf: bytearray) -> list[bytes]:
    """Read at least one whole server frame; return the payloads of the whole ones."""
    out: list[bytes] = []
    while True:
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            start = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n = int.from_bytes(buf[2:4], "big")
                start = 4
            if len(buf) < start + n:
                break
            out.append(bytes(buf[start : start + n]))
            del buf[: start + n]
        if out:
            return out
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk


def open_session(port: int) -> tuple[socket.socket, bytearray]:
    """A WebSocket session in namespace "/", past the CONNECT answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=600)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    buf = bytearray(head.split(b"\r\n\r\n", 1)[1])
    got: list[bytes] = []
    while not any(p.startswith(b"0") for p in got):
        got += read_frames(sock, buf)
    sock.sendall(frame(b"40"))
    got = []
    while not any(p.startswith(b"40") for p in got):
        got += read_frames(sock, buf)
    return sock, buf


def drive(port: int, acks: int, clients: int, batch: int) -> None:
    """Send ``acks`` requests over ``clients`` sessions, ``batch`` per write; wait for every ack."""
    sessions = [open_session(port) for _ in range(clients)]
    request = b"".join(frame(b'42%d["echo",%d]' % (100000 + i, i)) for i in range(batch))
    rounds = max(1, acks // (clients * batch))
    for _ in range(rounds):
        for sock, _buf in sessions:
            sock.sendall(request)
        for sock, buf in sessions:
            answered = 0
            while answered < batch:
                answered += sum(1 for p in read_frames(sock, buf) if p.startswith(b"43"))
    for sock, _buf in sessions:
        sock.close()


def run(args: argparse.Namespace) -> int:
    """Start the server under callgrind, drive it, stop it; callgrind writes ``args.out``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    server = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={args.out}",
            sys.executable,
            "-m",
            "hypersio.bench.runner",
            "--port",
            str(port),
            "--ping-interval",  # the probe's client answers no heartbeat
            "3600",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith(b"READY"):
            raise SystemExit(f"server did not start: {line!r}")
        for _ in range(600):  # READY is printed before the listening socket exists
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        drive(port, args.acks, args.clients, args.batch)
        server.send_signal(signal.SIGTERM)
        server.wait(600)
    finally:
        if server.poll() is None:
            server.kill()
    return 0


def self_costs(path: str) -> dict[str, int]:
    """Per-function self cost (instructions) from ``callgrind_annotate``."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--auto=no", "--threshold=100", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    costs: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*)$", line)
        if m and (":" in m.group(2) or m.group(2) == "PROGRAM TOTALS"):
            costs[m.group(2).strip()] = costs.get(m.group(2).strip(), 0) + int(m.group(1).replace(",", ""))
    return costs


def compare(a: str, b: str, acks_a: int, acks_b: int, top: int) -> int:
    """Print instructions per ack (the slope between two runs), in total and per function."""
    ca, cb = self_costs(a), self_costs(b)
    span = acks_b - acks_a
    total = (cb.pop("PROGRAM TOTALS", 0) - ca.pop("PROGRAM TOTALS", 0)) / span
    print(f"instructions per ack: {total:,.0f}")
    diff = {k: (cb.get(k, 0) - ca.get(k, 0)) / span for k in set(ca) | set(cb)}
    for name, per_ack in sorted(diff.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{per_ack:9,.0f}  {100 * per_ack / total:5.1f}%  {name[:150]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: a profiled run (``--acks N --out FILE``) or ``--compare A B``."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--acks", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16, help="requests per write (1: a closed loop)")
    ap.add_argument("--out", default="callgrind.ack_server")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two profiles of runs with different --acks")
    ap.add_argument("--compare-acks", nargs=2, type=int, metavar=("NA", "NB"), default=None)
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args(argv)
    if args.compare:
        na, nb = args.compare_acks or (0, 0)
        if not nb:
            raise SystemExit("--compare needs --compare-acks NA NB (the --acks of the two runs)")
        return compare(args.compare[0], args.compare[1], na, nb, args.top)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
