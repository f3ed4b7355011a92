"""The msgpack dialects of the official cluster packages, on top of the ``msgpack`` package.

Two dialects travel between servers (CLUSTER-NOTES.md §1.4, §4.1):

* notepack.io 3 (the classic and sharded Redis adapters, the Redis emitter): integral numbers are
  integers, other numbers float64, ``Date`` the timestamp extension, binary the bin family;
* ``@msgpack/msgpack`` 2.8 (the streams adapter's Pub/Sub and its stream entries): the same for
  everything a Python value can hold.

Python values map onto both the same way, so one encoder serves both; :func:`pack` writes the
bytes a Node peer writes for the same value (an integral ``float`` becomes an integer, as
JavaScript has only one number type). :func:`unpack` turns what Node writes back into Python:
bin into ``bytes``, timestamps into ISO-8601 strings (what a Node server's clients would see),
notepack 2's legacy extensions into ``None`` or ``bytes``.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgpack

__all__ = ["has_binary", "pack", "unpack"]

_BINARY = (bytes, bytearray, memoryview)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _default(value: Any) -> Any:
    """Types msgpack cannot write by itself: what JSON-minded Node code would send instead."""
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return msgpack.Timestamp.from_datetime(value)
    to_json = getattr(value, "to_json", None) or getattr(value, "toJSON", None)
    if callable(to_json):
        return to_json()
    raise TypeError(f"cannot send {type(value).__name__} to the cluster")


def _integral_floats(value: Any) -> Any:
    """``value`` with every integral float made an int (notepack writes 1.0 as ``01``)."""
    kind = type(value)
    if kind is float:
        if value.is_integer() and -(2**63) <= value < 2**64:
            return int(value)
        return value
    if kind is list or kind is tuple:
        return [_integral_floats(item) for item in value]
    if kind is dict:
        return {key: _integral_floats(item) for key, item in value.items()}
    return value


def _has_float(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return True
    if kind is list or kind is tuple:
        return any(_has_float(item) for item in value)
    if kind is dict:
        return any(_has_float(item) for item in value.values())
    return False


_packer_options: dict[str, Any] = {"use_bin_type": True, "default": _default, "datetime": False}


def pack(value: Any) -> bytes:
    """``value`` in msgpack as notepack.io would write it (smallest forms, integral numbers as ints)."""
    if _has_float(value):
        value = _integral_floats(value)
    return msgpack.packb(value, **_packer_options)  # type: ignore[no-any-return]


def _ext_hook(code: int, data: bytes) -> Any:
    # notepack 2 legacy forms (CLUSTER-NOTES.md §1.4): ext 0 of one byte is undefined, of eight a
    # Date in ms, otherwise an ArrayBuffer.
    if code == 0:
        if len(data) == 1:
            return None
        if len(data) == 8:
            ms = int.from_bytes(data, "big", signed=True)
            try:
                return _iso(_EPOCH + datetime.timedelta(milliseconds=ms))
            except OverflowError:  # beyond datetime's years 1..9999 (JavaScript: an Invalid Date)
                raise ValueError(f"date {ms} ms from the epoch is out of range") from None
        return bytes(data)
    return [code, bytes(data)]


def _iso(moment: datetime.datetime) -> str:
    """JavaScript's ``Date.prototype.toISOString``: milliseconds and a ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _timestamps_to_iso(value: Any) -> Any:
    kind = type(value)
    if kind is msgpack.Timestamp:
        try:
            return _iso(value.to_datetime())
        except OverflowError:  # beyond datetime's years 1..9999
            raise ValueError(f"timestamp {value.seconds} s from the epoch is out of range") from None
    if kind is list:
        return [_timestamps_to_iso(item) for item in value]
    if kind is dict:
        return {key: _timestamps_to_iso(item) for key, item in value.items()}
    return value


def unpack(data: bytes) -> Any:
    """One msgpack value from ``data`` (trailing bytes are an error, as in notepack).

    Raises ``ValueError`` (msgpack's ``ExtraData``/``FormatError``/``StackError`` derive from it)
    on malformed input, for a map key Python cannot hold (a map or an array), and for a date or
    timestamp outside years 1..9999; callers drop such messages.
    """
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook, timestamp=0)
    except TypeError as exc:  # a map or an array as a map key: unhashable in Python
        raise ValueError(f"unusable map key: {exc}") from None
    if b"\xd6\xff" in data or b"\xd7\xff" in data or b"\xc7\x0c\xff" in data:
        value = _timestamps_to_iso(value)
    return value


def has_binary(value: Any) -> bool:
    """True when ``value`` holds bytes anywhere (what decides msgpack over JSON in the sharded
    adapter's messages)."""
    if isinstance(value, _BINARY):
        return True
    kind = type(value)
    if kind is list or kind is tuple:
        return any(has_binary(item) for item in value)
    if kind is dict:
        return any(has_binary(item) for item in value.values())
    return False
