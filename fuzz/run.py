"""Run one fuzz target (issue 13) under atheris, or under the plain mutation loop without it.

    PYTHONPATH=src python fuzz/run.py TARGET [--twin c|py|both] [--runs N] [--seconds S] [--plain]

``--twin both`` (the default for the protocol codecs when the extensions are built) decodes every
input with both twins and compares them; atheris instruments hypersio's own modules only (the
pure twins and the cluster code, not the stdlib nor this harness): coverage-guided by the pure
twin; the compiled twins are not instrumented, the differential check covers them.
The corpus is fuzz/corpus/TARGET (read only: new inputs go to fuzz/.work/TARGET, not committed).
A finding is written to fuzz/.work/crash-TARGET-*; rerun it with ``python fuzz/run.py TARGET FILE``.
Prints one summary line: target, twin, inputs run, seconds, execs/s.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import sys
import time
from pathlib import Path
from types import FunctionType, ModuleType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import targets  # noqa: E402


def corpus(name: str) -> list[bytes]:
    folder = HERE / "corpus" / name
    return [path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()] if folder.is_dir() else []


def default_twin(name: str) -> str:
    if targets.TARGETS[name] is None:
        return "py"
    try:
        targets.load_twin(targets.TARGETS[name] or "", "c")
    except ImportError:
        return "py"
    return "both"


def atheris_or_none() -> ModuleType | None:
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        return None
    return atheris  # type: ignore[no-any-return]


#: The stdlib modules a target's decoder hands the parsing itself to: instrumented too, or the
#: fuzzer would be blind to the branches that matter (sid_from_head is a few lines around
#: ``urllib.parse.parse_qs``: 12 edges of its own, against 67 with the stdlib instrumented).
ALSO_INSTRUMENT: dict[str, tuple[str, ...]] = {"workers_sid": ("urllib.parse",)}

#: libFuzzer's input length cap (``-max_len``) where 4096 is wasteful. With 4096, these targets'
#: corpora grew towards multi-kilobyte inputs and their rate fell from ~5,000 to ~1,700 inputs/s
#: (the instrumented pure twin walks every byte), while every branch they have is reachable in
#: far less: a Socket.IO packet's header, attachments and JSON/msgpack errors; a frame's head
#: (the 16- and 64-bit lengths are checked against the size limit before any payload arrives);
#: a request head. The huge inputs (100k-deep JSON, 1M attachments, 16 MiB frames) are the
#: attack tests' job.
MAX_LEN: dict[str, int] = {"sio_json": 1024, "sio_msgpack": 1024, "ws_frames": 1024, "workers_sid": 1024}
DEFAULT_MAX_LEN = 4096


def max_len(name: str) -> int:
    """The ``-max_len`` a target is fuzzed with (recorded in each campaign chunk's log entry)."""
    return MAX_LEN.get(name, DEFAULT_MAX_LEN)


def instrument_module(atheris: ModuleType, name: str) -> None:
    """Instrument the functions defined in module ``name`` in place (it may be imported already)."""
    module = importlib.import_module(name)
    for obj in vars(module).values():
        if isinstance(obj, FunctionType) and obj.__module__ == name:
            atheris.instrument_func(obj)


def instrumented_check(atheris: ModuleType, name: str, twin: str | None, instrument: bool) -> targets.Check:
    """The target's check with hypersio's own Python code instrumented, and nothing else.

    Only the modules imported inside ``instrument_imports`` get coverage callbacks: hypersio's
    pure twins and cluster code, the code under test. The stdlib, orjson's and msgpack's Python
    glue and the harness (targets.py: normalizing and comparing outcomes) run uninstrumented;
    instrumenting them (``instrument_all``) made the slow targets 5-20x slower and guided the
    search towards the stdlib's branches instead of hypersio's (except :data:`ALSO_INSTRUMENT`,
    the stdlib parsers a decoder delegates to). hypersio must not be imported
    before this, or its modules would come from the import cache uninstrumented.
    """
    assert not any(mod == "hypersio" or mod.startswith("hypersio.") for mod in sys.modules), "imported too early"
    if not instrument:
        return targets.make(name, twin or default_twin(name))
    with atheris.instrument_imports(include=["hypersio"]):
        check = targets.make(name, twin or default_twin(name))
    for module in ALSO_INSTRUMENT.get(name, ()):
        instrument_module(atheris, module)
    return check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=sorted(targets.TARGETS))
    parser.add_argument("inputs", nargs="*", help="files to run once each (reproduce a finding)")
    parser.add_argument("--twin", choices=("c", "py", "both"))
    parser.add_argument("--runs", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=int, default=0, help="stop after this long (0: no limit)")
    parser.add_argument("--plain", action="store_true", help="the plain mutation loop, not atheris")
    parser.add_argument("--no-instrument", action="store_true", help="atheris without coverage (a quick check)")
    parser.add_argument("--work", type=Path, default=HERE / ".work", help="where new inputs and findings go")
    args, extra = parser.parse_known_args()
    atheris = None if args.inputs or args.plain else atheris_or_none()
    # Choosing the default twin imports the twins: under atheris, that waits for its import hook.
    twin = args.twin or ("" if atheris else default_twin(args.target))

    if args.inputs:
        check = targets.make(args.target, twin)
        for name in args.inputs:
            outcome = check(Path(name).read_bytes())
            sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))  # the repr of a deep outcome
            print(name, "->", repr(outcome)[:500])
        return 0

    if atheris is None:
        check = targets.make(args.target, twin)
        start = time.perf_counter()
        deadline = start + args.seconds if args.seconds else float("inf")
        n = 0
        seeds = corpus(args.target)
        from mutate import inputs

        for data in inputs(seeds, args.runs):
            try:
                check(data)
            except BaseException:
                args.work.mkdir(parents=True, exist_ok=True)
                found = args.work / f"crash-{args.target}-plain-{hashlib.sha1(data).hexdigest()}"
                found.write_bytes(data)
                print(f"finding after {n} inputs, written to {found}", file=sys.stderr)
                raise
            n += 1
            if n & 1023 == 0 and time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - start
        print(
            f"SUMMARY {args.target} twin={twin} mode=plain inputs={n} seconds={elapsed:.0f} execs/s={n / elapsed:.0f}"
        )
        return 0

    check = instrumented_check(atheris, args.target, twin, not args.no_instrument)
    twin = twin or default_twin(args.target)

    def one_input(data: bytes) -> None:
        check(data)

    work = args.work / args.target
    work.mkdir(parents=True, exist_ok=True)
    seeds = HERE / "corpus" / args.target
    argv = [sys.argv[0], f"-runs={args.runs}", f"-artifact_prefix={args.work}/crash-{args.target}-"]
    argv += [f"-max_len={max_len(args.target)}", "-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1"]
    if args.seconds:
        argv.append(f"-max_total_time={args.seconds}")
    argv += [*extra, str(work), str(seeds)]
    print("atheris", " ".join(argv[1:]), f"(twin={twin}, pid {os.getpid()})", flush=True)
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
