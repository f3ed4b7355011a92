"""Shared set-up of the side-by-side benchmarks: which servers exist and how to start them.

The workloads, the load generator and the tables live in the hypersio package (hypersio.bench.runner,
hypersio.bench.loadgen) so that ``python -m hypersio bench`` works from an installed wheel; the scripts
in this folder add the comparison servers and the side-by-side runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVERS = Path(__file__).resolve().parent / "servers"
NODE_MODULES = ROOT / "tests" / "js" / "node_modules"

try:
    import hypersio  # noqa: F401  (the installed package, the way users run it, comes first)
except ImportError:  # a source checkout built in place works without installing hypersio
    sys.path.insert(0, str(ROOT / "src"))

from hypersio.bench.runner import ServerSpec, floor_spec, hypersio_spec  # noqa: E402


def all_specs() -> dict[str, ServerSpec]:
    """Every server the benchmarks know, by name."""
    specs = {
        "hypersio": hypersio_spec(),
        "python-socketio": ServerSpec("python-socketio", [sys.executable, str(SERVERS / "pysocketio_server.py")]),
        "node": ServerSpec(
            "node",
            [shutil.which("node") or "node", str(SERVERS / "node_server.js")],
            {"NODE_PATH": str(NODE_MODULES)},
        ),
        "floor-cork": floor_spec("cork"),
        "floor-write": floor_spec("write"),
        "floor-shared": floor_spec("shared"),
    }
    baseline = os.environ.get("HYPERSIO_BASELINE_PYTHON")
    if baseline:
        # Another installed hypersio (e.g. the previous release in its own venv), run side by side
        # with this one so a before/after comparison shares the machine's state. Before the layer
        # folders the benchmark server was the module hypersio._bench.
        module = os.environ.get("HYPERSIO_BASELINE_MODULE", "hypersio._bench")
        specs["hypersio-baseline"] = ServerSpec("hypersio-baseline", [baseline, "-m", module], {"PYTHONPATH": ""})
    return specs


def commit() -> str:
    """The source tree's commit, when a benchmark runs from a git checkout ("-" otherwise), for
    the heading of its table."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return "-"
    return out.stdout.strip() or "-"


def available(names: list[str]) -> list[ServerSpec]:
    """The specs for ``names``, skipping (with a note) servers this machine cannot run."""
    specs = all_specs()
    chosen = []
    for name in names:
        if name not in specs:
            raise SystemExit(f"unknown server {name!r}; known: {', '.join(specs)}")
        if name == "node" and (shutil.which("node") is None or not (NODE_MODULES / "socket.io").is_dir()):
            print("note: skipping node (needs node on PATH and tests/js/node_modules)", file=sys.stderr)
            continue
        if name == "python-socketio":
            try:
                import aiohttp  # noqa: F401
                import socketio  # noqa: F401
            except ImportError:
                print("note: skipping python-socketio (pip install python-socketio aiohttp)", file=sys.stderr)
                continue
        chosen.append(specs[name])
    return chosen


DEFAULT_SERVERS = ["hypersio", "python-socketio", "node", "floor-shared", "floor-cork", "floor-write"]
os.environ.setdefault("PYTHONUNBUFFERED", "1")
