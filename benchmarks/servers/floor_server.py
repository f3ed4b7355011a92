"""The bare-uvloop floor server (the code lives in hypersio/_bench_floor.py so that
``python -m hypersio bench`` can use it from an installed wheel; it shares no code with hypersio).

Usage: python benchmarks/servers/floor_server.py --port P [--mode write|cork]
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import hypersio  # noqa: F401  (the installed package, the way users run it, comes first)
except ImportError:  # a source checkout built in place works without installing hypersio
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from hypersio.bench.floor import main

if __name__ == "__main__":
    main()
