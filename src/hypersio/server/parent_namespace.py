"""ParentNamespace: a dynamic namespace, one handler set for every concrete name that matches.

``sio.of(re.compile(r"^/team-\\d+$"))`` or ``sio.of(lambda name, auth: ...)`` returns one; the
server asks it whether a requested name matches and, if so, has it create the child namespace
for that name (socket.io's ``parent-namespace.ts``).
"""

from __future__ import annotations

import inspect
import itertools
import re
from collections.abc import Callable, Iterable
from typing import Any

from hypersio.adapters.base import BroadcastOptions, OnClient, RemoteAcks
from hypersio.adapters.memory import InMemoryAdapter
from hypersio.server.broadcast import BroadcastOperator
from hypersio.server.namespace import Namespace, ServerView

__all__ = ["Matcher", "ParentNamespace"]

#: A compiled regex (searched, as JS ``RegExp.test``) or ``fn(name, auth)`` (sync or async).
Matcher = re.Pattern[str] | Callable[[str, Any], Any]

# Parents get internal names of their own, never a name a client can ask for.
_parent_ids = itertools.count()


class ParentNamespace(Namespace):
    """A dynamic namespace: a regex or ``fn(name, auth) -> bool`` matching many concrete names.

    Handlers and middlewares registered on it are copied to each child created for a matching
    name (as in socket.io, registrations made after a child exists do not reach that child);
    ``emit`` and the other broadcast helpers reach the sockets of every child.
    """

    def __init__(self, server: ServerView, matcher: Matcher) -> None:
        super().__init__(server, f"/_{next(_parent_ids)}")
        self.matcher = matcher
        self.children: set[Namespace] = set()

    def _make_adapter(self) -> InMemoryAdapter:
        # The parent's own name is internal: a cluster adapter for it would subscribe for nothing.
        return InMemoryAdapter(self)

    async def matches(self, name: str, auth: Any) -> bool:
        """Whether ``name`` (with the client's ``auth``) belongs to this dynamic namespace."""
        if isinstance(self.matcher, re.Pattern):
            # socket.io tests the regex unanchored (RegExp.test), so this searches too.
            return self.matcher.search(name) is not None
        result = self.matcher(name, auth)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)

    def create_child(self, name: str) -> Namespace:
        """The concrete namespace for ``name``, with this parent's registrations as they are now
        (the server registers it under ``name``)."""
        child = Namespace(self.server, name)
        child.parent = self
        child.middlewares = list(self.middlewares)
        child.inherit_listeners(self)
        self.children.add(child)
        return child

    def _operator(self) -> BroadcastOperator:
        # Broadcasts from the parent reach the sockets of every child namespace.
        return BroadcastOperator(_ChildrenAdapter(self))

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Target the sockets in ``rooms`` in every child namespace."""
        return self._operator().to(rooms)


class _ChildrenAdapter:
    """Adapter face of a ParentNamespace: each operation is applied to every child's adapter."""

    def __init__(self, parent: ParentNamespace) -> None:
        self.nsp = parent
        self._parent = parent

    def _adapters(self) -> list[InMemoryAdapter]:
        return [child.adapter for child in list(self._parent.children)]

    def broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        for adapter in self._adapters():
            adapter.broadcast(data, opts)

    def broadcast_with_ack(
        self, data: list[Any], opts: BroadcastOptions, on_client: OnClient, remote: RemoteAcks | None = None
    ) -> int:
        # Each child would report its own other servers to ``remote``; the parent's broadcast
        # with acks counts the children's local sockets only.
        return sum(adapter.broadcast_with_ack(data, opts, on_client) for adapter in self._adapters())

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[Any]:
        result: list[Any] = []
        for adapter in self._adapters():
            result.extend(await adapter.fetch_sockets(opts))
        return result

    def add_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        for adapter in self._adapters():
            adapter.add_sockets(opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        for adapter in self._adapters():
            adapter.del_sockets(opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        for adapter in self._adapters():
            adapter.disconnect_sockets(opts, close)

    def server_side_emit(
        self,
        data: list[Any],
        callback: Callable[[BaseException | None, list[Any]], None] | None = None,
        timeout: float | None = None,
    ) -> None:
        # A server-side emit names a namespace; a dynamic parent is not one the other servers know.
        raise TypeError("server_side_emit needs a concrete namespace, not a dynamic parent")

    async def server_count(self) -> int:
        counts = [await adapter.server_count() for adapter in self._adapters()]
        return max(counts, default=1)
