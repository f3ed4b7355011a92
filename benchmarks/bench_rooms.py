"""Run only the rooms scenario(s) of benchmarks/run_all.py (rooms); every run_all option applies.

Usage: python benchmarks/bench_rooms.py [--quick] [--repeat R] [--servers a,b,...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_all

if __name__ == "__main__":
    sys.exit(run_all.main(["--only", "rooms", *sys.argv[1:]]))
