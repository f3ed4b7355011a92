"""Interop of the JSON codec with the official socket.io-parser 4.2.7 (Node), over both twins.

Each test runs ONE node process (tests/js/parser_vectors.js) for many seeded-random vectors:
what we encode, socket.io-parser decodes; what socket.io-parser encodes, we decode; both must
give back the packet we started from. Hostile texts check that we never accept what
socket.io-parser refuses. Values travel as JSON with binary tagged ``{"$b64": ...}``.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hypersio import ParseError

pytestmark = pytest.mark.interop

HELPER = Path(__file__).resolve().parent.parent / "js" / "parser_vectors.js"
RESERVED = {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
# Characters that stress JSON escaping and UTF-8: quotes, backslash, controls, DEL, non-BMP,
# U+2028/9 (raw in JSON.stringify), a BOM, and lone surrogates (escaped by both sides).
SPICY = [
    '"',
    "\\",
    "/",
    "\n",
    "\r",
    "\t",
    "\b",
    "\f",
    "\x00",
    "\x1f",
    "\x7f",
    "é",
    "€",
    "中",
    "😀",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ud800",
    "\udfff",
    "\U0010ffff",
    " ",
    "a",
    "Z",
    "0",
    "{",
    "]",
    ",",
]


def run_node(env: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
    """One node run over all vectors of a test."""
    proc = subprocess.run(
        ["node", str(HELPER)],
        input=json.dumps(request),  # ensure_ascii: lone surrogates travel as \\udXXX escapes
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        encoding="utf-8",
        errors="surrogatepass",
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def tag(value: Any) -> Any:
    """Python value -> transit JSON (binary as {"$b64": ...})."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (list, tuple)):
        return [tag(v) for v in value]
    if isinstance(value, dict):
        return {k: tag(v) for k, v in value.items()}
    return value


def untag(value: Any) -> Any:
    """Transit JSON -> Python value."""
    if isinstance(value, list):
        return [untag(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$b64"}:
            return base64.b64decode(value["$b64"])
        return {k: untag(v) for k, v in value.items()}
    return value


class RandomPackets:
    """Seeded generator of valid packets of every type (dict keys never look like integers:
    JavaScript would reorder those, which is legal but breaks byte-for-byte comparison)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text(self, max_len: int = 10) -> str:
        rng = self.rng
        text = "".join(
            rng.choice(SPICY) if rng.random() < 0.5 else chr(rng.randint(0x20, 0x2FF))
            for _ in range(rng.randint(0, max_len))
        )
        # A high then a low surrogate are one astral character to JavaScript (UTF-16): not a
        # round trip for a Python str, so keep lone surrogates lone.
        return text.replace("\ud800\udfff", "\ud800-\udfff")

    def key(self) -> str:
        return "k" + self.text(6)

    def scalar(self, floats: bool) -> Any:
        rng = self.rng
        choice = rng.randrange(6 if floats else 5)
        if choice == 0:
            return None
        if choice == 1:
            return rng.random() < 0.5
        if choice == 2:
            return rng.randint(-(2**53) + 1, 2**53 - 1) if rng.random() < 0.3 else rng.randint(-1000, 1000)
        if choice in (3, 4):
            return self.text()
        return rng.choice([0.5, -1.25, 3.141592653589793, 1e-7, 6.02e23, rng.uniform(-1e6, 1e6)])

    def value(self, depth: int, binary: bool, floats: bool) -> Any:
        rng = self.rng
        roll = rng.random()
        if depth <= 0 or roll < 0.45:
            if binary and rng.random() < 0.15:
                return rng.randbytes(rng.choice([0, 1, 7, 300]))
            return self.scalar(floats)
        if roll < 0.75:
            return [self.value(depth - 1, binary, floats) for _ in range(rng.randint(0, 4))]
        return {self.key(): self.value(depth - 1, binary, floats) for _ in range(rng.randint(0, 4))}

    def packet(self) -> tuple[int, str, Any, int | None, bool]:
        """(type, nsp, data, id, has_floats)."""
        rng = self.rng
        floats = rng.random() < 0.3
        ptype = rng.choice([0, 1, 2, 2, 2, 3, 3, 4])
        nsp = "/" if rng.random() < 0.5 else "/" + self.text(8).replace(",", "")
        nsp = nsp.encode("utf-8", "replace").decode()  # a namespace is sendable text: no lone surrogates
        pid = None if rng.random() < 0.5 else rng.choice([0, 1, 42, rng.randint(0, 2**53 - 1)])
        if ptype == 0:
            data = None if rng.random() < 0.4 else {self.key(): self.value(2, False, floats) for _ in range(3)}
        elif ptype == 1:
            data = None
        elif ptype == 2:
            name: Any = self.text(8)
            if name in RESERVED or rng.random() < 0.1:
                name = rng.randint(0, 99)
            data = [name] + [self.value(3, True, floats) for _ in range(rng.randint(0, 4))]
            if rng.random() < 0.2:
                data.append(rng.randbytes(rng.randint(0, 64)))
        elif ptype == 3:
            data = [self.value(3, True, floats) for _ in range(rng.randint(0, 4))]
        else:
            data = self.text() if rng.random() < 0.5 else {"message": self.text(), "data": self.value(2, False, floats)}
        return ptype, nsp, data, pid, floats


def js_numbers(value: Any) -> Any:
    """``value`` with ints beyond 2**53 as floats: what a JavaScript Number keeps of them."""
    if type(value) is int and abs(value) > 2**53:
        return float(value)
    if isinstance(value, list):
        return [js_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: js_numbers(v) for k, v in value.items()}
    return value


def as_wire_packet(ptype: int, nsp: str, data: Any, pid: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ptype, "nsp": nsp}
    if data is not None:
        out["data"] = tag(data)
    if pid is not None:
        out["id"] = pid
    return out


def chunks_to_wire(chunks: list[Any]) -> list[Any]:
    return [c if isinstance(c, str) else tag(c) for c in chunks]


def chunks_from_wire(chunks: list[Any]) -> list[Any]:
    return [c if isinstance(c, str) else untag(c) for c in chunks]


def test_both_directions_give_the_same_packet(json_twin: ModuleType, node_env: dict[str, str]) -> None:
    m = json_twin
    gen = RandomPackets(seed=20240501)
    packets = [gen.packet() for _ in range(1500)]
    ours = [m.encode_packet(t, n, d, i) for t, n, d, i, _ in packets]
    reply = run_node(
        node_env,
        {
            "encode": [as_wire_packet(t, n, d, i) for t, n, d, i, _ in packets],
            "decode": [chunks_to_wire(w) for w in ours],
        },
    )
    assert len(reply["encoded"]) == len(reply["decoded"]) == len(packets)
    byte_equal = 0
    for (ptype, nsp, data, pid, floats), mine, theirs_wire, theirs_decoded in zip(
        packets, ours, reply["encoded"], reply["decoded"]
    ):
        expected = m.Packet(ptype, nsp, data, pid)
        # socket.io-parser decoded what we encoded into the same packet...
        assert theirs_decoded["status"] == "packet", (mine, theirs_decoded)
        got = theirs_decoded["packet"]
        assert (got["type"], got["nsp"], untag(got.get("data")), got.get("id")) == (ptype, nsp, data, pid), mine
        # ...we decode what it encoded into the same packet...
        theirs = chunks_from_wire(theirs_wire)
        decoder = m.Decoder()
        result = None
        for chunk in theirs:
            result = decoder.add(chunk)
        assert result == expected, theirs
        # ...and without floats (1.0 vs 1) both write the very same bytes.
        if not floats:
            assert mine == theirs, (mine, theirs)
            byte_equal += 1
    assert byte_equal > 800


def hostile_texts(m: ModuleType, seed: int, count: int) -> list[str]:
    """Valid encodings mutated by insertions, deletions and truncation, plus raw garbage."""
    rng = random.Random(seed)
    gen = RandomPackets(seed + 1)
    alphabet = '0123456789-/,[]{}":\\ abtrue\\u00e9\\ud800nul.eE+'
    out = ["", "0", "1", "2", "3", "4", "5", "6", "7", "51-", "5-", " ", '2 ["x"]', "0/", "0/,", "0,"]
    while len(out) < count:
        t, n, d, i, _ = gen.packet()
        text = m.encode_packet(t, n, d, i)[0]
        for _ in range(rng.randint(1, 3)):
            pos = rng.randint(0, len(text))
            op = rng.random()
            if op < 0.4:
                text = text[:pos] + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3))) + text[pos:]
            elif op < 0.7:
                text = text[:pos] + text[pos + rng.randint(1, 3) :]
            else:
                text = text[:pos]
        out.append(text)
        out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))))
    return out


def known_stricter(text: str, node_packet: dict[str, Any] | None, message: str) -> bool:
    """Where hypersio deliberately refuses what socket.io-parser 4.2.7 lets through."""
    if text.strip() == "" or text[0] == " ":
        return "empty" in message or "packet type" in message  # Number("") === 0 quirk
    if node_packet is not None and "data" not in node_packet and node_packet["type"] in (2, 3, 4):
        return "payload" in message  # EVENT/ACK/CONNECT_ERROR without any payload
    # Number() quirks: attachment counts like " 1" or "1e0", whitespace read as an ack id, ids >2**53
    return "attachments" in message or "ack id" in message or "whitespace" in message


def test_never_more_lenient_than_socket_io_parser(json_twin: ModuleType, node_env: dict[str, str]) -> None:
    m = json_twin
    texts = hostile_texts(m, seed=77, count=3000)
    reply = run_node(node_env, {"decode": [[t] for t in texts]})
    agreed_errors = 0
    for text, theirs in zip(texts, reply["decoded"]):
        try:
            mine: Any = m.Decoder().add(text)
        except ParseError as exc:
            if theirs["status"] != "error":
                node_packet = theirs.get("packet")
                assert known_stricter(text, node_packet, str(exc)), (text, theirs, str(exc))
            else:
                agreed_errors += 1
            continue
        assert theirs["status"] != "error", (text, theirs, mine)
        if mine is None:
            assert theirs["status"] == "pending", (text, theirs)
        else:
            got = theirs["packet"]
            assert (got["type"], got["nsp"], js_numbers(untag(got.get("data"))), got.get("id")) == (
                mine.type,
                mine.nsp,
                js_numbers(mine.data),
                mine.id,
            ), text
    assert agreed_errors > 500


def test_binary_reassembly_and_placeholder_rules_agree(json_twin: ModuleType, node_env: dict[str, str]) -> None:
    m = json_twin
    vectors: list[list[Any]] = [
        ['51-["a",{"_placeholder":true,"num":0}]', b"x"],
        ['52-["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]', b"x", b"y"],
        ['51-["a",{"_placeholder":true,"num":1}]', b"x"],
        ['51-["a",{"_placeholder":true,"num":-1}]', b"x"],
        ['51-["a",{"_placeholder":true,"num":"0"}]', b"x"],
        ['51-["a",{"_placeholder":true}]', b"x"],
        ['52-["a",{"_placeholder":true,"num":0}]', b"x"],
        ['52-["a",{"_placeholder":true,"num":0}]', b"x", '2["b"]'],
        ['51-["a",{"_placeholder":true,"num":0}]', '2["b"]'],
        [b"x"],
        ['61-3[{"k":[{"_placeholder":true,"num":0}]}]', b"\xff\x00"],
        ['511-["a"]'],
        [
            '510-["a",' + ",".join(f'{{"_placeholder":true,"num":{i}}}' for i in range(10)) + "]",
            *[bytes([i]) for i in range(10)],
        ],
    ]
    reply = run_node(node_env, {"decode": [chunks_to_wire(v) for v in vectors]})
    for chunks, theirs in zip(vectors, reply["decoded"]):
        decoder = m.Decoder()
        try:
            mine = None
            for chunk in chunks:
                mine = decoder.add(chunk)
        except ParseError:
            assert theirs["status"] == "error", (chunks, theirs)
            continue
        if mine is None:
            assert theirs["status"] == "pending", (chunks, theirs)
            continue
        got = theirs["packet"]
        assert (got["type"], got["nsp"], untag(got.get("data")), got.get("id")) == (
            mine.type,
            mine.nsp,
            mine.data,
            mine.id,
        )
