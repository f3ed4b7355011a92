"""examples/client.py runs on its own (its demo starts examples/chat.py in-process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from _support import child_env

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "client.py"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("transports", ["websocket", "polling,websocket"])
def test_client_example_demo(transports: str) -> None:
    env = child_env()
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--transports", transports],
        capture_output=True,
        text=True,
        timeout=25,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    log = result.stderr
    assert log.count("acked as #") == 3  # every message was acknowledged
    assert "bob sees ann: hi bob" in log and "ann sees bob: hi ann" in log
    assert log.count("disconnected: io client disconnect") == 2
