"""Interop with the official JavaScript packages: engine.io-parser and ws (node, tests/js).

One node process per test (tests/js/eio_vectors.js). The parser test trades a few hundred random
packets both ways; the WebSocket tests run real loopback connections: our masked client frames
against a ws server, and a ws client's masked frames against our parser, each side checking what
the other built.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import socket
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hypersio.exceptions import ParseError

pytestmark = pytest.mark.interop

SCRIPT = Path(__file__).resolve().parent.parent / "js" / "eio_vectors.js"
NAMES = ["open", "close", "ping", "pong", "message", "upgrade", "noop"]
MiB = 1 << 20
IO_TIMEOUT = 10.0


# ---------------------------------------------------------------- engine.io-parser


def _random_text(rng: random.Random) -> str:
    pools = [(0x20, 0x7E), (0x00, 0x1D), (0xA0, 0x2FF), (0x4E00, 0x4E80), (0x1F300, 0x1F330), (0xE000, 0xE010)]
    out = []
    for _ in range(rng.randint(0, 30)):
        lo, hi = rng.choice(pools)
        out.append(chr(rng.randint(lo, hi)))  # no surrogates, no record separator (0x1E)
    return "".join(out)


def _random_packets(rng: random.Random, count: int) -> list[tuple[int, str | bytes | None]]:
    packets: list[tuple[int, str | bytes | None]] = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.3:
            packets.append((4, rng.randbytes(rng.randint(0, 40))))
        elif kind < 0.45:
            packets.append((rng.randint(0, 6), None))
        else:
            packets.append((rng.randint(0, 6), _random_text(rng)))
    return packets


def _to_wire(data: str | bytes | None) -> Any:
    if isinstance(data, bytes):
        return {"bin": base64.b64encode(data).decode()}
    return data


def _from_wire(data: Any) -> str | bytes | None:
    if isinstance(data, dict):
        return base64.b64decode(data["bin"])
    return data


def _node_json(args: list[str], node_env: dict[str, str], stdin: str) -> Any:
    proc = subprocess.run(
        ["node", str(SCRIPT), *args], input=stdin.encode(), capture_output=True, env=node_env, timeout=30
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def test_engine_io_parser_agrees(engineio_twin: ModuleType, node_env: dict[str, str]) -> None:
    e = engineio_twin
    rng = random.Random(20261126)
    packets = _random_packets(rng, 400)
    # "" and data-less packets are the same on the wire: engine.io-parser decodes both as no data.
    expected = [(t, d if d != "" else None) for t, d in packets]
    ours_single = [e.encode_packet(t, d, b64=True) for t, d in packets]
    ours_payload = e.encode_payload(ours_single)
    small_payloads = [e.encode_payload(ours_single[i : i + 7]) for i in range(0, len(ours_single), 7)]
    malformed = ["", "7", "x", "4a\x1e\x1e4b", "\x1e", "2\x1e9"]
    request = {
        "packets": [{"type": NAMES[t], "data": _to_wire(d)} for t, d in packets],
        "payloads": [ours_payload, *small_payloads, *malformed],
        "encoded": ours_single,
    }
    answer = _node_json(["parser"], node_env, json.dumps(request))

    # JS encoded -> identical strings, and our decoder reads them back.
    assert answer["single"] == ours_single
    assert answer["payload"] == ours_payload
    assert e.decode_payload(answer["payload"]) == expected
    assert e.decode_payload(answer["payload"].encode()) == expected
    assert [e.decode_packet(s) for s in answer["single"]] == expected

    # Ours encoded -> the JS decoder reads the same packets.
    def js_packets(decoded: list[dict[str, Any]]) -> list[tuple[int, str | bytes | None]]:
        return [(NAMES.index(p["type"]), _from_wire(p["data"])) for p in decoded]

    decoded_payloads = answer["decodedPayloads"]
    assert js_packets(decoded_payloads[0]) == expected
    assert sum((js_packets(d) for d in decoded_payloads[1 : 1 + len(small_payloads)]), []) == expected
    assert js_packets(answer["decodedPackets"]) == expected

    # What the JS parser flags as an error packet, ours refuses with ParseError.
    for body, decoded in zip(malformed, decoded_payloads[1 + len(small_payloads) :]):
        assert decoded[-1]["type"] == "error", body
        with pytest.raises(ParseError):
            e.decode_payload(body)


# ---------------------------------------------------------------- WebSocket with ws


def _binary(n: int) -> bytes:
    """The same bytes eio_vectors.js builds: buf[i] = (i * 7 + n) & 0xff."""
    return bytes((i * 7 + n) & 0xFF for i in range(n))


def _read_http_head(sock: socket.socket) -> tuple[str, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "connection closed during the handshake"
        data += chunk
        assert len(data) < 16384
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def _headers(head: str) -> dict[str, str]:
    lines = head.split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _read_messages(sock: socket.socket, parser: Any, pending: bytes, until: Any) -> list[tuple[int, object]]:
    """Feed the parser from the socket until ``until(message)`` is true for a message (or EOF)."""
    out = parser.feed(pending) if pending else []
    while not any(until(m) for m in out):
        chunk = sock.recv(262144)
        if not chunk:
            break
        out += parser.feed(chunk)
    return out


def _node_ws(node_env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["node", str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=node_env)


def test_our_masked_client_frames_against_ws_server(websocket_twin: ModuleType, node_env: dict[str, str]) -> None:
    w = websocket_twin
    proc = _node_ws(node_env, "ws-server")
    try:
        assert proc.stdout is not None
        port = json.loads(proc.stdout.readline())["port"]
        sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head, rest = _read_http_head(sock)
        assert head.startswith("HTTP/1.1 101"), head
        assert _headers(head)["sec-websocket-accept"] == w.accept_key(key)

        sent: list[tuple[int, object]] = [(w.OP_TEXT, "hello"), (w.OP_TEXT, "héllo ☃ 𝄞")]
        sent += [(w.OP_BINARY, _binary(n)) for n in (0, 1, 125, 126, 65535, 65536, MiB)]
        frames = [w.build_frame(op, data, mask=True) for op, data in sent]
        raw = "fragmentédtext".encode()
        frames += [
            w.build_frame(w.OP_TEXT, raw[:9], mask=True, fin=False),
            w.build_frame(w.OP_PING, b"mid", mask=True),
            w.build_frame(w.OP_CONTINUATION, raw[9:10], mask=True, fin=False),
            w.build_frame(w.OP_CONTINUATION, raw[10:], mask=True),
            w.build_frame(w.OP_PING, b"\x00\xff", mask=True),
            w.build_frame(w.OP_CLOSE, w.build_close_payload(1000, "done ☃"), mask=True),
        ]
        sock.sendall(b"".join(frames))

        parser = w.FrameParser(max_message_size=4 * MiB, expect_masked=False)
        got = _read_messages(sock, parser, rest, lambda m: m[0] == w.OP_CLOSE)
        sock.close()
        out, err = proc.communicate(timeout=IO_TIMEOUT)
    finally:
        proc.kill()
        proc.wait()
    expected = [*sent, (w.OP_PONG, b"mid"), (w.OP_TEXT, "fragmentédtext"), (w.OP_PONG, b"\x00\xff")]
    assert [m for m in got if m[0] != w.OP_CLOSE] == expected
    assert got[-1] == (w.OP_CLOSE, (1000, "done ☃"))
    summary = json.loads(out)
    assert summary == {"messages": 10, "pings": ["6d6964", "00ff"], "close": [1000, "done ☃"], "error": None}, err


def test_ws_client_frames_against_our_parser(websocket_twin: ModuleType, node_env: dict[str, str]) -> None:
    w = websocket_twin
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(IO_TIMEOUT)
    proc = _node_ws(node_env, "ws-client", str(listener.getsockname()[1]))
    try:
        sock, _ = listener.accept()
        sock.settimeout(IO_TIMEOUT)
        head, rest = _read_http_head(sock)
        assert head.startswith("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1"), head
        key = _headers(head)["sec-websocket-key"]
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {w.accept_key(key)}\r\n\r\n"
            ).encode()
        )
        parser = w.FrameParser(max_message_size=4 * MiB, expect_masked=True)
        got = _read_messages(sock, parser, rest, lambda m: m == (w.OP_TEXT, "done"))

        # Our unmasked server frames, including a fragmented message and a ping, to the ws client.
        replies: list[bytes] = [b"srv text \xe2\x98\x83", b"", _binary(126), _binary(65536), _binary(MiB)]
        frames = [w.build_frame(w.OP_TEXT, replies[0].decode())]
        frames += [w.build_frame(w.OP_BINARY, data) for data in replies[1:]]
        frames += [
            w.build_frame(w.OP_BINARY, b"frag-", fin=False),
            w.build_frame(w.OP_PING, b"srv-ping"),
            w.build_frame(w.OP_CONTINUATION, b"ment"),
            w.build_frame(w.OP_TEXT, "close-now"),
        ]
        sock.sendall(b"".join(frames))
        closing = _read_messages(sock, parser, b"", lambda m: m[0] == w.OP_CLOSE)
        sock.sendall(w.build_frame(w.OP_CLOSE, w.build_close_payload(4000, "bye ☃")))
        sock.close()
        out, err = proc.communicate(timeout=IO_TIMEOUT)
    finally:
        listener.close()
        proc.kill()
        proc.wait()

    expected: list[tuple[int, object]] = [(w.OP_TEXT, "hello"), (w.OP_TEXT, "héllo ☃ 𝄞")]
    expected += [(w.OP_BINARY, _binary(n)) for n in (0, 1, 125, 126, 65535, 65536, MiB)]
    expected += [(w.OP_PING, b"mid"), (w.OP_TEXT, "fragmentédtext"), (w.OP_TEXT, "done")]
    assert got == expected
    assert closing == [(w.OP_PONG, b"srv-ping"), (w.OP_CLOSE, (4000, "bye ☃"))]

    summary = json.loads(out)
    assert summary["error"] is None, err
    sent_to_node = (
        [(False, replies[0])] + [(True, r) for r in replies[1:]] + [(True, b"frag-ment"), (False, b"close-now")]
    )
    assert summary["received"] == [
        {"binary": binary, "length": len(data), "sha1": hashlib.sha1(data).hexdigest()} for binary, data in sent_to_node
    ]
    assert summary["pongs"] == []
    assert summary["close"] == [4000, "bye ☃"]
