"""Run every fuzz target to N coverage-guided inputs in short chunks, resumable (issue 13).

    PYTHONPATH=src python fuzz/campaign.py [--goal 10000000] [--chunk 60] [--parallel 2] [--until T]

Each chunk is one ``fuzz/run.py TARGET`` under atheris for at most ``--chunk`` seconds, resuming
from the target's corpus (``fuzz/.work/TARGET``, which libFuzzer keeps growing, plus the seed
corpus). A chunk runs while this process holds ``/tmp/bench.lock`` (``flock``: no benchmark of
the machine runs beside it) and under ``nice -n 10``; the lock is released between chunks so
that queued benchmarks get their turn. ``--parallel 2`` runs two targets' chunks side by side in
one lock hold (the machine's two cores; nothing measured runs meanwhile).

Every chunk appends one JSON line to ``fuzz/campaign.jsonl``: target, commit, inputs (libFuzzer's
``stat::number_of_executed_units``), seconds, execs/s, final ``cov``/``ft``, return code and any
finding. The per-target totals are the sums over that log, so a campaign stopped at any point
resumes where it was (``--report`` prints the totals). The targets furthest from the goal go
first (in time: inputs left at the target's rate so far; ``--mix``: the second slot takes the
nearest target, so that fast targets complete while slow ones advance). A chunk that ends in a
finding stops its target (the crash file is in ``fuzz/.work``) until the log is told otherwise:
fix it, then rerun with ``--retry TARGET``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402
import targets  # noqa: E402

LOG = HERE / "campaign.jsonl"
LOCK = Path("/tmp/bench.lock")


def commit() -> str:
    """The worktree's commit (with ``+dirty`` when src/ or fuzz/ has uncommitted changes)."""
    git = ["git", "-C", str(HERE)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "../src", "."], cwd=HERE, capture_output=True, text=True, check=False
    )
    changed = [line for line in dirty.stdout.splitlines() if not line.endswith("campaign.jsonl")]
    return head.stdout.strip() + ("+dirty" if changed else "")


def entries(log: Path) -> list[dict[str, object]]:
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@dataclass
class Total:
    """One target's campaign so far: sums over its chunks, the last coverage, an open finding."""

    inputs: int = 0
    seconds: float = 0.0
    chunks: int = 0
    cov: int | None = None
    ft: int | None = None
    finding: str | None = None

    def time_left(self, goal: int) -> float:
        """Seconds still needed at this target's rate so far (infinite before its first chunk)."""
        if not self.inputs:
            return float("inf")
        return max(goal - self.inputs, 0) * self.seconds / self.inputs


def totals(log: Path) -> dict[str, Total]:
    """Per target: inputs and seconds summed over the log, the last coverage, open findings."""
    out = {name: Total() for name in targets.TARGETS}
    for entry in entries(log):
        row = out[str(entry["target"])]
        if entry.get("retry"):
            row.finding = None
            continue
        if entry.get("reset"):  # the target changed: count from zero again (the old chunks stay logged)
            out[str(entry["target"])] = Total()
            continue
        row.inputs += int(str(entry["inputs"]))
        row.seconds += float(str(entry["seconds"]))
        row.chunks += 1
        row.cov, row.ft = entry.get("cov"), entry.get("ft")  # type: ignore[assignment]
        if entry.get("finding"):
            row.finding = str(entry["finding"])
    return out


@contextmanager
def bench_lock() -> Iterator[None]:
    """Hold /tmp/bench.lock (the same flock(2) lock as ``flock /tmp/bench.lock CMD``)."""
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_STAT = re.compile(r"stat::(\w+):\s+(\d+)")
_COV = re.compile(r"cov: (\d+) ft: (\d+)")


def parse(output: str) -> dict[str, object]:
    """libFuzzer's final stats, last coverage line and finding (if any) from a chunk's output."""
    stats = {key: int(value) for key, value in _STAT.findall(output)}
    cov = _COV.findall(output)
    finding = None
    match = re.search(r"Test unit written to (\S+)", output)
    if match or "Uncaught Python exception" in output or "ERROR: libFuzzer" in output:
        finding = match.group(1) if match else "see the chunk's output"
    return {
        "inputs": stats.get("number_of_executed_units", 0),
        "cov": int(cov[-1][0]) if cov else None,
        "ft": int(cov[-1][1]) if cov else None,
        "finding": finding,
    }


def start_chunk(name: str, runs: int, seconds: int, out_dir: Path) -> tuple[subprocess.Popen[bytes], Path, float]:
    out = out_dir / f"{name}.out"
    cmd = ["nice", "-n", "10", sys.executable, str(HERE / "run.py"), name]
    cmd += ["--runs", str(runs), "--seconds", str(seconds)]
    handle = out.open("wb")
    proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    return proc, out, time.monotonic()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--goal", type=int, default=10_000_000, help="guided inputs per target")
    parser.add_argument("--chunk", type=int, default=60, help="seconds per chunk (at most 60 on a shared machine)")
    parser.add_argument("--parallel", type=int, default=1, help="chunks run side by side in one lock hold")
    parser.add_argument("--mix", action="store_true", help="slot 2 takes the target nearest to the goal")
    parser.add_argument("--until", type=float, default=0, help="stop starting chunks after this many seconds")
    parser.add_argument("--only", nargs="*", help="these targets only")
    parser.add_argument("--retry", nargs="*", default=[], help="clear these targets' findings (after a fix)")
    parser.add_argument("--reset", nargs="*", default=[], help="count these targets from zero (target changed)")
    parser.add_argument("--report", action="store_true", help="print the per-target totals and exit")
    parser.add_argument("--markdown", action="store_true", help="--report as a Markdown table")
    parser.add_argument("--log", type=Path, default=LOG)
    args = parser.parse_args()

    with args.log.open("a") as log:
        for name in args.retry:
            log.write(json.dumps({"target": name, "retry": True, "commit": commit()}) + "\n")
        for name in args.reset:
            log.write(json.dumps({"target": name, "reset": True, "commit": commit()}) + "\n")
    if args.report:
        if args.markdown:
            print("| target | guided inputs | chunks | seconds | execs/s | cov / ft (last chunk) | finding |")
            print("|---|---:|---:|---:|---:|---|---|")
        for name, row in totals(args.log).items():
            rate = row.inputs / row.seconds if row.seconds else 0
            if args.markdown:
                cov = f"cov: {row.cov} ft: {row.ft}" if row.cov is not None else "-"
                print(
                    f"| {name} | {row.inputs:,} | {row.chunks} | {row.seconds:.0f} | {rate:,.0f} | {cov} "
                    f"| {row.finding or 'none'} |"
                )
                continue
            print(
                f"{name:24} {row.inputs:>11,} inputs {row.seconds:>7.0f} s {rate:>7.0f}/s "
                f"chunks {row.chunks:>3} cov {row.cov} ft {row.ft} finding {row.finding}"
            )
        return 0

    out_dir = HERE / ".work" / "campaign"
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    while not args.until or time.monotonic() - started < args.until:
        rows = totals(args.log)
        todo = [
            (row.inputs, name)
            for name, row in rows.items()
            if row.inputs < args.goal and not row.finding and (not args.only or name in args.only)
        ]
        if not todo:
            print("every target has reached the goal (or has an open finding)")
            return 0
        # Furthest from the goal first, in time (inputs left at the target's rate so far). With
        # --mix, the second slot takes the target nearest to it instead, so that the fast targets
        # complete while the slow ones advance.
        order = [name for _, name in sorted(todo, key=lambda item: -rows[item[1]].time_left(args.goal))]
        batch = order[: args.parallel]
        if args.mix and args.parallel >= 2 and len(order) > 2:
            batch = [order[0], order[-1], *order[1 : args.parallel - 1]]
        with bench_lock():
            source = commit()
            running = [(name, *start_chunk(name, args.goal - rows[name].inputs, args.chunk, out_dir)) for name in batch]
            for name, proc, out, began in running:
                try:
                    proc.wait(timeout=args.chunk + 120)
                except subprocess.TimeoutExpired:  # a hang: libFuzzer's -timeout should have caught it
                    proc.kill()
                    proc.wait()
                seconds = time.monotonic() - began
                result = parse(out.read_text(errors="replace"))
                entry = {"target": name, "commit": source, "seconds": round(seconds, 1), "rc": proc.returncode}
                entry.update(result)
                entry["execs_per_s"] = round(int(str(result["inputs"])) / seconds) if seconds else 0
                entry["parallel"] = len(running)
                entry["max_len"] = run.max_len(name)
                entry["at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
                if proc.returncode != 0 and not result["finding"]:
                    entry["finding"] = f"exit code {proc.returncode}, see {out}"
                with args.log.open("a") as log:
                    log.write(json.dumps(entry) + "\n")
                print(json.dumps(entry), flush=True)
                if entry["finding"]:
                    (out_dir / f"{name}-finding-{int(time.time())}.out").write_text(out.read_text(errors="replace"))
        time.sleep(1.0)  # the lock is free for a moment: a queued benchmark can take it
    return 0


if __name__ == "__main__":
    sys.exit(main())
