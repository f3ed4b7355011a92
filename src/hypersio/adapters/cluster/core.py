"""What every cluster adapter does, whatever its wire protocol: the requests to the other servers
and their answers, and how this server answers theirs.

A cluster adapter is an :class:`~hypersio.adapters.memory.InMemoryAdapter` (local rooms and the
compiled fan-out) that also tells the other servers. :class:`ClusterAdapterBase` holds the part
that is the same for the classic Redis protocol and for socket.io's ClusterAdapter protocol
(sharded and streams adapters): pending requests with their timeouts, the broadcast-with-ack
bookkeeping, ``RemoteSocket`` results, and the local half of every request another server sends.
A protocol subclass supplies the ``_send_*`` methods (encode once, hand to its transport) and
calls the ``_on_*`` methods with what it decoded.

Every ``_on_*`` method is called with data from the network: a subclass validates the shapes
it decodes and drops (with :meth:`ClusterAdapterBase._reject`, logged once a minute) what does
not fit; nothing a peer sends may raise into the transport's read loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from hypersio.adapters.base import BroadcastOptions, NamespaceView, OnClient, RemoteAcks, SocketView
from hypersio.adapters.cluster.remote import RemoteSocket, socket_details
from hypersio.adapters.memory import InMemoryAdapter
from hypersio.engine.ratelog import RateLimitedLog
from hypersio.events.acks import spawn
from hypersio.exceptions import ClusterTimeoutError

__all__ = ["ClusterAdapterBase", "logger"]

logger = logging.getLogger("hypersio.cluster")

SideEmitCallback = Callable[[BaseException | None, list[Any]], None]


class _Request:
    """One request this server sent and the answers it waits for."""

    __slots__ = ("kind", "expected", "answers", "done", "timer")

    def __init__(self, kind: str, expected: int, done: Callable[[BaseException | None, list[Any]], None]) -> None:
        self.kind = kind
        self.expected = expected
        self.answers: list[Any] = []
        self.done = done
        self.timer: asyncio.TimerHandle | None = None


class ClusterAdapterBase(InMemoryAdapter):
    """The protocol-independent half of a cluster adapter for one namespace (see the module
    docstring). ``uid`` names this adapter on the wire; ``requests_timeout`` bounds every wait for
    the other servers."""

    #: The error text of a timed-out request, by kind (socket.io's words).
    TIMEOUT_TEXT: ClassVar[dict[str, str]] = {
        "fetch": "timeout reached while waiting for fetchSockets response",
        "rooms": "timeout reached while waiting for allRooms response",
        "emit": "timeout reached: only {got} responses received out of {expected}",
    }

    def __init__(self, nsp: NamespaceView, uid: str, requests_timeout: float) -> None:
        super().__init__(nsp)
        self.uid = uid
        self.requests_timeout = float(requests_timeout)
        self._requests: dict[str, _Request] = {}
        self._ack_requests: dict[str, RemoteAcks] = {}
        self._drop_log = RateLimitedLog(logger)
        self._closed = False

    # --- the protocol's side (subclasses) ------------------------------------------------------

    def _new_request_id(self) -> str:
        raise NotImplementedError

    def _send_broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        raise NotImplementedError

    def _send_broadcast_with_ack(self, request_id: str, data: list[Any], opts: BroadcastOptions) -> None:
        raise NotImplementedError

    def _send_sockets_join(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        raise NotImplementedError

    def _send_sockets_leave(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        raise NotImplementedError

    def _send_disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        raise NotImplementedError

    def _send_fetch_sockets(self, request_id: str, opts: BroadcastOptions) -> None:
        raise NotImplementedError

    def _send_server_side_emit(self, data: list[Any], request_id: str | None) -> None:
        raise NotImplementedError

    def _send_fetch_response(self, requester: str, request_id: str, sockets: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def _send_server_side_response(self, requester: str, request_id: str, value: Any) -> None:
        raise NotImplementedError

    def _send_client_count(self, requester: str, request_id: str, count: int) -> None:
        raise NotImplementedError

    def _send_broadcast_ack(self, requester: str, request_id: str, value: Any) -> None:
        raise NotImplementedError

    async def server_count(self) -> int:
        """How many servers serve this namespace, this one included."""
        raise NotImplementedError

    # --- broadcasting -----------------------------------------------------------------------------

    def broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        """Send the EVENT to the selected sockets of every server (``opts.local``: this one only).

        Published first, then delivered here, as socket.io does; the other servers decode it once
        and fan out with the same compiled room walk.
        """
        if not opts.local:
            self._send_broadcast(data, opts)
        super().broadcast(data, opts)

    def broadcast_with_ack(
        self,
        data: list[Any],
        opts: BroadcastOptions,
        on_client: OnClient,
        remote: RemoteAcks | None = None,
    ) -> int:
        """Send ``data`` to the selected sockets of every server asking each for an ack.

        Returns the local count; the other servers' counts and their clients' answers go to
        ``remote`` as they arrive.
        """
        count = super().broadcast_with_ack(data, opts, on_client)
        if opts.local or remote is None:
            return count
        request_id = self._new_request_id()
        self._ack_requests[request_id] = remote
        remote.expect_servers(None)
        self._send_broadcast_with_ack(request_id, data, opts)
        spawn(self._count_ack_servers(request_id, remote, opts.timeout), "cluster broadcast with acks")
        return count

    async def _count_ack_servers(self, request_id: str, remote: RemoteAcks, timeout: float | None) -> None:
        try:
            others = await self._count_others()
        except ClusterTimeoutError as exc:
            self._ack_requests.pop(request_id, None)
            remote.give_up(exc)
            return
        remote.expect_servers(max(others, 0))
        # Without a timeout of its own the broadcast still must not wait forever for servers
        # that never report: the requests timeout bounds it. With one, the operator's timer
        # reports, and the entry is only kept that long.
        wait = self.requests_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        loop.call_later(wait, self._expire_ack_request, request_id, timeout is None)

    def _expire_ack_request(self, request_id: str, report: bool) -> None:
        remote = self._ack_requests.pop(request_id, None)
        if remote is not None and report:
            remote.give_up(ClusterTimeoutError("timeout reached: not every server reported its clients' acks"))

    # --- operations on the sockets of every server -------------------------------------------

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[Any]:
        """The selected sockets of every server: local ``Socket`` objects, then a
        :class:`~hypersio.adapters.cluster.remote.RemoteSocket` for each socket of the others.

        Raises ``ClusterTimeoutError`` when some server does not answer within the timeout
        (``opts.timeout`` or ``requests_timeout``).
        """
        local: list[Any] = list(self._iter_sockets(opts))
        if opts.local:
            return local
        answers = await self._request("fetch", opts.timeout, lambda rid: self._send_fetch_sockets(rid, opts))
        for sockets in answers:
            for details in sockets:
                local.append(RemoteSocket(self, details))
        return local

    async def _count_others(self) -> int:
        """How many other servers to wait for; a clear error when the cluster cannot be reached."""
        try:
            return await asyncio.wait_for(self.server_count(), self.requests_timeout) - 1
        except Exception as exc:
            raise ClusterTimeoutError(f"cannot count the servers of the cluster: {exc!r}") from exc

    async def _request(self, kind: str, timeout: float | None, send: Callable[[str], None]) -> list[Any]:
        """Ask every other server (``send(request_id)``) and wait for one answer from each."""
        expected = await self._count_others()
        if expected <= 0:
            return []
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        def done(err: BaseException | None, answers: list[Any]) -> None:
            if fut.done():
                return
            if err is not None:
                fut.set_exception(err)
            else:
                fut.set_result(answers)

        request_id = self._start_request(kind, expected, done, timeout)
        send(request_id)
        return await fut

    def _start_request(
        self, kind: str, expected: int, done: Callable[[BaseException | None, list[Any]], None], timeout: float | None
    ) -> str:
        request_id = self._new_request_id()
        request = self._requests[request_id] = _Request(kind, expected, done)
        wait = self.requests_timeout if timeout is None else timeout
        request.timer = asyncio.get_running_loop().call_later(wait, self._expire_request, request_id)
        return request_id

    def _expire_request(self, request_id: str) -> None:
        request = self._requests.pop(request_id, None)
        if request is None:
            return
        text = self.TIMEOUT_TEXT[request.kind].format(got=len(request.answers), expected=request.expected)
        request.done(ClusterTimeoutError(text, list(request.answers)), list(request.answers))

    def _answered(self, request_id: Any, kind: str, answer: Any) -> None:
        """One server's answer to our request ``request_id`` (others' answers are ignored)."""
        request = self._requests.get(request_id) if isinstance(request_id, str) else None
        if request is None or request.kind != kind:
            return
        request.answers.append(answer)
        if len(request.answers) >= request.expected:
            del self._requests[request_id]
            if request.timer is not None:
                request.timer.cancel()
            request.done(None, request.answers)

    def add_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        """Make the selected sockets of every server join ``rooms``."""
        super().add_sockets(opts, rooms)
        if not opts.local:
            self._send_sockets_join(opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        """Make the selected sockets of every server leave ``rooms``."""
        super().del_sockets(opts, rooms)
        if not opts.local:
            self._send_sockets_leave(opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the selected sockets of every server."""
        if not opts.local:
            self._send_disconnect_sockets(opts, close)
        super().disconnect_sockets(opts, close)

    def server_side_emit(
        self,
        data: list[Any],
        callback: SideEmitCallback | None = None,
        timeout: float | None = None,
    ) -> None:
        """Send ``data`` to the namespace's listeners on the other servers.

        With ``callback``, each other server answers once and ``callback(err, answers)`` runs
        when all did, or after the timeout with a ``ClusterTimeoutError`` and the answers so far.
        """
        if callback is None:
            self._send_server_side_emit(data, None)
            return
        spawn(self._server_side_emit_with_ack(data, callback, timeout), "server-side emit")

    async def _server_side_emit_with_ack(
        self, data: list[Any], callback: SideEmitCallback, timeout: float | None
    ) -> None:
        try:
            answers = await self._request("emit", timeout, lambda rid: self._send_server_side_emit(data, rid))
        except ClusterTimeoutError as exc:
            callback(exc, exc.responses)
            return
        except Exception as exc:  # Redis unreachable: the caller hears of it, not the log only
            callback(ClusterTimeoutError(f"server-side emit failed: {exc}"), [])
            return
        callback(None, answers)

    # --- what the other servers ask of this one -------------------------------------------------

    def _reject(self, what: str, detail: Any = "") -> None:
        """Log (rate-limited) and forget a message that does not fit the protocol."""
        self._drop_log(what, "namespace %s: dropped %s from the cluster %s", self.nsp.name, what, str(detail)[:200])

    def _on_broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        """Another server's broadcast: deliver to the local sockets it selects."""
        InMemoryAdapter.broadcast(self, data, opts)

    def _on_broadcast_with_ack(self, requester: str, request_id: str, data: list[Any], opts: BroadcastOptions) -> None:
        """Another server's broadcast with acks: deliver, report how many sockets got it, then
        forward each client's first ack argument."""

        def on_client(sock: SocketView, ack_id: int) -> None:
            def on_ack(args: list[Any]) -> None:
                self._send_broadcast_ack(requester, request_id, args[0] if args else None)

            sock.acks.register(on_ack, _ignore, opts.timeout, ack_id)

        count = InMemoryAdapter.broadcast_with_ack(self, data, opts, on_client)
        # Queued before any ack can be: the answers come back in later loop turns.
        self._send_client_count(requester, request_id, count)

    def _on_sockets_join(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        InMemoryAdapter.add_sockets(self, opts, rooms)

    def _on_sockets_leave(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        InMemoryAdapter.del_sockets(self, opts, rooms)

    def _on_disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        InMemoryAdapter.disconnect_sockets(self, opts, close)

    def _local_details(self, opts: BroadcastOptions) -> list[dict[str, Any]]:
        return [socket_details(sock, self.socket_rooms(sock.id) or ()) for sock in self._iter_sockets(opts)]

    def _on_fetch_sockets(self, requester: str, request_id: str, opts: BroadcastOptions) -> None:
        self._send_fetch_response(requester, request_id, self._local_details(opts))

    def _on_server_side_emit(self, requester: str, request_id: str | None, data: list[Any]) -> None:
        if request_id is None:
            self.nsp.on_server_side_emit(data, None)
            return
        answered = False

        def ack(value: Any) -> None:
            nonlocal answered
            if not answered:
                answered = True
                self._send_server_side_response(requester, request_id, value)

        self.nsp.on_server_side_emit(data, ack)

    # --- answers to this server's requests ---------------------------------------------------------

    def _on_fetch_response(self, request_id: Any, sockets: Any) -> None:
        if not isinstance(sockets, list) or not all(isinstance(s, dict) and "id" in s for s in sockets):
            self._reject("a fetch_sockets answer with a malformed socket list")
            return
        self._answered(request_id, "fetch", sockets)

    def _on_server_side_response(self, request_id: Any, value: Any) -> None:
        self._answered(request_id, "emit", value)

    def _on_client_count(self, request_id: Any, count: Any) -> None:
        remote = self._ack_requests.get(request_id) if isinstance(request_id, str) else None
        if remote is not None and isinstance(count, int):
            remote.client_count(count)

    def _on_broadcast_ack(self, request_id: Any, value: Any) -> None:
        remote = self._ack_requests.get(request_id) if isinstance(request_id, str) else None
        if remote is not None:
            remote.answer(value)

    def _is_own_request(self, request_id: Any) -> bool:
        return isinstance(request_id, str) and (request_id in self._requests or request_id in self._ack_requests)

    # --- life ---------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Fail the requests still waiting (the server is shutting down)."""
        self._closed = True
        requests, self._requests = self._requests, {}
        for request in requests.values():
            if request.timer is not None:
                request.timer.cancel()
            request.done(ClusterTimeoutError("the adapter was closed", list(request.answers)), list(request.answers))
        acks, self._ack_requests = self._ack_requests, {}
        for remote in acks.values():
            remote.give_up(ClusterTimeoutError("the adapter was closed"))


def _ignore(exc: BaseException) -> None:
    """A remote broadcast's client did not answer in time or left: the requester's timer reports."""
