"""The short CI run of the fuzz targets (issue 13): every target of fuzz/ over its committed seed
corpus plus a few thousand random mutations, on the pure twin and (compared with it) the compiled
one. No atheris needed: this is fuzz/mutate.py's plain loop, seeded, so a failure reproduces.
The long coverage-guided runs are ``python fuzz/run.py TARGET`` (FUZZING.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from _support import child_env, load_twin

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
if not (FUZZ / "targets.py").is_file():  # an installed test tree without the fuzz directory
    pytest.skip("fuzz/ is not next to tests/", allow_module_level=True)
sys.path.insert(0, str(FUZZ))

import mutate  # noqa: E402
import targets  # noqa: E402

pytestmark = pytest.mark.fuzz

MUTATIONS = 3000
CASES = [
    pytest.param(name, twin, id=f"{name}-{twin}")
    for name, family in targets.TARGETS.items()
    for twin in (("py", "both") if family else ("py",))
]


def _corpus(name: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((FUZZ / "corpus" / name).iterdir())]


def test_every_target_has_a_seed_corpus() -> None:
    for name in targets.TARGETS:
        seeds = _corpus(name)
        assert seeds, name
        assert all(len(seed) <= 8192 for seed in seeds), name


@pytest.mark.parametrize(("name", "twin"), CASES)
def test_target_survives_its_corpus_and_mutations(name: str, twin: str) -> None:
    family = targets.TARGETS[name]
    if twin == "both" and family is not None:
        load_twin(family, "c")  # skipped when not built (an error with HYPERSIO_REQUIRE_EXTENSIONS=1)
    check = targets.make(name, twin)
    seeds = _corpus(name)
    try:
        ran = mutate.run(check, seeds, MUTATIONS, seed=13)
    except BaseException as exc:
        data = getattr(exc, "fuzz_input", None)
        raise AssertionError(f"{name} ({twin}) failed on input {data!r:.400}: {exc!r:.2000}") from exc
    assert ran == len(seeds) + MUTATIONS


def _atheris_run(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """300 inputs of ``fuzz/run.py ws_close`` under atheris with ``options``, checked to have run them all."""
    pytest.importorskip("atheris")
    result = subprocess.run(
        [sys.executable, str(FUZZ / "run.py"), "ws_close", "--runs", "300", *options, "--work", str(tmp_path)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Done 300 runs" in result.stderr
    return result


def test_atheris_drives_a_target(tmp_path: Path) -> None:
    _atheris_run(tmp_path, "--no-instrument")


def test_atheris_instruments_hypersio_only(tmp_path: Path) -> None:
    """The guided run instruments the pure twin it fuzzes and no module outside hypersio (the
    stdlib's instrumentation once cost the slow targets most of their speed)."""
    result = _atheris_run(tmp_path, "--twin", "both")
    instrumented = [line.split()[-1] for line in result.stderr.splitlines() if line.startswith("INFO: Instrumenting ")]
    assert "hypersio.protocol.websocket._frames_py" in instrumented, instrumented
    assert all(name == "hypersio" or name.startswith("hypersio.") for name in instrumented), instrumented
    assert not any(name.endswith("_c") for name in instrumented)  # compiled: nothing to instrument
