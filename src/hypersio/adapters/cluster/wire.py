"""Pieces shared by the cluster wire protocols: broadcast options on the wire, JSON as Node writes
it, ids, and the first-byte rule that tells JSON from msgpack (CLUSTER-NOTES.md §1).

No I/O here: these are the sans-I/O helpers the message layers (:mod:`.classic`,
:mod:`.messages`) and emitters build on.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from hypersio.adapters.base import BroadcastOptions
from hypersio.adapters.cluster import notepack

__all__ = [
    "BadMessage",
    "decode_any",
    "dumps",
    "event_data",
    "loads",
    "opts_from_wire",
    "opts_to_wire",
    "short_id",
    "hex_id",
]


class BadMessage(ValueError):
    """A message from the cluster that does not fit the protocol (dropped and logged)."""


def _json_default(value: Any) -> Any:
    # What JSON.stringify makes of what JSON cannot hold: a Buffer is {"type":"Buffer","data":[..]}.
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"type": "Buffer", "data": list(bytes(value))}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} to the cluster")


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON (no spaces, as ``JSON.stringify``): it must start with ``{``."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def loads(payload: bytes) -> Any:
    """Parse JSON from a peer; raises :class:`BadMessage`."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"invalid JSON: {exc}") from None


def decode_any(payload: bytes) -> Any:
    """JSON when the first byte is ``{``, msgpack otherwise (the rule of every Node adapter)."""
    if payload[:1] == b"{":
        return loads(payload)
    try:
        return notepack.unpack(payload)
    except Exception as exc:  # msgpack raises several types for garbage; all mean the same here
        raise BadMessage(f"invalid msgpack: {exc}") from None


def short_id() -> str:
    """6 characters of ``[A-Za-z0-9_-]``: the classic adapter's uids and request ids (uid2(6))."""
    return secrets.token_urlsafe(6)[:6]


def hex_id() -> str:
    """16 hex characters: the ClusterAdapter's uids and request ids (8 random bytes)."""
    return secrets.token_hex(8)


def opts_to_wire(opts: BroadcastOptions, with_timeout: bool = False) -> dict[str, Any]:
    """``{"rooms", "except", "flags"}`` as Node writes them; flags hold only what was set."""
    flags: dict[str, Any] = {}
    if opts.volatile:
        flags["volatile"] = True
    if not opts.compress:
        flags["compress"] = False
    if with_timeout and opts.timeout is not None:
        flags["timeout"] = round(opts.timeout * 1000)
    return {"rooms": list(opts.rooms), "except": list(opts.except_rooms), "flags": flags}


def _names(value: Any, what: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise BadMessage(f"{what} is not a list")
    names = []
    for name in value:
        if isinstance(name, str):
            names.append(name)
        elif isinstance(name, (int, float)) and not isinstance(name, bool):
            names.append(str(int(name)) if float(name).is_integer() else str(name))  # JS numeric rooms
        else:
            raise BadMessage(f"{what} holds a {type(name).__name__}")
    return frozenset(names)


def opts_from_wire(opts: Any) -> BroadcastOptions:
    """The :class:`BroadcastOptions` of a peer's ``opts``; unknown flags are accepted and ignored."""
    if opts is None:
        return BroadcastOptions()
    if not isinstance(opts, dict):
        raise BadMessage("opts is not a map")
    flags = opts.get("flags")
    if not isinstance(flags, dict):
        flags = {}
    timeout = flags.get("timeout")
    return BroadcastOptions(
        rooms=_names(opts.get("rooms"), "rooms"),
        except_rooms=_names(opts.get("except"), "except"),
        volatile=flags.get("volatile") is True,
        compress=flags.get("compress") is not False,
        timeout=timeout / 1000 if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) else None,
    )


def event_data(packet: Any) -> list[Any]:
    """``packet.data`` of a broadcast packet: ``[event, *args]``; raises :class:`BadMessage`."""
    if not isinstance(packet, dict):
        raise BadMessage("packet is not a map")
    data = packet.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], (str, int)):
        raise BadMessage("packet data is not [event, ...args]")
    if packet.get("type", 2) not in (2, 5):
        raise BadMessage(f"packet type {packet.get('type')!r} is not an event")
    return data
