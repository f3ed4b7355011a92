"""The streams adapter's stream format (CLUSTER-NOTES.md §4.1, §4.2) against the samples Node
writes: XADD fields, stream entries read back, the session kept in Redis, the stream a namespace
uses. No Redis."""

from __future__ import annotations

import pytest

from hypersio import cluster
from hypersio.adapters.base import BroadcastOptions
from hypersio.adapters.cluster import messages as M
from hypersio.adapters.cluster.redis_streams import (
    _included,
    decode_entry,
    decode_session,
    encode_entry,
    encode_session,
    java_hash,
    next_offset,
    stream_of,
)
from hypersio.adapters.cluster.wire import BadMessage

UID = "e8d5490c5ae27e41"


def _broadcast(data: list[object], rooms: list[str]) -> dict[str, object]:
    return M.message(
        M.BROADCAST,
        {"packet": {"type": 2, "data": data}, "opts": {"rooms": rooms, "except": [], "flags": {}}},
        UID,
        "/",
    )


def test_xadd_fields_json_and_base64_msgpack() -> None:
    assert encode_entry(_broadcast(["chat", "hi"], ["room1"])) == [
        "uid", UID, "nsp", "/", "type", "3",
        "data", '{"packet":{"type":2,"data":["chat","hi"]},"opts":{"rooms":["room1"],"except":[],"flags":{}}}',
    ]  # fmt: skip
    fields = encode_entry(_broadcast(["bin", b"\x01\x02\x03"], []))
    assert fields[-1] == "gqZwYWNrZXSCpHR5cGUCpGRhdGGSo2JpbsQDAQIDpG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgA=="
    # only_plaintext: JSON whatever the data, bytes as Node's Buffer JSON
    plain = encode_entry(_broadcast(["bin", b"\x01"], []), only_plaintext=True)
    assert plain[-1].startswith('{"packet":{"type":2,"data":["bin",{"type":"Buffer","data":[1]}]}')
    # a type that cannot carry binary is JSON even with bytes in it
    join = M.message(M.SOCKETS_JOIN, {"opts": {"rooms": [], "except": [], "flags": {}}, "rooms": ["r"]}, UID, "/")
    assert encode_entry(join)[-1] == '{"opts":{"rooms":[],"except":[],"flags":{}},"rooms":["r"]}'
    # heartbeat-style entries have no data field
    assert encode_entry(M.message(M.HEARTBEAT, None, UID, "/")) == ["uid", UID, "nsp", "/", "type", "2"]


def test_entries_read_back_as_node_writes_them() -> None:
    raw = {
        b"uid": UID.encode(),
        b"nsp": b"/",
        b"type": b"3",
        b"data": b"gqZwYWNrZXSCpHR5cGUCpGRhdGGSo2JpbsQDAQIDpG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgA==",
    }
    msg = decode_entry(raw)
    assert msg == {
        "uid": UID,
        "nsp": "/",
        "type": 3,
        "data": {
            "packet": {"type": 2, "data": ["bin", b"\x01\x02\x03"]},
            "opts": {"rooms": [], "except": [], "flags": {}},
        },
    }
    assert M.validate(msg) is msg
    fields = encode_entry(_broadcast(["x", 1.5, {"a": None}], ["r"]))
    assert decode_entry(dict(zip(fields[::2], fields[1::2], strict=True))) == _broadcast(["x", 1.5, {"a": None}], ["r"])
    assert decode_entry({b"uid": b"u", b"nsp": b"/", b"type": b"2"}) == {"uid": "u", "nsp": "/", "type": 2}


@pytest.mark.parametrize(
    "fields",
    [
        {b"nsp": b"/", b"type": b"x3"},
        {b"nsp": b"/"},
        {b"nsp": b"/", b"type": b"3", b"data": b"{not json"},
        {b"nsp": b"/", b"type": b"3", b"data": b"!!not base64!!"},
        {b"nsp": b"/", b"type": b"3", b"data": b"wQ=="},  # base64 of 0xc1, never msgpack
        # Found by fuzzing (issue 13): these passed str.isdigit and int() raised a ValueError.
        {b"nsp": b"/", b"type": "\u00b2".encode()},  # a superscript digit
        {b"nsp": b"/", b"type": b"9" * 5000},  # past int()'s 4300 digits
        {b"nsp": b"/", b"type": "\u0661".encode()},  # an Arabic-Indic 1: parseInt gives NaN in Node
    ],
)
def test_malformed_entries_raise_bad_message(fields: dict[bytes, bytes]) -> None:
    with pytest.raises(BadMessage):
        decode_entry(fields)


def test_session_as_node_keeps_it() -> None:
    session = {"sid": "s1", "pid": "p1", "rooms": ["s1", "room1"], "data": {"a": 1}}
    assert encode_session(session) == "hKNzaWSiczGjcGlkonAxpXJvb21zkqJzMaVyb29tMaRkYXRhgaFhAQ=="
    assert decode_session(b"hKNzaWSiczGjcGlkonAxpXJvb21zkqJzMaVyb29tMaRkYXRhgaFhAQ==") == session
    for bad in (b"", b"!!", b"kQ==", b"gaNzaWQB"):  # empty, not base64, [nil]... , {sid: 1}
        with pytest.raises(BadMessage):
            decode_session(bad)


def test_stream_names_and_offsets() -> None:
    assert java_hash("/") == 47 and java_hash("/admin") == 1438238848
    assert java_hash("/orders-namespace-long") == -873825593
    assert java_hash("") == 0 and java_hash("\U0001f600") == (0xD83D * 31 + 0xDE00)  # UTF-16 code units
    assert stream_of("/", "socket.io", 1) == "socket.io"
    assert stream_of("/", "socket.io", 4) == "socket.io-3"
    assert stream_of("/orders-namespace-long", "socket.io", 4) == "socket.io--1"  # Node's quirk, kept
    assert next_offset("1700000000000-0") == "1700000000000-1"


def test_which_stored_broadcasts_a_session_missed() -> None:
    rooms = ["sid", "r1"]
    assert _included(rooms, BroadcastOptions())
    assert _included(rooms, BroadcastOptions(rooms=frozenset({"r1", "r2"})))
    assert not _included(rooms, BroadcastOptions(rooms=frozenset({"r2"})))
    assert not _included(rooms, BroadcastOptions(except_rooms=frozenset({"sid"})))


def test_empty_data_is_still_written_and_the_streams_adapter_refuses_cluster_clients() -> None:
    assert encode_entry(M.message(M.SOCKETS_JOIN, {}, UID, "/"))[-2:] == ["data", "{}"]

    class RedisCluster:  # stands for redis.asyncio.cluster.RedisCluster
        pass

    with pytest.raises(TypeError, match="not supported by this adapter"):
        cluster.redis_streams_adapter(RedisCluster())
    # (the sharded adapter takes cluster clients: tests/interop/test_sharded_on_redis_cluster.py)
    with pytest.raises(ValueError, match="subscription_mode"):
        cluster.sharded_redis_adapter("redis://127.0.0.1", subscription_mode="sometimes")
