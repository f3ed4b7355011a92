"""The msgpack codec against the real socket.io-msgpack-parser 3.0.2 (notepack.io) in node.

One node process per test runs tests/js/msgpack_vectors.js; requests and replies cross
stdin/stdout as JSON lines, packets as base64 and values in a tagged JSON form that keeps the
types JSON cannot tell apart (see the header of msgpack_vectors.js).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import random
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest

from hypersio import ParseError

pytestmark = pytest.mark.interop

SCRIPT = Path(__file__).resolve().parent.parent / "js" / "msgpack_vectors.js"
UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
SAFE = 2**53 - 1


def run_node(env: dict[str, str], requests: list[dict]) -> list[dict]:
    """Send every request to one node process and return its replies, in order."""
    text = "".join(json.dumps(r) + "\n" for r in requests)
    proc = subprocess.run(["node", str(SCRIPT)], input=text, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    replies = [json.loads(line) for line in proc.stdout.split("\n") if line]  # not splitlines: U+2028
    assert len(replies) == len(requests), proc.stderr
    for reply in replies:
        assert "error" not in reply, reply["error"]
    return replies


# --- tagged JSON, both ways --------------------------------------------------------------------


def tag(v: Any) -> Any:
    """Python value -> the tagged JSON form msgpack_vectors.js builds JavaScript values from."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"$i": str(v)}
    if isinstance(v, float):
        if math.isinf(v):
            return {"$f": "Infinity" if v > 0 else "-Infinity"}
        return {"$f": repr(v)}
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"$bin": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, dt.datetime):
        return {"$date": (v - EPOCH) // dt.timedelta(milliseconds=1)}
    if isinstance(v, (list, tuple)):
        return [tag(x) for x in v]
    return {"$o": [[k, tag(x)] for k, x in v.items()]}


def untag(t: Any) -> Any:
    """Tagged JSON from node -> the Python value hypersio should produce for it."""
    if t is None or isinstance(t, (bool, str)):
        return t
    if isinstance(t, list):
        return [untag(x) for x in t]
    if "$u" in t:
        return None
    if "$i" in t:
        return int(t["$i"])
    if "$f" in t:
        return float(t["$f"])
    if "$bin" in t:
        return base64.b64decode(t["$bin"])
    if "$ab" in t:
        return base64.b64decode(t["$ab"])
    if "$date" in t:
        return EPOCH + dt.timedelta(milliseconds=t["$date"])
    return {k: untag(x) for k, x in t["$o"]}


def same(a: Any, b: Any) -> bool:
    """Whether Python value ``a`` and the value node saw, ``b``, are the same JavaScript value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int) and isinstance(b, float):
        return float(a) == b  # beyond 2**53 node holds the nearest double
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, (list, tuple)):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (bytearray, memoryview)):
        a = bytes(a)
    if isinstance(a, dt.datetime) and a.tzinfo is None:
        a = a.replace(tzinfo=UTC)
    return type(a) is type(b) and a == b


def safe_ints(v: Any) -> bool:
    """Whether notepack.io can write every number in ``v``: it takes any integral number for an
    integer and writes those beyond 2**53 wrongly (truncated to 32-bit halves)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return -SAFE <= v <= SAFE
    if isinstance(v, float):
        return not v.is_integer() or -SAFE <= v <= SAFE
    if isinstance(v, (list, tuple)):
        return all(map(safe_ints, v))
    if isinstance(v, dict):
        return all(map(safe_ints, v.values()))
    return True


def array_index(key: str) -> bool:
    return key.isascii() and key.isdigit() and str(int(key)) == key and int(key) < 2**32 - 1


def byte_comparable(v: Any) -> bool:
    """False where JavaScript cannot hold the same value: integral floats become integers,
    unsafe integers lose bits, and array-index keys are reordered by JS objects."""
    if isinstance(v, bool) or v is None:
        return True
    if isinstance(v, int):
        return -SAFE <= v <= SAFE
    if isinstance(v, float):
        return not v.is_integer() and not math.isnan(v)
    if isinstance(v, (list, tuple)):
        return all(map(byte_comparable, v))
    if isinstance(v, dict):
        return all(not array_index(k) and byte_comparable(x) for k, x in v.items())
    return True


# --- random packets ----------------------------------------------------------------------------

ALPHABET = "abcXYZ019 _-é日本😀\u2028\x00\x7f"


def rand_str(rng: random.Random) -> str:
    n = rng.choice((0, 1, 5, 31, 32, 40, 255, 256, 300)) if rng.random() < 0.3 else rng.randrange(12)
    return "".join(rng.choice(ALPHABET) for _ in range(n))


def rand_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(14 if depth < 3 else 10)
    if kind == 0:
        return rng.choice((None, True, False))
    if kind == 1:
        return rng.randint(-40, 140)
    if kind == 2:
        bits = rng.choice((8, 16, 31, 32, 33, 52, 53))
        return rng.randint(-(2**bits), 2**bits - 1) if bits < 53 else rng.choice((SAFE, -SAFE))
    if kind == 3:
        return rng.choice((2**63 - 1, -(2**63), 2**64 - 1, 2**60, 2**53 + 1))
    if kind == 4:
        return rng.choice((rng.uniform(-1e6, 1e6), rng.random() * 1e-300, 1.5e300, float("inf"), -0.5))
    if kind == 5:
        return float(rng.randint(-5, 5))  # integral float: node holds it as an integer
    if kind in (6, 7):
        return rand_str(rng)
    if kind == 8:
        n = rng.choice((0, 1, 8, 255, 256, 70000)) if rng.random() < 0.2 else rng.randrange(20)
        raw = rng.randbytes(n)
        return rng.choice((bytes, bytearray, memoryview))(raw)
    if kind == 9:
        return EPOCH + dt.timedelta(milliseconds=rng.randint(-(10**13), 10**13))
    if kind in (10, 11):
        items = [rand_value(rng, depth + 1) for _ in range(rng.choice((0, 1, 3, 16, 17)))]
        return items if rng.random() < 0.8 else tuple(items)
    keys = [rng.choice((rand_str(rng), "k", "1", "42", "data")) for _ in range(rng.choice((0, 2, 16)))]
    return {k: rand_value(rng, depth + 1) for k in keys}


def rand_packet(rng: random.Random) -> tuple[int, str, Any, int | None]:
    ptype = rng.randrange(5)
    nsp = rng.choice(("/", "/", "/admin", "/é/日本", "/" + rand_str(rng), ""))
    pid = None
    if ptype == 0:
        data = None if rng.random() < 0.3 else {"token": rand_str(rng), "n": rand_value(rng, 2)}
    elif ptype == 1:
        data = None
    elif ptype == 4:
        data = rand_str(rng) if rng.random() < 0.5 else {"message": rand_str(rng), "data": rand_value(rng, 2)}
    else:
        head = [rng.choice(("chat", "é", "x" * 40, 7, 2.5))] if ptype == 2 else []
        data = head + [rand_value(rng, 1) for _ in range(rng.randrange(5))]
        if rng.random() < 0.5:
            pid = rng.choice((0, 1, 127, 128, 65535, 65536, 2**32, SAFE))
    return ptype, nsp, data, pid


def packet_tag(ptype: int, nsp: str, data: Any, pid: int | None) -> dict:
    """The JS packet object in the key order hypersio writes: type, data, nsp, id."""
    entries: list = [["type", tag(ptype)]]
    if data is not None:
        entries.append(["data", tag(data)])
    entries.append(["nsp", nsp])
    if pid is not None:
        entries.append(["id", tag(pid)])
    return {"$o": entries}


def check_js_packet(got: dict, ptype: int, nsp: str, data: Any, pid: int | None) -> None:
    assert same(ptype, got["type"]) and got["nsp"] == nsp
    assert ("data" in got) == (data is not None)
    if data is not None:
        assert same(data, got["data"]), (data, got["data"])
    assert ("id" in got) == (pid is not None)
    if pid is not None:
        assert same(pid, got["id"])


# --- tests -------------------------------------------------------------------------------------


def test_our_packets_decode_in_js_and_match_its_bytes(msgpack_twin: ModuleType, node_env: dict[str, str]) -> None:
    rng = random.Random(20261126)
    packets = [rand_packet(rng) for _ in range(400)]
    ours = [msgpack_twin.encode_packet(*p) for p in packets]
    requests: list[dict] = []
    for (ptype, nsp, data, pid), chunks in zip(packets, ours):
        assert len(chunks) == 1 and type(chunks[0]) is bytes
        requests.append({"op": "decode", "b64": base64.b64encode(chunks[0]).decode()})
        requests.append({"op": "encode", "packet": packet_tag(ptype, nsp, data, pid)})
    replies = run_node(node_env, requests)
    compared = 0
    decoder = msgpack_twin.Decoder()
    for i, (packet, chunks) in enumerate(zip(packets, ours)):
        decoded, encoded = replies[2 * i], replies[2 * i + 1]
        assert decoded["ok"], (packet, decoded)
        check_js_packet(untag(decoded["packet"]), *packet)
        theirs = base64.b64decode(encoded["b64"])
        back = decoder.add(theirs)  # what node encodes for the same packet decodes here
        if not safe_ints(packet[2]):
            continue
        check_js_packet(
            {
                "type": back.type,
                "nsp": back.nsp,
                **({} if back.data is None else {"data": back.data}),
                **({} if back.id is None else {"id": back.id}),
            },
            *packet,
        )
        if byte_comparable(packet[2]):
            assert chunks[0] == theirs, packet
            compared += 1
    assert compared >= 150, compared  # most random packets are byte-comparable


def test_js_packets_decode_here(msgpack_twin: ModuleType, node_env: dict[str, str]) -> None:
    (reply,) = run_node(node_env, [{"op": "samples"}])
    samples = reply["samples"]
    names = {s["name"] for s in samples}
    assert {"client-0-type0", "client-1-type2", "client-2-type2", "client-3-type3", "values"} <= names
    decoder = msgpack_twin.Decoder()
    for sample in samples:
        raw = base64.b64decode(sample["b64"])
        packet = decoder.add(raw)
        want = untag(sample["packet"])
        assert packet.type == want["type"] and packet.nsp == want["nsp"], sample["name"]
        assert packet.id == want.get("id"), sample["name"]
        assert same(want.get("data"), packet.data), (sample["name"], packet.data, want.get("data"))
        if sample["name"] == "client-1-type2":  # a real emit with ack: options is skipped
            assert raw.count(b"options") == 1 and packet.id == 0
            assert packet.data == ["with-ack", 1, "two", {"three": [3.5, None, None]}, b"\x04\x05"]
        if sample["name"] == "client-2-type2":  # ext 0: 1-byte typed array, 8-byte typed array, Date
            assert packet.data == [
                "no-ack",
                b"\x00",
                bytes.fromhex("000000000000f43f"),
                EPOCH + dt.timedelta(milliseconds=1700000000123),
            ]
        if sample["name"] == "client-0-type0":  # CONNECT without auth: data is undefined
            assert b"\xd4\x00\x00" in raw and packet.data is None
        # What we encode for the packet node built decodes back there to the same thing.
        if sample["name"].startswith("server-") and sample["name"] != "server-ack":
            ours = msgpack_twin.encode_packet(packet.type, packet.nsp, packet.data, packet.id)[0]
            if "id" not in want:
                assert ours == raw, sample["name"]  # same key order: byte for byte


def pack(obj: Any) -> str:
    return base64.b64encode(msgpack.packb(obj)).decode()


INVALID_FOR_BOTH = [
    {"type": 5, "data": ["x"], "nsp": "/"},
    {"type": 7, "data": ["x"], "nsp": "/"},
    {"type": -1, "data": ["x"], "nsp": "/"},
    {"type": "2", "data": ["x"], "nsp": "/"},
    {"type": 2.5, "data": ["x"], "nsp": "/"},
    {"type": True, "data": ["x"], "nsp": "/"},
    {"data": ["x"], "nsp": "/"},
    {"type": 2, "data": ["x"]},
    {"type": 2, "data": ["x"], "nsp": 1},
    {"type": 2, "data": ["x"], "nsp": None},
    {"type": 2, "data": ["x"], "nsp": "/", "id": "1"},
    {"type": 2, "data": ["x"], "nsp": "/", "id": None},
    {"type": 2, "data": ["x"], "nsp": "/", "id": 1.5},
    {"type": 2, "data": {"a": 1}, "nsp": "/"},
    {"type": 2, "nsp": "/"},
    {"type": 3, "data": "x", "nsp": "/"},
    {"type": 0, "data": None, "nsp": "/"},
    {"type": 0, "data": ["x"], "nsp": "/"},
    {"type": 1, "data": None, "nsp": "/"},
    {"type": 1, "data": {}, "nsp": "/"},
    {"type": 4, "nsp": "/"},
    {"type": 4, "data": ["x"], "nsp": "/"},
    {"type": 4, "data": 1, "nsp": "/"},
    ["type", 2],
    "just a string",
]
# socket.io-msgpack-parser accepts these; hypersio applies socket.io-parser's stricter rules.
STRICTER_HERE = [
    {"type": 2, "data": [], "nsp": "/"},
    {"type": 2, "data": ["connect"], "nsp": "/"},
    {"type": 2, "data": [None], "nsp": "/"},
    {"type": 2, "data": ["x"], "nsp": "/", "id": -1},
    {"type": 2, "data": ["x"], "nsp": "/", "id": 2**53},
]
VALID_FOR_BOTH = [
    {"type": 2.0, "data": ["x"], "nsp": "/", "id": 3.0},  # JavaScript integers written as floats
    {"nsp": "/a", "extra": {"deep": [1]}, "data": [1], "type": 2},
    {"type": 3, "data": [], "nsp": ""},
]


def test_validity_rules_agree(msgpack_twin: ModuleType, node_env: dict[str, str]) -> None:
    cases = INVALID_FOR_BOTH + STRICTER_HERE + VALID_FOR_BOTH
    raw = [pack(c) for c in cases] + [
        base64.b64encode(msgpack.packb({"type": 2, "data": ["x"], "nsp": "/"}) + b"\x00").decode(),
        base64.b64encode(msgpack.packb({"type": 2, "data": ["x"], "nsp": "/"})[:-1]).decode(),
    ]
    replies = run_node(node_env, [{"op": "decode", "b64": b} for b in raw])
    decoder = msgpack_twin.Decoder()
    n_invalid, n_stricter = len(INVALID_FOR_BOTH), len(STRICTER_HERE)
    for i, (b64, reply) in enumerate(zip(raw, replies)):
        js_ok = reply["ok"]
        try:
            packet = decoder.add(base64.b64decode(b64))
            ok = True
        except ParseError:
            ok = False
        label = cases[i] if i < len(cases) else f"framing case {i - len(cases)}"
        if i < n_invalid or i >= len(cases):
            assert not js_ok and not ok, label
        elif i < n_invalid + n_stricter:
            assert js_ok and not ok, label
        else:
            assert js_ok and ok, label
            assert packet.type == int(cases[i]["type"])
