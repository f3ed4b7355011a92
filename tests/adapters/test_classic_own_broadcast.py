"""hypersio.adapters.cluster.classic: a server's own broadcasts, which come back through the pattern
subscription, are recognised by their first bytes and dropped before decoding; the others' are not.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hypersio.adapters.base import BroadcastOptions
from hypersio.adapters.cluster import classic, notepack
from hypersio.adapters.cluster.classic import ClassicAdapter, encode_broadcast


class NullTransport:
    """A transport that records what is published."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    def publish(self, channel: str, payload: bytes) -> None:
        self.published.append((channel, payload))

    async def subscribers(self, channel: str) -> int:
        return 1


def _adapter() -> tuple[ClassicAdapter, list[tuple[list[Any], BroadcastOptions]]]:
    nsp = SimpleNamespace(name="/", server=SimpleNamespace(connection_state_recovery=None), sockets={})
    adapter = ClassicAdapter(nsp, NullTransport(), key="k")  # type: ignore[arg-type]
    delivered: list[tuple[list[Any], BroadcastOptions]] = []
    adapter._on_broadcast = lambda data, opts: delivered.append((data, opts))  # type: ignore[method-assign]
    return adapter, delivered


@pytest.mark.parametrize("uid", ["abc123", "A-_z09", "x" * 6, "a-longer-uid-than-node-uses-0123456789"])
def test_own_broadcast_head_is_how_encode_broadcast_starts(uid: str) -> None:
    payload = encode_broadcast(uid, "/", ["tick", 1.5, 2, "x"], BroadcastOptions(rooms=frozenset({"r1"})))
    assert payload.startswith(b"\x93" + notepack.pack(uid))


def test_own_broadcasts_are_dropped_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, delivered = _adapter()
    own = encode_broadcast(adapter.uid, "/", ["tick", 1], BroadcastOptions())
    decoded: list[bytes] = []
    real = classic.parse_broadcast
    monkeypatch.setattr(classic, "parse_broadcast", lambda p: decoded.append(p) or real(p))
    adapter.on_broadcast_message(b"k#/#", own)
    assert decoded == [] and delivered == []


def test_other_servers_broadcasts_are_delivered() -> None:
    adapter, delivered = _adapter()
    other = "zz" + adapter.uid[2:] if not adapter.uid.startswith("zz") else "yy" + adapter.uid[2:]
    adapter.on_broadcast_message(b"k#/#", encode_broadcast(other, "/", ["tick", 1], BroadcastOptions()))
    # a uid that merely starts like ours is another server's
    longer = adapter.uid + "x"
    adapter.on_broadcast_message(b"k#/#", encode_broadcast(longer, "/", ["tick", 2], BroadcastOptions()))
    assert [data for data, _ in delivered] == [["tick", 1], ["tick", 2]]
