"""Socket.IO JSON packet codec throughput: hypersio (compiled and pure) vs python-socketio vs Node.

Run from the repository root:  python benchmarks/bench_codec.py [--seconds 0.2] [--repeats 2] [--rounds 3]

Four packets (a small event, a chat message on /chat, a 20-player game state, an event with
1 KiB of binary) are encoded and decoded in a loop; every implementation runs once per round,
and the best of all rounds and runs (each lasting ``seconds``) is reported in operations per second. python-socketio's ``socketio.packet`` module runs in
this process; the official socket.io-parser runs in Node (benchmarks/js/bench_parser.js) as a
subprocess of the same run. What each "op" is:

* hypersio encode: ``Encoder().encode(packet)`` on a prebuilt Packet; decode: ``Decoder.add``
  of each wire chunk until the Packet comes back.
* python-socketio encode: ``Packet(EVENT, data, namespace).encode()`` (its constructor is where
  it scans for binary, so it is part of encoding); decode: ``Packet(encoded_packet=text)`` plus
  ``add_attachment`` for each binary chunk.
* socket.io-parser encode: ``encoder.encode({type, nsp, data})``; decode: ``decoder.add`` of
  each chunk until "decoded" fires.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
try:
    import hypersio  # noqa: F401  (the installed package, the way users run it, comes first)
except ImportError:  # a source checkout built in place works without installing hypersio
    sys.path.insert(0, str(ROOT / "src"))

EVENT = 2


def game_state() -> dict[str, Any]:
    """The 20-player state object shared with bench_parser.js."""
    players = [{"id": i, "x": 12.5 + i, "y": 40.25 - i, "hp": 100 - i, "name": f"player{i}"} for i in range(20)]
    return {"tick": 1234, "players": players}


BLOB = bytes(i & 0xFF for i in range(1024))
CASES: dict[str, tuple[str, list[Any]]] = {
    "small": ("/", ["m", 123]),
    "chat": (
        "/chat",
        [
            "message",
            {"user": "alice", "text": "Hello, how are you doing today?", "room": "general", "ts": 1700000000123},
        ],
    ),
    "game_state": ("/", ["state", game_state()]),
    "binary_1k": ("/", ["upload", {"name": "blob.bin"}, BLOB]),
}


def rate(fn: Callable[[], Any], seconds: float, repeats: int) -> float:
    """Best-of-``repeats`` calls per second of ``fn``, each run lasting about ``seconds``."""
    best = 0.0
    for _ in range(repeats):
        n = 0
        start = time.perf_counter()
        deadline = start + seconds
        now = start
        while now < deadline:
            for _ in range(200):
                fn()
            n += 200
            now = time.perf_counter()
        best = max(best, n / (now - start))
    return best


def bench_hypersio(module_name: str, seconds: float, repeats: int) -> dict[str, dict[str, float]]:
    """Encode/decode rates of one hypersio parser twin."""
    mod = importlib.import_module(module_name)
    encoder = mod.Encoder()
    out: dict[str, dict[str, float]] = {}
    for name, (nsp, data) in CASES.items():
        packet = mod.Packet(mod.EVENT, nsp, data)
        wire = encoder.encode(packet)
        decoder = mod.Decoder()
        check = None
        for chunk in wire:
            check = decoder.add(chunk)
        assert check == packet, (module_name, name, check)
        add = decoder.add
        encode = encoder.encode
        if len(wire) == 1:
            text = wire[0]

            def decode(add: Callable[[Any], Any] = add, text: str = text) -> Any:
                return add(text)
        else:

            def decode(add: Callable[[Any], Any] = add, wire: list[Any] = wire) -> Any:
                for chunk in wire:
                    result = add(chunk)
                return result

        out[name] = {
            "encode": rate(lambda: encode(packet), seconds, repeats),
            "decode": rate(decode, seconds, repeats),
        }
    return out


def bench_python_socketio(seconds: float, repeats: int) -> dict[str, dict[str, float]] | None:
    """Encode/decode rates of python-socketio's packet module (None when it is not installed)."""
    try:
        from socketio import packet as sp
    except ImportError:
        return None
    out: dict[str, dict[str, float]] = {}
    for name, (nsp, data) in CASES.items():
        wire = sp.Packet(sp.EVENT, data=data, namespace=nsp).encode()
        chunks = wire if isinstance(wire, list) else [wire]

        def encode(nsp: str = nsp, data: Any = data) -> Any:
            return sp.Packet(sp.EVENT, data=data, namespace=nsp).encode()

        def decode(chunks: list[Any] = chunks) -> Any:
            pkt = sp.Packet(encoded_packet=chunks[0])
            for attachment in chunks[1:]:
                pkt.add_attachment(attachment)
            return pkt

        assert decode().data == data or name == "binary_1k"
        out[name] = {"encode": rate(encode, seconds, repeats), "decode": rate(decode, seconds, repeats)}
    return out


def bench_node(seconds: float, repeats: int) -> dict[str, dict[str, float]] | None:
    """Encode/decode rates of socket.io-parser in Node (None when node or the package is missing)."""
    node_modules = ROOT / "tests" / "js" / "node_modules"
    if shutil.which("node") is None or not (node_modules / "socket.io-parser").is_dir():
        return None
    env = dict(os.environ, NODE_PATH=str(node_modules))
    script = ROOT / "benchmarks" / "js" / "bench_parser.js"
    proc = subprocess.run(
        ["node", str(script), str(seconds), str(repeats)], env=env, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return None
    return json.loads(proc.stdout)["results"]


def _compiled_or_none(seconds: float, repeats: int) -> dict[str, dict[str, float]] | None:
    try:
        return bench_hypersio("hypersio.protocol.socketio._json_c", seconds, repeats)
    except ImportError as exc:
        print(
            f"compiled parser not built ({exc}); install the package (pip install .) or build it in place "
            "(python setup.py build_ext --inplace)",
            file=sys.stderr,
        )
        return None


def geomean(values: list[float]) -> float:
    """Geometric mean (the summary the targets are stated in)."""
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main() -> None:
    """Run every implementation and print the table with ratios and geometric means."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="length of one timed run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per case and round (best is kept)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all implementations")
    args = parser.parse_args()

    runners: dict[str, Callable[[], dict[str, dict[str, float]] | None]] = {
        "hypersio (compiled)": lambda: _compiled_or_none(args.seconds, args.repeats),
        "hypersio (pure)": lambda: bench_hypersio("hypersio.protocol.socketio._json_py", args.seconds, args.repeats),
        "python-socketio": lambda: bench_python_socketio(args.seconds, args.repeats),
        "socket.io-parser (node)": lambda: bench_node(args.seconds, args.repeats),
    }
    # Several rounds, every implementation once per round, best per cell: on a shared machine a
    # burst of load then hurts whoever runs at that moment in one round only, not the ratios.
    results: dict[str, dict[str, dict[str, float]] | None] = {}
    for _ in range(args.rounds):
        for impl, run in runners.items():
            got = run()
            if got is None:
                results.setdefault(impl, None)
                continue
            best = results.get(impl) or {name: {"encode": 0.0, "decode": 0.0} for name in CASES}
            for name in CASES:
                for op in ("encode", "decode"):
                    best[name][op] = max(best[name][op], got[name][op])
            results[impl] = best

    impls = [k for k, v in results.items() if v is not None]
    rows = [(name, op) for name in CASES for op in ("encode", "decode")]
    header = f"{'packet':<12} {'op':<7}" + "".join(f"{k:>26}" for k in impls)
    fast = "hypersio (compiled)" if results.get("hypersio (compiled)") else "hypersio (pure)"
    ratio_cols = [k for k in ("python-socketio", "socket.io-parser (node)") if results.get(k)]
    header += "".join(f"{'hs/' + ('pysio' if k == 'python-socketio' else 'node'):>12}" for k in ratio_cols)
    print(f"ops/s, best of {args.rounds} rounds x {args.repeats} runs x {args.seconds}s; ratios use {fast}")
    print(header)
    print("-" * len(header))
    for name, op in rows:
        line = f"{name:<12} {op:<7}" + "".join(f"{results[k][name][op]:>26,.0f}" for k in impls)
        for k in ratio_cols:
            line += f"{results[fast][name][op] / results[k][name][op]:>12.2f}"
        print(line)
    gm = {k: geomean([results[k][n][o] for n, o in rows]) for k in impls}
    line = f"{'geomean':<20}" + "".join(f"{gm[k]:>26,.0f}" for k in impls)
    for k in ratio_cols:
        line += f"{gm[fast] / gm[k]:>12.2f}"
    print(line)


if __name__ == "__main__":
    main()
