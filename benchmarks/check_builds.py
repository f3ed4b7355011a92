"""Check that two ways of running hypersio give the same figures: the installed package (a fresh
virtualenv made with ``pip install .``) and the source tree (extensions built in place, ``src`` on
``PYTHONPATH``).

Issue 14 found them 2x apart once (the benchmark scripts put ``src/`` ahead of the installed
package, so an installed run measured the pure-Python twins). This script measures both ways, side
by side, in two ways each:

- **instructions per ack** of the server alone (``benchmarks/callgrind/ack_server.py``: the slope
  between two runs of different length under callgrind), closed loop and pipelined. These counts do
  not depend on the machine's load, so the two builds must agree within ``--max-instr-diff``
  (default 3%);
- **acks/s and server CPU per ack** from ``run_all.py --only acks,pipelined --servers hypersio``,
  the two builds interleaved ``--repeat`` times; timings do depend on the load, so they only have to
  agree within ``--max-time-diff`` (default 25%) of each other's medians.

It exits 1 when either check fails, after printing the table. Usage:

    python benchmarks/check_builds.py [--venv DIR] [--skip-install] [--repeat R] [--markdown]

It needs valgrind, a C compiler and Cython (for the in-place build; the venv's build gets them from
PyPI). Every server it starts binds 127.0.0.1 and is stopped by the scripts it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "benchmarks" / "callgrind" / "ack_server.py"
RUN_ALL = ROOT / "benchmarks" / "run_all.py"


def sh(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run ``cmd``; its stdout, or SystemExit with its output when it fails."""
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def builds(venv: Path) -> dict[str, dict[str, str]]:
    """The two ways of running: the interpreter's environment for each (the same interpreter, the
    venv's, so the only difference is where ``import hypersio`` finds the package)."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYPERSIO_NO_EXTENSIONS")}
    return {
        "installed package": dict(base),
        "source tree": {**base, "PYTHONPATH": str(ROOT / "src")},
    }


def where(python: str, env: dict[str, str]) -> str:
    """What ``import hypersio`` gives under ``env`` (the benchmarks' own description of the build)."""
    code = "from hypersio.bench.runner import describe_build; print(describe_build())"
    return sh([python, "-c", code], env=env, cwd=Path(tempfile.gettempdir())).strip()


def instructions_per_ack(python: str, env: dict[str, str], batch: int, small: int, large: int) -> float:
    """The server's instructions per ack: the slope between a ``small`` and a ``large`` run."""
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        for n in (small, large):
            out = os.path.join(tmp, f"cg.{n}")
            sh([python, str(PROBE), "--acks", str(n), "--clients", "1", "--batch", str(batch), "--out", out], env=env)
            outs.append(out)
        text = sh(
            [python, str(PROBE), "--compare", *outs, "--compare-acks", str(small), str(large), "--top", "0"], env=env
        )
    m = re.search(r"instructions per ack: ([\d,]+)", text)
    if not m:
        raise SystemExit(f"no instruction count in:\n{text}")
    return float(m.group(1).replace(",", ""))


def timed(python: str, envs: dict[str, dict[str, str]], repeat: int) -> dict[str, dict[str, list[float]]]:
    """acks/s and CPU us per ack of each build, closed loop and pipelined, interleaved runs."""
    out: dict[str, dict[str, list[float]]] = {name: {} for name in envs}
    for _ in range(repeat):
        for name, env in envs.items():
            with tempfile.NamedTemporaryFile(suffix=".json") as f:
                sh(
                    [
                        python,
                        str(RUN_ALL),
                        "--quick",
                        "--only",
                        "acks,pipelined",
                        "--servers",
                        "hypersio",
                        "--json",
                        f.name,
                    ],
                    env=env,
                    cwd=Path(tempfile.gettempdir()),
                )
                results = json.loads(Path(f.name).read_text())
            for scenario in ("acks", "pipelined"):
                for r in results[scenario]["hypersio"]:
                    if "error" in r:
                        raise SystemExit(f"{name} {scenario}: {r['error']}")
                    out[name].setdefault(f"{scenario} acks/s", []).append(r["rate"])
                    out[name].setdefault(f"{scenario} us/ack", []).append(r["cpu_us"])
    return out


def main(argv: list[str] | None = None) -> int:
    """Build (unless told not to), measure both ways, print the comparison; 1 if they disagree."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", default=os.path.join(tempfile.gettempdir(), "hypersio-check-builds"))
    ap.add_argument("--skip-install", action="store_true", help="reuse --venv and the in-place build as they are")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per build (default 2)")
    ap.add_argument("--max-instr-diff", type=float, default=0.03)
    ap.add_argument("--max-time-diff", type=float, default=0.25)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    venv = Path(args.venv)
    python = str(venv / "bin" / "python")
    if not args.skip_install:
        sh([sys.executable, "-m", "venv", "--clear", str(venv)])
        sh([python, "-m", "pip", "install", "--quiet", "Cython>=3", "setuptools>=77", "wheel"])
        sh([python, "-m", "pip", "install", "--quiet", f"{ROOT}[bench]"])
        sh([python, "setup.py", "-q", "build_ext", "--inplace", "-j", "2"], cwd=ROOT)
    envs = builds(venv)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.2f}")
    for name, env in envs.items():
        print(f"# {name}: {where(python, env)}")
    rows: list[tuple[str, dict[str, float]]] = []
    counts: dict[str, dict[str, float]] = {}
    for name, env in envs.items():
        counts[name] = {
            # one client: every loop turn handles the same work whatever the timing (with several,
            # how many arrive per turn varies from run to run, and the per-turn costs with it)
            "closed-loop instructions/ack": instructions_per_ack(python, env, 1, 500, 2000),
            "pipelined instructions/ack": instructions_per_ack(python, env, 16, 1024, 4096),
        }
    times = timed(python, envs, args.repeat)
    failed = []
    for name in envs:
        row = dict(counts[name])
        row.update({k: statistics.median(v) for k, v in times[name].items()})
        rows.append((name, row))
    (a_name, a), (b_name, b) = rows
    for key in a:
        diff = abs(a[key] - b[key]) / max(a[key], b[key])
        limit = args.max_instr_diff if "instructions" in key else args.max_time_diff
        if diff > limit:
            failed.append(f"{key}: {a[key]:,.2f} vs {b[key]:,.2f} ({100 * diff:.1f}% apart, limit {100 * limit:.0f}%)")
    keys = list(a)
    sep = " | " if args.markdown else "  "
    head = ["build", *keys]
    print(("| " if args.markdown else "") + sep.join(head) + (" |" if args.markdown else ""))
    if args.markdown:
        print("|" + "---|" + "---:|" * len(keys))
    for name, row in rows:
        cells = [name] + [f"{row[k] / 1000:.1f}k" if "acks/s" in k else f"{row[k]:,.2f}" for k in keys]
        print(("| " if args.markdown else "") + sep.join(cells) + (" |" if args.markdown else ""))
    diffs = [abs(a[k] - b[k]) / max(a[k], b[k]) for k in keys]
    print(
        ("| " if args.markdown else "")
        + sep.join(["difference", *(f"{100 * d:.1f}%" for d in diffs)])
        + (" |" if args.markdown else "")
    )
    if failed:
        print("\nTHE TWO BUILDS DISAGREE:\n  " + "\n  ".join(failed))
        return 1
    print(
        f"\nThe two builds agree: instruction counts within {100 * args.max_instr_diff:.0f}%, "
        f"timings within {100 * args.max_time_diff:.0f}% (medians of {args.repeat})."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
