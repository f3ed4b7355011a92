"""EngineOptions: the settings of an Engine.IO server, checked once and read by every part of it.

The server builds one from its constructor arguments and hands it down: the HTTP connections,
the transports and the sessions read their limits and timeouts here instead of reaching back
into the server (they sit below it and never import it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hypersio.engine.budget import DEFAULT_MAX_BUFFERED_OUTPUT, DEFAULT_MAX_UNFINISHED_INPUT, MemoryBudget
from hypersio.engine.outlet import DEFAULT_HARD_LIMIT, DEFAULT_HIGH_WATER
from hypersio.engine.stats import EngineStats

__all__ = ["COMPRESSION_THRESHOLD", "TRANSPORTS", "CompressionSetting", "EngineOptions", "compression_threshold"]

TRANSPORTS = ("polling", "websocket")
#: Node's default for both kinds of compression: bodies and messages under 1 KiB go as they are
#: (deflating them saves a few bytes and costs more CPU than the bytes are worth).
COMPRESSION_THRESHOLD = 1024

#: ``http_compression`` / ``per_message_deflate``: on, off, or on with ``{"threshold": bytes}``.
CompressionSetting = bool | Mapping[str, int] | None


def compression_threshold(setting: CompressionSetting, name: str) -> int | None:
    """The size from which ``setting`` compresses, or None when it is off.

    ``True`` is :data:`COMPRESSION_THRESHOLD`; a mapping may only hold ``threshold`` (bytes,
    0 or more). Raises ValueError otherwise, naming the option ``name``.
    """
    if setting is None or setting is False:
        return None
    if setting is True:
        return COMPRESSION_THRESHOLD
    if isinstance(setting, Mapping):
        unknown = set(setting) - {"threshold"}
        if unknown:
            raise ValueError(f"{name}: unknown setting(s) {sorted(unknown)} (only 'threshold' is supported)")
        threshold = setting.get("threshold", COMPRESSION_THRESHOLD)
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
            raise ValueError(f"{name}: threshold must be a non-negative number of bytes")
        return threshold
    raise ValueError(f"{name} must be True, False or a dict like {{'threshold': 1024}}")


class EngineOptions:
    """The validated settings of one Engine.IO server (see ``hypersio.engine.Server``).

    ``path`` always ends with ``/``; ``cors_allowed_origins`` is None (no CORS headers), ``"*"``
    (any origin) or a frozenset of origins; ``write_buffer_limit`` is at least
    ``write_buffer_high_water``. Times are in seconds, sizes in bytes.
    ``http_compression`` and ``per_message_deflate`` are the sizes from which long-polling
    bodies and WebSocket messages are compressed, or None when that compression is off.
    ``max_buffered_output`` / ``max_unfinished_input`` bound the bytes waiting for slow clients
    and the bytes of unfinished incoming packets over all connections (None: unbounded); they
    live in :attr:`budget`.
    """

    __slots__ = (
        "path",
        "ping_interval",
        "ping_timeout",
        "max_http_buffer_size",
        "transports",
        "cors_allowed_origins",
        "upgrade_timeout",
        "http_idle_timeout",
        "write_buffer_high_water",
        "write_buffer_limit",
        "cors_credentials",
        "allow_upgrades",
        "response_hooks",
        "sid_tag",
        "one_request_per_connection",
        "stats",
        "http_compression",
        "per_message_deflate",
        "budget",
    )

    def __init__(
        self,
        path: str = "/engine.io/",
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        max_http_buffer_size: int = 1_000_000,
        transports: Iterable[str] = TRANSPORTS,
        cors_allowed_origins: str | Iterable[str] | None = None,
        *,
        upgrade_timeout: float = 10.0,
        http_idle_timeout: float = 30.0,
        write_buffer_high_water: int = DEFAULT_HIGH_WATER,
        write_buffer_limit: int = DEFAULT_HARD_LIMIT,
        http_compression: CompressionSetting = True,
        per_message_deflate: CompressionSetting = False,
        max_buffered_output: int | None = DEFAULT_MAX_BUFFERED_OUTPUT,
        max_unfinished_input: int | None = DEFAULT_MAX_UNFINISHED_INPUT,
    ) -> None:
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        self.path = path if path.endswith("/") else path + "/"
        self.ping_interval = float(ping_interval)
        self.ping_timeout = float(ping_timeout)
        self.max_http_buffer_size = int(max_http_buffer_size)
        if self.ping_interval <= 0 or self.ping_timeout <= 0 or self.max_http_buffer_size <= 0:
            raise ValueError("ping_interval, ping_timeout and max_http_buffer_size must be positive")
        self.transports = tuple(transports)
        for name in self.transports:
            if name not in TRANSPORTS:
                raise ValueError(f"unknown transport {name!r} (expected 'polling' and/or 'websocket')")
        if not self.transports:
            raise ValueError("at least one transport is needed")
        self.cors_allowed_origins: str | frozenset[str] | None
        if cors_allowed_origins is None or cors_allowed_origins == "*":
            self.cors_allowed_origins = cors_allowed_origins
        elif isinstance(cors_allowed_origins, str):
            self.cors_allowed_origins = frozenset((cors_allowed_origins,))
        else:
            origins = frozenset(cors_allowed_origins)
            self.cors_allowed_origins = "*" if "*" in origins else origins
        self.upgrade_timeout = float(upgrade_timeout)
        self.http_idle_timeout = float(http_idle_timeout)
        self.write_buffer_high_water = int(write_buffer_high_water)
        self.write_buffer_limit = max(int(write_buffer_limit), self.write_buffer_high_water)
        #: With ``cors_allowed_origins="*"``: answer with credentials allowed (the request's origin
        #: reflected); off, ``*`` is answered without credentials.
        self.cors_credentials = False
        #: Offer (and accept) the upgrade from long-polling to WebSocket.
        self.allow_upgrades = True
        #: The ``initial_headers``/``headers`` hooks and the cookie (None: none registered);
        #: a ``hypersio.engine.server.hooks.ResponseHooks``.
        self.response_hooks: Any = None
        #: Prefix of every session id (a worker's name, so the primary can route by sid).
        self.sid_tag = ""
        #: Close each HTTP connection after one response (workers: the primary routes each
        #: connection once, so a kept-alive connection must not carry another session's requests).
        self.one_request_per_connection = False
        #: The server's traffic counters (not a setting: handed down with the settings so that
        #: every part can count without a reference to the server; see ``engine/stats.py``).
        self.stats = EngineStats()
        self.http_compression = compression_threshold(http_compression, "http_compression")
        self.per_message_deflate = compression_threshold(per_message_deflate, "per_message_deflate")
        #: The totals over all connections and their limits (``max_buffered_output``,
        #: ``max_unfinished_input``; see ``engine/budget.py``), shared like :attr:`stats`.
        self.budget = MemoryBudget(max_buffered_output, max_unfinished_input, self.stats)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"EngineOptions({fields})"
