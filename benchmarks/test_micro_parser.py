"""pytest-benchmark micro benchmarks of the JSON packet codec (both twins, the four packets).

Not part of the test run (testpaths is tests/). Run from the repository root:

    PYTHONPATH=src python -m pytest benchmarks/test_micro_parser.py --benchmark-only

For the side-by-side table with python-socketio and Node, use ``python benchmarks/bench_codec.py``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_codec import CASES


@pytest.fixture(params=["c", "py"])
def twin(request: pytest.FixtureRequest) -> ModuleType:
    """The compiled parser (skipped when not built) or its pure-Python twin."""
    try:
        return importlib.import_module(f"hypersio.protocol.socketio._json_{request.param}")
    except ImportError:
        pytest.skip("compiled parser not built")


@pytest.mark.parametrize("case", list(CASES))
def test_encode(benchmark: Any, twin: ModuleType, case: str) -> None:
    nsp, data = CASES[case]
    packet = twin.Packet(twin.EVENT, nsp, data)
    wire = benchmark(twin.Encoder().encode, packet)
    assert wire[0].startswith(("2", "5"))


@pytest.mark.parametrize("case", list(CASES))
def test_encode_packet_hot_path(benchmark: Any, twin: ModuleType, case: str) -> None:
    nsp, data = CASES[case]
    wire = benchmark(twin.encode_packet, twin.EVENT, nsp, data, None)
    assert wire == twin.Encoder().encode(twin.Packet(twin.EVENT, nsp, data))


@pytest.mark.parametrize("case", list(CASES))
def test_decode(benchmark: Any, twin: ModuleType, case: str) -> None:
    nsp, data = CASES[case]
    wire = twin.encode_packet(twin.EVENT, nsp, data)
    add = twin.Decoder().add

    def decode() -> Any:
        result = None
        for chunk in wire:
            result = add(chunk)
        return result

    assert benchmark(decode) == twin.Packet(twin.EVENT, nsp, data)
