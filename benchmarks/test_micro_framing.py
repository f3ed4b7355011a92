"""Micro-benchmarks of the framing codecs (WebSocket frames, Engine.IO packets), both twins.

Run:  PYTHONPATH=src pytest benchmarks/test_micro_framing.py --benchmark-columns=min,median,ops

Numbers only: nothing here asserts a speed. Each case runs on the compiled module ("c") and the
pure-Python twin ("py"); compare the two columns for the gain the Cython build buys.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest

KEY = b"\x37\xfa\x21\x3d"
SMALL_TEXT = '42["chat",{"user":"alice","text":"hello there"}]'  # a typical Socket.IO event


def _twin(stem: str, kind: str) -> ModuleType:
    try:
        return importlib.import_module(f"hypersio.{stem}_{kind}")
    except ImportError as exc:
        pytest.skip(f"hypersio.{stem}_{kind} not available: {exc}")


@pytest.fixture(params=["c", "py"])
def ws(request: pytest.FixtureRequest) -> ModuleType:
    return _twin("protocol.websocket._frames", request.param)


@pytest.fixture(params=["c", "py"])
def eio(request: pytest.FixtureRequest) -> ModuleType:
    return _twin("protocol.engineio._packets", request.param)


@pytest.mark.parametrize("size", [1024, 65536], ids=["1KiB", "64KiB"])
def test_unmask(benchmark: Any, ws: ModuleType, size: int) -> None:
    data = bytes(range(256)) * (size // 256)
    out = benchmark(ws.mask_payload, data, KEY)
    assert len(out) == size


def test_build_small_server_frame(benchmark: Any, ws: ModuleType) -> None:
    out = benchmark(ws.build_frame, ws.OP_TEXT, SMALL_TEXT)
    assert out[2:] == SMALL_TEXT.encode()


def test_build_small_client_frame(benchmark: Any, ws: ModuleType) -> None:
    out = benchmark(ws.build_frame, ws.OP_TEXT, SMALL_TEXT, True)
    assert len(out) == 6 + len(SMALL_TEXT)


def test_build_64k_server_frame(benchmark: Any, ws: ModuleType) -> None:
    data = bytes(65536)
    out = benchmark(ws.build_frame, ws.OP_BINARY, data)
    assert len(out) == 65536 + 10


def test_parse_small_masked_text(benchmark: Any, ws: ModuleType) -> None:
    frame = ws.build_frame(ws.OP_TEXT, SMALL_TEXT, mask_key=KEY)
    parser = ws.FrameParser()
    out = benchmark(parser.feed, frame)
    assert out == [(ws.OP_TEXT, SMALL_TEXT)]


def test_parse_64k_masked_binary(benchmark: Any, ws: ModuleType) -> None:
    frame = ws.build_frame(ws.OP_BINARY, bytes(65536), mask_key=KEY)
    parser = ws.FrameParser()
    out = benchmark(parser.feed, frame)
    assert len(out[0][1]) == 65536


def test_eio_encode_message(benchmark: Any, eio: ModuleType) -> None:
    assert benchmark(eio.encode_packet, eio.MESSAGE, SMALL_TEXT[1:]) == SMALL_TEXT


def test_eio_decode_message(benchmark: Any, eio: ModuleType) -> None:
    assert benchmark(eio.decode_packet, SMALL_TEXT) == (eio.MESSAGE, SMALL_TEXT[1:])


def test_eio_decode_payload_10(benchmark: Any, eio: ModuleType) -> None:
    body = eio.encode_payload([SMALL_TEXT] * 8 + [eio.encode_packet(eio.MESSAGE, bytes(64), b64=True), "2"])
    assert len(benchmark(eio.decode_payload, body)) == 10
