"""The command line: ``python -m hypersio bench`` runs end to end and prints its table, and
``python -m hypersio serve MODULE:ATTR`` serves an application. Functional checks only: a
benchmark's numbers are never asserted."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from _support import child_env
from hypersio.cli import main


def _env() -> dict[str, str]:
    return child_env()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_lists_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "bench" in out and "serve" in out


@pytest.mark.parametrize("parser", ["json", "msgpack"])
def test_bench_runs_end_to_end_and_prints_the_table(parser: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hypersio",
            "bench",
            "--clients",
            "20",
            "--broadcasts",
            "40",
            "--per-turn",
            "10",
            "--parser",
            parser,
            "--duration-limit",
            "30",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=110,
        env=_env(),
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "deliveries/s" in out and "CPU us/deliv" in out and "p99 ms" in out and "RSS KiB/conn" in out
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("-----")) + 1
    rows = lines[first : lines.index("", first)]
    assert [r.split()[0] for r in rows] == ["hypersio", "floor-shared"], out
    assert "FAILED" not in out and "INCOMPLETE" not in out
    assert "Load generator: 1 worker process(es), busiest at" in out


def test_bench_rooms_without_floor() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hypersio",
            "bench",
            "--clients",
            "20",
            "--broadcasts",
            "40",
            "--rooms",
            "4",
            "--no-floor",
            "--workers",
            "1",
            "--duration-limit",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=110,
        env=_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "floor-shared" not in done.stdout.split("-- run")[-1].split("Load generator")[0]


def test_serve_serves_an_application(tmp_path: Path) -> None:
    (tmp_path / "cli_app.py").write_text("import hypersio\nsio = hypersio.Server()\n")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hypersio", "serve", "cli_app:sio", "--port", str(port)],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 20
        body = b""
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=2
                ) as response:
                    body = response.read()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
                time.sleep(0.1)
        assert body.startswith(b'0{"sid":'), body
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_serve_rejects_a_bad_target(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "no_colon_here"])


@pytest.mark.parametrize("parser", ["json", "msgpack"])
def test_ack_workload_counts_only_matching_round_trips(parser: str) -> None:
    # The closed-loop request/response scenario of the benchmarks, small: every counted ack had
    # the id of its client's outstanding request (the generator ignores any other), so a count
    # well above the number of clients means the loop kept going, one request after another.
    from hypersio.bench.loadgen import LoadGenerator
    from hypersio.bench.runner import hypersio_spec, run_acks

    gen = LoadGenerator(1)
    try:
        result = run_acks(hypersio_spec(), gen, clients=8, seconds=1.0, parser=parser, say=lambda _line: None)
    finally:
        gen.close()
    assert "error" not in result, result
    assert result["ok"] == 8, result
    assert result["acks"] > 8 * 20, result
    assert 0 < result["p50_ms"] <= result["p99_ms"], result


def test_benchmarks_say_which_build_they_measure() -> None:
    import os

    import hypersio
    from hypersio.bench.runner import describe_build

    described = describe_build()
    assert os.path.dirname(os.path.abspath(hypersio.__file__)) in described
    assert ("PURE-PYTHON" in described) is (not hypersio.HAS_SPEEDUPS)
    assert ("installed package" in described) is ("-packages" in hypersio.__file__)
