"""Micro-benchmarks of the msgpack packet codec, both twins, with msgpack itself as the floor.

Run:  PYTHONPATH=src pytest benchmarks/test_micro_msgpack.py --benchmark-columns=min,median,ops

Numbers only: nothing here asserts a speed. Each codec case runs on the compiled module ("c")
and the pure-Python twin ("py"); the "floor" cases time bare msgpack.packb/unpackb of the same
map, the least any codec built on the msgpack library can cost.
"""

from __future__ import annotations

import datetime as dt
import importlib
from types import ModuleType
from typing import Any

import msgpack
import pytest

SMALL = (2, "/", ["chat", {"user": "alice", "text": "hello there"}], None)
WITH_ACK = (2, "/chat", ["upload", {"name": "a.bin"}, bytes(1024)], 42)
BIG_BINARY = (2, "/", ["file", bytes(65536)], None)
# What socket.io-client sends for emit("no-ack", new Uint8Array([0]), new Date(...), undefined)
# with an ack: options key, 1-byte ArrayBuffer next to undefined (the slow ext disambiguation).
JS_CLIENT = (
    b"\x85\xa4type\x02\xa4data\x94\xa6no-ack\xc7\x01\x00\x00\xd7\x00\x00\x00\x01\x8b\xcf\xe5h{"
    b"\xd4\x00\x00\xa7options\x81\xa8compress\xc3\xa2id\x05\xa3nsp\xa5/chat"
)


def _twin(kind: str) -> ModuleType:
    try:
        return importlib.import_module(f"hypersio.protocol.socketio._msgpack_{kind}")
    except ImportError as exc:
        pytest.skip(f"hypersio.protocol.socketio._msgpack_{kind} not available: {exc}")


@pytest.fixture(params=["c", "py"])
def mp(request: pytest.FixtureRequest) -> ModuleType:
    return _twin(request.param)


CASES = {"small": SMALL, "ack_1KiB_bin": WITH_ACK, "64KiB_bin": BIG_BINARY}


@pytest.mark.parametrize("case", list(CASES))
def test_encode(benchmark: Any, mp: ModuleType, case: str) -> None:
    out = benchmark(mp.encode_packet, *CASES[case])
    assert len(out) == 1


@pytest.mark.parametrize("case", list(CASES))
def test_decode(benchmark: Any, mp: ModuleType, case: str) -> None:
    raw = mp.encode_packet(*CASES[case])[0]
    packet = benchmark(mp.Decoder().add, raw)
    assert packet.data == list(CASES[case][2])


def test_decode_js_client_packet(benchmark: Any, mp: ModuleType) -> None:
    packet = benchmark(mp.Decoder().add, JS_CLIENT)
    assert packet.id == 5 and packet.data[1] == b"\x00" and packet.data[3] is None
    assert isinstance(packet.data[2], dt.datetime)


def test_encode_via_encoder(benchmark: Any, mp: ModuleType) -> None:
    from hypersio.parser import Packet

    packet = Packet(*SMALL)
    out = benchmark(mp.Encoder().encode, packet)
    assert out == mp.encode_packet(*SMALL)


@pytest.mark.parametrize("case", list(CASES))
def test_floor_packb(benchmark: Any, case: str) -> None:
    t, nsp, data, pid = CASES[case]
    obj = {"type": t, "data": data, "nsp": nsp, **({} if pid is None else {"id": pid})}
    packer = msgpack.Packer()
    benchmark(packer.pack, obj)


@pytest.mark.parametrize("case", list(CASES))
def test_floor_unpackb(benchmark: Any, case: str) -> None:
    raw = _twin("py").encode_packet(*CASES[case])[0]
    benchmark(msgpack.unpackb, raw)
