"""A user's strictly typed program passes ``mypy --strict`` against the installed hypersio.

The program (user_program.py) is written against API.md; this test runs mypy on it when mypy is
installed (the lint extra), and always imports it, so every name it uses exists at runtime.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def test_the_user_program_imports() -> None:
    spec = importlib.util.spec_from_file_location("user_program", HERE / "user_program.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.sio.of("/chat") is module.chat


def test_the_user_program_passes_mypy_strict() -> None:
    pytest.importorskip("mypy", reason="mypy is in the lint extra")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(HERE / "mypy.ini"),
            "--no-incremental",
            str(HERE / "user_program.py"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
