"""The classic protocol's and the emitter's messages, byte for byte against what the Node packages
write (the samples of CLUSTER-NOTES.md §2 and §5), and their decoding of bad input. No Redis."""

from __future__ import annotations

import datetime

import msgpack
import pytest

from hypersio.adapters.base import BroadcastOptions
from hypersio.adapters.cluster import notepack
from hypersio.adapters.cluster.classic import ClassicChannels, encode_broadcast, parse_broadcast
from hypersio.adapters.cluster.emitter import EmitterMessages
from hypersio.adapters.cluster.wire import BadMessage, decode_any, dumps, opts_from_wire, opts_to_wire


def test_broadcast_bytes_match_the_node_adapter() -> None:
    opts = BroadcastOptions(rooms=frozenset({"room1"}), except_rooms=frozenset({"sidA"}))
    payload = encode_broadcast("27VQjv", "/", ["chat", "hi", {"n": 1.5}], opts)
    expected = bytes.fromhex(
        "93"
        "a6323756516a76"
        "83"
        "a474797065"
        "02"
        "a464617461"
        "93a463686174a2686981a16ecb3ff8000000000000"
        "a36e7370a12f"
        "83"
        "a5726f6f6d7391a5726f6f6d31"
        "a665786365707491a473696441"
        "a5666c61677380"
    )
    assert payload == expected
    assert ClassicChannels("socket.io", "/", "u").for_rooms(opts.rooms) == "socket.io#/#room1#"
    assert ClassicChannels("socket.io", "/", "u").for_rooms(frozenset({"a", "b"})) == "socket.io#/#"


def test_binary_and_flags_encode_as_notepack() -> None:
    assert notepack.pack(["bin", b"\x01\x02\x03", bytearray(b"\x04\x05")]) == bytes.fromhex(
        "93a362696ec403010203c4020405"
    )
    flags = opts_to_wire(BroadcastOptions(volatile=True))["flags"]
    assert notepack.pack(flags) == bytes.fromhex("81a8766f6c6174696c65c3")
    assert notepack.pack({"a": 1.0, "b": [2.0, 2.5]}) == notepack.pack({"a": 1, "b": [2, 2.5]})


def test_emitter_messages_match_the_node_emitter() -> None:
    channel, payload = EmitterMessages(rooms=("room1",)).broadcast("chat", ("hi",))
    assert channel == "socket.io#/#room1#"
    expected = bytes.fromhex(
        "93"
        "a7656d6974746572"
        "83"
        "a47479706502"
        "a46461746192a463686174a26869"
        "a36e7370a12f"
        "83"
        "a5726f6f6d7391a5726f6f6d31"
        "a5666c61677380"
        "a665786365707490"
    )
    assert payload == expected
    channel, payload = EmitterMessages(
        nsp="/admin", except_rooms=("room2",), flags={"volatile": True, "compress": False}
    ).broadcast("x", (b"\x09",))
    assert channel == "socket.io#/admin#"
    assert b"\xc4\x01\x09" in payload
    channel, payload = EmitterMessages(rooms=("a", "b")).sockets_join(["c"])
    assert (channel, payload) == (
        "socket.io-request#/#",
        b'{"type":2,"opts":{"rooms":["a","b"],"except":[]},"rooms":["c"]}',
    )
    assert EmitterMessages().disconnect_sockets(True)[1] == b'{"type":4,"opts":{"rooms":[],"except":[]},"close":true}'
    assert EmitterMessages().server_side_emit("e", (1,))[1] == b'{"uid":"emitter","type":6,"data":["e",1]}'
    with pytest.raises(ValueError):
        EmitterMessages().broadcast("disconnect", ())


def test_json_is_compact_and_binary_becomes_a_buffer_object() -> None:
    assert dumps({"uid": "27VQjv", "requestId": "sJXVKP", "type": 6, "data": ["ping"]}) == (
        b'{"uid":"27VQjv","requestId":"sJXVKP","type":6,"data":["ping"]}'
    )
    assert dumps({"b": b"\x01\x02"}) == b'{"b":{"type":"Buffer","data":[1,2]}}'


def test_parse_broadcast_of_node_bytes() -> None:
    payload = bytes.fromhex(
        "93a6323756516a7683a47479706502a46461746193a463686174a2686981a16ecb3ff8000000000000a36e7370a12f"
        "83a5726f6f6d7391a5726f6f6d31a665786365707491a473696441a5666c61677382a8766f6c6174696c65c3a3666f6fc3"
    )
    uid, nsp, data, opts = parse_broadcast(payload)
    assert (uid, nsp, data) == ("27VQjv", "/", ["chat", "hi", {"n": 1.5}])
    assert opts.rooms == {"room1"} and opts.except_rooms == {"sidA"} and opts.volatile  # unknown flag "foo" ignored


def test_timestamps_and_legacy_extensions_decode_like_node() -> None:
    moment = datetime.datetime(2026, 12, 1, 10, 30, 0, 123000, tzinfo=datetime.UTC)
    packed = msgpack.packb(["d", msgpack.Timestamp.from_datetime(moment)], datetime=False)
    assert notepack.unpack(packed) == ["d", "2026-12-01T10:30:00.123Z"]
    assert notepack.unpack(b"\x92\xd4\x00\x00\x01") == [None, 1]  # notepack 2's undefined
    assert notepack.unpack(notepack.pack({"when": moment})) == {"when": "2026-12-01T10:30:00.123Z"}


@pytest.mark.parametrize("payload", [b"\x81\x81\x01\x02\x03", b"\x81\x91\x01\x02", b"\x91\x81\x80\xc0"])
def test_unhashable_map_keys_are_a_value_error(payload: bytes) -> None:
    # Fuzzing (issue 13) found a map (or array) used as a map key raising msgpack's TypeError.
    with pytest.raises(ValueError, match="map key"):
        notepack.unpack(payload)
    with pytest.raises(BadMessage):
        decode_any(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x91\xd7\x00" + b"\x7f" * 8,  # notepack 2's Date, 2**63 ms from the epoch: past year 9999
        b"\xd7\x00" + (-(10**15)).to_bytes(8, "big", signed=True),  # before year 1
        b"\xc7\x0c\xff" + bytes(4) + (2**62).to_bytes(8, "big"),  # a msgpack timestamp past year 9999
        b"\xc7\x0c\xff" + bytes(4) + (-(2**40)).to_bytes(8, "big", signed=True),  # before year 1
    ],
)
def test_dates_out_of_range_are_a_value_error(payload: bytes) -> None:
    # Fuzzing (issue 13) found these raising OverflowError, which unpack does not document.
    with pytest.raises(ValueError, match="out of range"):
        notepack.unpack(payload)
    with pytest.raises(BadMessage):
        decode_any(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",
        b"\x93\xa1u",
        b"\x92\xa1u\x80",
        b"\x93\xa1u\x81\xa4data\x90\x80",
        b"\x93\xa1u\x81\xa4data\x91\xc0\x80",
        b"\x93\xa1u\x82\xa4type\x03\xa4data\x91\xa1e\x80",
        b"\x93\xa1u\x81\xa4data\x91\xa1e\x81\xa5rooms\x91\xc3",
        b"\x93\xa1u\x81\xa4data\x91\xa1e\xa1x",
        b"\x93\xa1u\x81\xa4data\x91\xa1e\x80\x00",  # trailing bytes
    ],
)
def test_malformed_broadcasts_raise_bad_message(payload: bytes) -> None:
    with pytest.raises(BadMessage):
        parse_broadcast(payload)


def test_decode_any_and_opts_from_wire_refuse_garbage() -> None:
    with pytest.raises(BadMessage):
        decode_any(b"{not json")
    with pytest.raises(BadMessage):
        decode_any(b"\xc1")
    with pytest.raises(BadMessage):
        opts_from_wire({"rooms": "r"})
    assert opts_from_wire({"rooms": [123], "except": [], "flags": {"timeout": 2500}}).rooms == {"123"}
    assert opts_from_wire({"flags": {"timeout": 2500}}).timeout == 2.5
