"""Write the seed corpus fuzz/corpus/<target>/ (small files, committed): valid and near-valid packets
made with hypersio's own encoders, the vectors of the test suites (tests/protocol,
tests/interop: what tests/js/*_vectors.js are run on) and a few hand-written hostile ones.

    PYTHONPATH=src python fuzz/make_corpus.py      # rewrites fuzz/corpus/ (deterministic)
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import shutil
import sys
from pathlib import Path
from typing import Any

import msgpack

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "interop"))
sys.path.insert(0, str(ROOT / "tests" / "protocol"))
sys.path.insert(0, str(ROOT))

from hypersio.adapters.base import BroadcastOptions  # noqa: E402
from hypersio.adapters.cluster import classic, messages, notepack, redis_streams  # noqa: E402
from hypersio.protocol.engineio import _packets_py as eio  # noqa: E402
from hypersio.protocol.socketio import _json_py as sjson  # noqa: E402
from hypersio.protocol.socketio import _msgpack_py as smsgpack  # noqa: E402
from hypersio.protocol.websocket import _frames_py as ws  # noqa: E402

SPICY = ['"', "\\", "\n", "\x00", "\x7f", "é", "€", "😀", "\u2028", "\ufeff", "\ud800", "\U0010ffff", "{", "]"]
EVENT_DATA: list[Any] = [
    ["chat", "hello"],
    ["x", 1, 2.5, True, None, {"a": [1, {"b": "c"}]}],
    [42, "numeric event"],
    ["bin", b"\x00\x01\xff"],
    ["two", b"a", {"nested": [b"b"]}],
    ["spicy", *SPICY],
    ["big", 2**53 - 1, -(2**63), 2**64 - 1, 1e308, -0.0],
]


def _interop_vectors() -> dict[str, list[Any]]:
    """The vectors of the interop tests (fed to tests/js/*_vectors.js) and of the unit tests."""
    found: dict[str, list[Any]] = {}
    try:
        import test_msgpack_codec_vs_msgpack_parser as m  # type: ignore[import-not-found]

        found["msgpack_maps"] = m.INVALID_FOR_BOTH + m.STRICTER_HERE + m.VALID_FOR_BOTH
    except Exception as exc:  # pragma: no cover - the generator still writes the rest
        print("no msgpack interop vectors:", exc)
    try:
        import test_json_codec as j  # type: ignore[import-not-found]

        found["json_invalid"] = [text for text, _ in j.INVALID]
    except Exception as exc:  # pragma: no cover
        print("no json unit vectors:", exc)
    return found


def ws_frames() -> list[bytes]:
    seeds = []
    client = lambda op, payload, fin=True: ws.build_frame(op, payload, fin=fin, mask_key=b"\x11\x22\x33\x44")  # noqa: E731
    server = lambda op, payload, fin=True: ws.build_frame(op, payload, fin=fin)  # noqa: E731
    for flags, frame in (
        (0b00001, client(ws.OP_TEXT, "4hello")),
        (0b00001, client(ws.OP_BINARY, b"\x00\x01\x02")),
        (0b00001, client(ws.OP_PING, b"probe") + client(ws.OP_CLOSE, ws.build_close_payload(1000, "bye"))),
        (0b01001, client(ws.OP_TEXT, "4" + "é" * 70, fin=False) + client(ws.OP_CONTINUATION, "😀")),
        (0b00111, client(ws.OP_BINARY, b"x" * 300)),
        (0b00101, client(ws.OP_TEXT, "y" * 70_000)[:200]),
        (0b00000, server(ws.OP_TEXT, "40") + server(ws.OP_PONG, b"")),
        (0b00000, server(ws.OP_TEXT, "a", fin=False) + server(ws.OP_PING, b"p") + server(ws.OP_CONTINUATION, "b")),
        (0b11000, server(ws.OP_CLOSE, b"\x03\xe8\xff")),
        (0b00001, b"\x81\xff" + (2**40).to_bytes(8, "big") + b"\x00\x00\x00\x00"),
        (0b00001, b"\x88\x82\x00\x00\x00\x00\x03"),
    ):
        seeds.append(bytes((flags,)) + frame)
    return seeds


def ws_close() -> list[bytes]:
    return [
        b"",
        b"\x03\xe8",
        ws.build_close_payload(1000, "bye"),
        b"\x0f\xa0\xc3\xa9",
        b"\x03\xed",
        b"\x03",
        b"\x03\xe8\xc3",
    ]


def eio_packet() -> list[bytes]:
    seeds = [eio.encode_packet(t).encode() for t in range(7)]
    seeds += [
        b"4hello",
        b"2probe",
        b"3probe",
        b"5",
        b"bAAEC",
        b"b" + base64.b64encode(bytes(range(40))),
        b"b==",
        b"7",
        b"",
    ]
    seeds += [b'0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000}', "4😀\u2028".encode()]
    return seeds


def eio_payload() -> list[bytes]:
    bodies = [
        "4hello\x1e4world\x1e2",
        "4a\x1ebAQID\x1e6",
        "\x1e",
        "4" + "\x1e4" * 20,
        '40{"sid":"x"}\x1e42["chat","hi"]',
        "4é\x1e4😀",
    ]
    seeds = [bytes((flags,)) + body.encode() for body in bodies for flags in (0b110, 0b111)]
    seeds.append(b"\x06\xff\xfe")
    return seeds


def sio_json(vectors: dict[str, list[Any]]) -> list[bytes]:
    seeds = []
    for data in EVENT_DATA:
        for ptype in (sjson.EVENT, sjson.ACK):
            chunks = sjson.encode_packet(ptype, "/chat", data, 7)
            wire = [c.encode("utf-8", "surrogatepass") if isinstance(c, str) else b"\x01" + c for c in chunks]
            seeds.append(b"\x02" + b"\x00".join(wire))
    for ptype, data in (
        (sjson.CONNECT, {"token": "x"}),
        (sjson.CONNECT, None),
        (sjson.DISCONNECT, None),
        (sjson.CONNECT_ERROR, "nope"),
        (sjson.CONNECT_ERROR, {"message": "m", "data": [1]}),
    ):
        seeds.append(b"\x02" + sjson.encode_packet(ptype, "/", data)[0].encode())
    seeds += [b"\x02" + t.encode("utf-8", "surrogatepass") for t in vectors.get("json_invalid", [])]
    seeds += [
        b'\x0251-["x",{"_placeholder":true,"num":0}]\x00\x01ab',
        b'\x0261-/a,9[{"_placeholder":true,"num":1}]\x00\x01a',
        b'\x0252-["x",{"_placeholder":true,"num":0}]\x002["y"]',
        b'\x022["\\ud800"]',
        b"\x022" + b"[" * 1100 + b"]" * 1100,
        b'\x022["\\ud83d\\ude00",1e999]',
    ]
    return seeds


def sio_msgpack(vectors: dict[str, list[Any]]) -> list[bytes]:
    seeds = []
    for data in EVENT_DATA:
        if data[0] != "spicy":  # msgpack cannot hold lone surrogates
            seeds += smsgpack.encode_packet(smsgpack.EVENT, "/chat", data, 7)
    seeds += smsgpack.encode_packet(smsgpack.EVENT, "/", ["date", datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)])
    seeds += smsgpack.encode_packet(smsgpack.CONNECT, "/", {"token": "x"})
    seeds += smsgpack.encode_packet(smsgpack.CONNECT_ERROR, "/", "nope")
    seeds += [msgpack.packb(obj) for obj in vectors.get("msgpack_maps", [])]
    # notepack.io's extensions: undefined (fixext1 type 0), Date (fixext8 type 0), ArrayBuffer (ext8 type 0).
    seeds += [
        b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1x\xd4\x00\x00",
        b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1x\xd7\x00" + (1_700_000_000_000).to_bytes(8, "big"),
        b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1x\xc7\x03\x00abc",
        b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1x\xd7\x00\x7f\xff\xff\xff\xff\xff\xff\xff",
        b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1x\xd6\xff\x00\x00\x00\x01",
        b"\x91" * 1100 + b"\xc0",
    ]
    return seeds


def _cluster_messages() -> list[dict[str, Any]]:
    opts = classic.opts_to_wire(BroadcastOptions(rooms=frozenset({"r1"}), except_rooms=frozenset({"r2"})), True)
    packet = {"type": 2, "data": ["chat", "hi", b"\x01"], "nsp": "/"}
    uid = "0123456789abcdef"
    return [
        messages.message(messages.HEARTBEAT, None, uid, "/"),
        messages.message(messages.BROADCAST, {"opts": opts, "packet": packet}, uid, "/"),
        messages.message(
            messages.BROADCAST, {"opts": opts, "packet": {**packet, "data": ["x"]}, "requestId": "r"}, uid, "/"
        ),
        messages.message(messages.SOCKETS_JOIN, {"opts": opts, "rooms": ["a", "b"]}, uid, "/"),
        messages.message(messages.DISCONNECT_SOCKETS, {"opts": opts, "close": True}, uid, "/"),
        messages.message(messages.FETCH_SOCKETS, {"opts": opts, "requestId": "r"}, uid, "/"),
        messages.message(
            messages.FETCH_SOCKETS_RESPONSE,
            {"requestId": "r", "sockets": [{"id": "s", "rooms": ["s"], "data": 1}]},
            uid,
            "/",
        ),
        messages.message(messages.SERVER_SIDE_EMIT, {"packet": ["hello", 1], "requestId": "r"}, uid, "/"),
        messages.message(messages.SERVER_SIDE_EMIT_RESPONSE, {"requestId": "r", "packet": [b"\x00"]}, uid, "/"),
        messages.message(messages.BROADCAST_CLIENT_COUNT, {"requestId": "r", "clientCount": 3}, uid, "/"),
        messages.message(messages.BROADCAST_ACK, {"requestId": "r", "packet": [1.5]}, uid, "/"),
    ]


def cluster_notepack() -> list[bytes]:
    values: list[Any] = [None, True, 1, -1, 2**63, 1.5, "é", b"\x00", [1, [2]], {"a": {1: 2}}]
    seeds = [notepack.pack(v) for v in values]
    seeds += [notepack.pack(datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC))]
    seeds += [
        b"\xd4\x00\x00",
        b"\xd7\x00" + (1_700_000_000_000).to_bytes(8, "big"),
        b"\xc7\x03\x00abc",
        b"\xd4\x05\x01",
    ]
    seeds += [
        b"\xd6\xff\x00\x00\x00\x01",
        b"\xd7\xff" + bytes(8),
        b"\xc7\x0c\xff" + bytes(12),
        b"\x91\xd7\x00" + b"\x7f" * 8,
    ]
    return seeds


def cluster_wire() -> list[bytes]:
    seeds = [messages.encode(m) for m in _cluster_messages()]
    seeds += [b'{"rooms":["a",1,2.5],"except":[],"flags":{"volatile":true,"timeout":5000}}', b"{", b'{"a":1e400}']
    seeds += [notepack.pack({"rooms": [1.0, 1e300], "except": None, "flags": {"timeout": 1.5}})]
    return seeds


def cluster_classic() -> list[bytes]:
    opts = BroadcastOptions(rooms=frozenset({"r1"}), except_rooms=frozenset({"r2"}), volatile=True)
    seeds = [classic.encode_broadcast("abcdef", "/", ["chat", "hi"], opts)]
    seeds += [classic.encode_broadcast("abcdef", "/admin", ["bin", b"\x00\xff", {"d": 1.5}], BroadcastOptions())]
    seeds += [notepack.pack(["u", {"type": 5, "data": [1, 2], "nsp": ""}, {"rooms": [3, 4.5], "except": []}])]
    seeds += [notepack.pack(["u", {"type": 2, "data": ["x"]}, None]), b"\x93"]
    return seeds


def cluster_messages() -> list[bytes]:
    seeds = [messages.encode(m) for m in _cluster_messages()]
    seeds += [messages.encode_msgpack(m) for m in _cluster_messages()]
    seeds += [
        b'{"type":13,"nsp":"/"}',
        b'{"type":true,"nsp":"/"}',
        b'{"type":11,"nsp":"/","data":{"requestId":"r","clientCount":-1}}',
    ]
    return seeds


def _fields(parts: list[str]) -> bytes:
    return b"\x00".join(p.encode() for p in parts)


def cluster_streams_entry() -> list[bytes]:
    seeds = []
    for m in _cluster_messages():
        seeds.append(_fields(redis_streams.encode_entry(m)))
        seeds.append(_fields(redis_streams.encode_entry(m, only_plaintext=True)))
    seeds += [b"type\x00x", b"type\x003\x00data\x00!!!", b"type\x003\x00data\x00kQ==", b"uid\x00\xff\x00type\x0012"]
    return seeds


def cluster_streams_session() -> list[bytes]:
    session = {"sid": "s1", "pid": "p1", "rooms": ["s1", "r"], "data": {"user": 1, "b": b"\x00"}}
    return [
        redis_streams.encode_session(session).encode(),
        b"",
        b"kQ==",
        b"!!",
        base64.b64encode(msgpack.packb({"sid": 1})),
    ]


def workers_sid() -> list[bytes]:
    return [
        b"GET /socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /socket.io/?EIO=4&transport=polling&t=abc&sid=xyz%20%E9 HTTP/1.1\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        b"GET /socket.io/?sid=&sid=a;b HTTP/1.1",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GARBAGE",
    ]


def main() -> None:
    vectors = _interop_vectors()
    made = {
        "ws_frames": ws_frames(),
        "ws_close": ws_close(),
        "eio_packet": eio_packet(),
        "eio_payload": eio_payload(),
        "sio_json": sio_json(vectors),
        "sio_msgpack": sio_msgpack(vectors),
        "cluster_notepack": cluster_notepack(),
        "cluster_wire": cluster_wire(),
        "cluster_classic": cluster_classic(),
        "cluster_messages": cluster_messages(),
        "cluster_streams_entry": cluster_streams_entry(),
        "cluster_streams_session": cluster_streams_session(),
        "workers_sid": workers_sid(),
    }
    root = HERE / "corpus"
    for name, seeds in made.items():
        folder = root / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for seed in dict.fromkeys(s[:8192] for s in seeds):
            (folder / hashlib.sha1(seed).hexdigest()[:16]).write_bytes(seed)
        print(f"{name}: {len(list(folder.iterdir()))} seeds")


if __name__ == "__main__":
    main()
