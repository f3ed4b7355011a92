"""The Socket.IO Admin UI protocol: ``hypersio.admin.instrument(sio, ...)``.

The official dashboard (npm ``@socket.io/admin-ui``, hosted at https://admin.socket.io or served
from the package's ``ui/dist``) connects to a namespace of the server (``/admin``) and expects the
events of the package's server half, ``instrument(io, options)`` (0.5.x)::

    session(sessionId)                      after a login with username and password
    config({supportedFeatures})             on connect: what the dashboard may offer
    server_stats({...})                     every 2 s: ids, uptime, client counts, namespaces,
                                            aggregated connection/traffic counts
    all_sockets([socket, ...])              on connect (development mode)
    socket_connected(socket, date)          development mode, from then on
    socket_updated({id, nsp, transport})    a socket's transport changed (upgrade)
    socket_disconnected(nsp, id, reason, date)
    room_joined(nsp, room, id, date)        room_left(nsp, room, id, date)
    event_received(nsp, id, [event, *args], date)
    event_sent(nsp, id, [event, *args], date)

and it sends the commands ``emit(nsp, filter, event, *args)``, ``join(nsp, room, filter)``,
``leave(nsp, room, filter)`` and ``_disconnect(nsp, close, filter)`` (``filter``: a room, or
nothing for the whole namespace), which ``read_only=True`` refuses.

Usage::

    sio = hypersio.Server(cors_allowed_origins=["https://admin.socket.io"])
    hypersio.admin.instrument(sio, auth={"type": "basic", "username": "admin", "password": "..."})

Cost: production mode adds nothing per message: the statistics come from the server's own
counters (``Server.traffic``), read every 2 s while a dashboard is connected. Development mode
watches every socket (an any-listener both ways, so their events take the general dispatch path)
to show the live event log, as the Node package does.

Differences from the Node package, by design: ``password`` may be given in clear (compared in
constant time) or as a bcrypt hash (needs the ``bcrypt`` package); ``auth=None`` disables
authentication; the aggregated traffic counts are Socket.IO events and bytes on the wire, not
Engine.IO packets; ``all_sockets`` lists this process's sockets; ``uptime`` counts from
``instrument()``; the dashboard's session ids live in memory.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import secrets
import socket as _socket
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from hypersio.engine.ratelog import RateLimitedLog
from hypersio.exceptions import ConnectError
from hypersio.server import Server
from hypersio.server.namespace import Namespace
from hypersio.server.socket import Socket

__all__ = ["AdminUI", "instrument"]

logger = logging.getLogger("hypersio.admin")

#: The features of the dashboard (its ``Feature`` enum).
_COMMANDS = ("EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")


# Bad input from the network (failed logins, bogus commands): a line per kind a minute at most, so
# a client cannot flood the log.
_log = RateLimitedLog(logger, 60.0)


def _now() -> str:
    """A JS ``Date`` as JSON: ISO 8601 in UTC with milliseconds (what the dashboard parses)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    """``value`` when it encodes as JSON, else its ``repr``: a socket's ``data`` may hold anything,
    and one unencodable field must not break the dashboard's whole event."""
    try:
        orjson.dumps(value)
    except TypeError:
        return repr(value)
    return value


class AdminUI:
    """The instrumentation of one server for the Admin UI dashboard (what :func:`instrument` returns).

    ``namespace`` is the dashboard's namespace; :meth:`stats` builds one ``server_stats`` payload;
    :meth:`serialize` one socket as the dashboard shows it; :meth:`close` stops the periodic stats.
    """

    def __init__(
        self,
        sio: Server,
        auth: Mapping[str, Any] | None,
        namespace_name: str,
        mode: Literal["development", "production"],
        read_only: bool,
        server_id: str | None,
        stats_interval: float,
    ) -> None:
        if mode not in ("development", "production"):
            raise ValueError('mode must be "development" or "production"')
        if stats_interval <= 0:
            raise ValueError("stats_interval must be positive")
        self.server = sio
        self.development = mode == "development"
        self.read_only = read_only
        self.stats_interval = float(stats_interval)
        self._check = _authenticator(auth)
        self._sessions: set[str] = set()
        self._new_sessions: dict[str, str] = {}  # socket id -> session id to send once connected
        self._started = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._last: dict[str, Any] | None = None
        self._transports: dict[tuple[str, str], str] = {}  # (nsp, sid) -> transport last shown
        hostname = _socket.gethostname()
        self._base = {"serverId": server_id or hostname, "hostname": hostname, "pid": os.getpid()}
        features = [] if read_only else list(_COMMANDS)
        features.append("AGGREGATED_EVENTS")
        if self.development:
            features.append("ALL_EVENTS")
        self.features = features
        self.namespace: Namespace = sio.of(namespace_name)
        if self._check is not None:
            self.namespace.use(self._authenticate)
        self.namespace.on("connection", self._admin_connected)
        if self.development:
            for nsp in list(sio.namespaces.values()):
                self._watch(nsp)
            sio.namespace_observers.append(self._watch)

    # --- authentication -------------------------------------------------------------------------

    def _authenticate(self, socket: Socket) -> None:
        auth = socket.handshake.auth
        session_id = auth.get("sessionId")
        if isinstance(session_id, str) and session_id in self._sessions:
            return
        assert self._check is not None  # the middleware exists only with auth
        username, password = auth.get("username"), auth.get("password")
        if isinstance(username, str) and isinstance(password, str) and self._check(username, password):
            session_id = secrets.token_hex(8)
            self._sessions.add(session_id)
            self._new_sessions[socket.id] = session_id
            return
        _log("credentials", "admin UI: invalid credentials from %s", socket.handshake.address)
        raise ConnectError("invalid credentials")

    # --- the dashboard's own sockets ----------------------------------------------------------------

    def _admin_connected(self, socket: Socket) -> None:
        session_id = self._new_sessions.pop(socket.id, None)
        if session_id is not None:
            socket.emit("session", session_id)
        if not self.read_only:
            socket.on("emit", self._on_emit)
            socket.on("join", self._on_join)
            socket.on("leave", self._on_leave)
            socket.on("_disconnect", self._on_disconnect)
        socket.emit("config", {"supportedFeatures": self.features})
        if self.development:
            socket.emit("all_sockets", self.all_sockets())
        if self._timer is None:
            self._last = None  # counts start from now: no stale burst in the charts
            self._tick()

    def _tick(self) -> None:
        self._timer = None
        if not self.namespace.sockets:
            return  # nobody watches: stop until the next dashboard connects
        self.namespace.emit("server_stats", self.stats())
        if self.development:
            self._report_transports()
        self._timer = asyncio.get_running_loop().call_later(self.stats_interval, self._tick)

    def close(self) -> None:
        """Stop the periodic ``server_stats`` (a dashboard connecting starts them again)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- what the dashboard shows -------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """One ``server_stats`` payload: ids, uptime, client counts, namespaces and the connection
        and traffic counts since the previous payload (``aggregatedEvents``)."""
        traffic = self.server.traffic()
        sessions = traffic["sessions_by_transport"]
        return {
            **self._base,
            "uptime": time.monotonic() - self._started,
            "clientsCount": sum(sessions.values()),
            "pollingClientsCount": sessions.get("polling", 0),
            "aggregatedEvents": self._aggregate(traffic),
            "namespaces": [
                {"name": name, "socketsCount": len(nsp.sockets)} for name, nsp in self.server.namespaces.items()
            ],
        }

    def _aggregate(self, traffic: dict[str, Any]) -> list[dict[str, Any]]:
        last, self._last = self._last, traffic
        if last is None:
            return []
        stamp = int(time.time()) * 1000  # the dashboard buckets by second
        events: list[dict[str, Any]] = []

        def push(kind: str, count: int, sub_type: str | None = None) -> None:
            if count > 0:
                entry: dict[str, Any] = {"timestamp": stamp, "type": kind, "count": count}
                if sub_type is not None:
                    entry["subType"] = sub_type
                events.append(entry)

        opened = sum(traffic["connections_by_transport"].values()) - sum(last["connections_by_transport"].values())
        push("rawConnection", opened)
        before = last["disconnections_by_reason"]
        for reason, n in traffic["disconnections_by_reason"].items():
            push("rawDisconnection", n - before.get(reason, 0), reason)
        push("packetsIn", traffic["events_in"] - last["events_in"])
        push("packetsOut", traffic["events_out"] - last["events_out"])
        push("bytesIn", traffic["bytes_in"] - last["bytes_in"])
        push("bytesOut", traffic["bytes_out"] - last["bytes_out"])
        return events

    def serialize(self, socket: Socket) -> dict[str, Any]:
        """One socket as the dashboard lists it (its ``SerializedSocket``)."""
        hs = socket.handshake
        address = hs.headers.get("cf-connecting-ip") or hs.headers.get("x-forwarded-for") or hs.address
        data = socket.data
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k != "_admin"}
        return {
            "id": socket.id,
            "clientId": socket.conn.id[:12],
            "transport": socket.conn.transport,
            "nsp": socket.nsp.name,
            "data": _jsonable(data),
            "handshake": {
                "address": address,
                "headers": hs.headers,
                "query": _jsonable(hs.query),
                "issued": hs.issued,
                "secure": hs.secure,
                "time": hs.time,
                "url": hs.url,
                "xdomain": hs.xdomain,
            },
            "rooms": sorted(socket.rooms),
        }

    def all_sockets(self) -> list[dict[str, Any]]:
        """Every socket of every namespace of this process, serialized."""
        return [self.serialize(s) for nsp in list(self.server.namespaces.values()) for s in list(nsp.sockets.values())]

    # --- development mode: the live view --------------------------------------------------------------

    def _watch(self, nsp: Namespace) -> None:
        nsp.socket_observers.append(self._socket_connected)
        name = nsp.name

        def membership(room: str, sid: str, joined: bool) -> None:
            if joined:
                self.namespace.emit("room_joined", name, room, sid, _now())
            else:
                # As the Node package: after the leave, so a disconnect is reported first.
                asyncio.get_running_loop().call_soon(self.namespace.emit, "room_left", name, room, sid, _now())

        nsp.adapter.membership_observers.append(membership)

    def _socket_connected(self, socket: Socket) -> None:
        admin = self.namespace
        name, sid = socket.nsp.name, socket.id
        self._transports[(name, sid)] = socket.conn.transport
        admin.emit("socket_connected", self.serialize(socket), _now())

        def disconnected(reason: Any = None, *_: Any) -> None:
            self._transports.pop((name, sid), None)
            admin.emit("socket_disconnected", name, sid, reason, _now())

        socket.on("disconnect", disconnected)
        if socket.nsp is admin:
            return  # the dashboard's own traffic would echo forever

        def received(event: Any, *args: Any) -> None:
            admin.emit("event_received", name, sid, [event, *_no_callables(args)], _now())

        def sent(event: Any, *args: Any) -> None:
            admin.emit("event_sent", name, sid, [event, *_no_callables(args)], _now())

        socket.on_any(received)
        socket.on_any_outgoing(sent)

    def _report_transports(self) -> None:
        # No per-packet hook for an upgrade: compare each watched socket's transport every tick.
        for nsp in list(self.server.namespaces.values()):
            for sid, socket in list(nsp.sockets.items()):
                key = (nsp.name, sid)
                now = socket.conn.transport
                if self._transports.get(key, now) != now:
                    self._transports[key] = now
                    self.namespace.emit("socket_updated", {"id": sid, "nsp": nsp.name, "transport": now})

    # --- the dashboard's commands -----------------------------------------------------------------

    def _operator(self, nsp: Any, room: Any, what: str) -> Any:
        if not isinstance(nsp, str) or (room is not None and not isinstance(room, str)):
            _log("command", "admin UI: ignored a %s command with invalid arguments", what)
            return None
        target = self.server.of(nsp)
        return target.in_(room) if room else target

    def _on_emit(self, *args: Any) -> None:
        args = _no_callables(args)
        if len(args) < 3 or not isinstance(args[2], str):
            _log("command", "admin UI: ignored an emit command without an event name")
            return
        nsp, room, event, *rest = args
        target = self._operator(nsp, room, "emit")
        if target is not None:
            target.emit(event, *rest)

    def _on_join(self, *args: Any) -> None:
        self._rooms_command(args, join=True)

    def _on_leave(self, *args: Any) -> None:
        self._rooms_command(args, join=False)

    def _rooms_command(self, args: tuple[Any, ...], join: bool) -> None:
        args = _no_callables(args)
        nsp, room, room_filter = (*args, None, None, None)[:3]
        if not isinstance(room, str):
            _log("command", "admin UI: ignored a join/leave command without a room")
            return
        target = self._operator(nsp, room_filter, "join/leave")
        if target is not None:
            (target.sockets_join if join else target.sockets_leave)(room)

    def _on_disconnect(self, *args: Any) -> None:
        args = _no_callables(args)
        nsp, close, room_filter = (*args, None, None, None)[:3]
        target = self._operator(nsp, room_filter, "_disconnect")
        if target is not None:
            target.disconnect_sockets(bool(close))


def _no_callables(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arguments without a trailing ack callable (the dashboard shows data only)."""
    return args[:-1] if args and callable(args[-1]) else args


def _authenticator(auth: Mapping[str, Any] | None) -> Callable[[str, str], bool] | None:
    """The credential check of ``auth`` (None: anyone may connect), validated now so that a
    wrong setting fails at startup, not at the first login."""
    if auth is None:
        logger.warning("admin UI: authentication is disabled, anyone reaching the server can use the dashboard")
        return None
    if not isinstance(auth, Mapping) or auth.get("type") != "basic":
        raise ValueError('auth must be None or {"type": "basic", "username": ..., "password": ...}')
    username, password = auth.get("username"), auth.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not password:
        raise ValueError("auth needs a username and a non-empty password (str)")
    if password.startswith(("$2a$", "$2b$", "$2y$")):
        try:
            import bcrypt  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise ValueError("a bcrypt password hash needs the bcrypt package (pip install bcrypt)") from exc
        hashed = password.encode()

        def check_hash(user: str, given: str) -> bool:
            ok: bool = bcrypt.checkpw(given.encode(), hashed)
            return hmac.compare_digest(user.encode(), username.encode()) and ok

        return check_hash

    def check(user: str, given: str) -> bool:
        # Both compared in full, in constant time: no early exit telling which one was wrong.
        same_user = hmac.compare_digest(user.encode(), username.encode())
        return hmac.compare_digest(given.encode(), password.encode()) and same_user

    return check


def instrument(
    sio: Server,
    auth: Mapping[str, Any] | None = None,
    namespace_name: str = "/admin",
    mode: Literal["development", "production"] = "development",
    read_only: bool = False,
    server_id: str | None = None,
    *,
    stats_interval: float = 2.0,
) -> AdminUI:
    """Let the Socket.IO Admin UI dashboard watch and drive ``sio`` (see the module docstring).

    ``auth``: None (no login) or ``{"type": "basic", "username": ..., "password": ...}``, the
    password in clear or as a bcrypt hash; ``namespace_name``: where the dashboard connects;
    ``mode``: ``"development"`` shows every socket, room change and event live,
    ``"production"`` only the periodic statistics; ``read_only`` refuses the dashboard's
    emit/join/leave/disconnect commands; ``server_id`` names this server in the dashboard (the
    host name by default). Allow the dashboard's origin in ``cors_allowed_origins``.
    """
    return AdminUI(sio, auth, namespace_name, mode, read_only, server_id, stats_interval)
