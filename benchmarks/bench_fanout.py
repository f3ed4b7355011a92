"""Run only the fanout scenario(s) of benchmarks/run_all.py (fanout50,fanout1); every run_all option applies.

Usage: python benchmarks/bench_fanout.py [--quick] [--repeat R] [--servers a,b,...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_all

if __name__ == "__main__":
    sys.exit(run_all.main(["--only", "fanout50,fanout1", *sys.argv[1:]]))
