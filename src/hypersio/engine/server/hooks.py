"""Response header hooks and the session cookie: Node's ``initial_headers`` and ``headers`` events
and its ``cookie`` option.

``engine.on("initial_headers", fn)`` runs ``fn(headers, request)`` on the answer to a handshake
(the first response of a session: the long-polling OPEN or the WebSocket 101);
``engine.on("headers", fn)`` runs on every HTTP response of the Socket.IO path, the handshake
included. ``headers`` is a dict to change in place (add a header, set a cookie). With
``cookie`` set, the handshake answer carries ``Set-Cookie: io=<sid>`` for sticky load balancers.
:class:`ResponseHooks` lives on ``EngineOptions.response_hooks`` (None while nothing is
registered, so responses pay one truth test).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypersio.engine.outlet import logger

__all__ = ["CookieSetting", "ResponseHooks", "cookie_header"]

HeaderHook = Callable[[dict[str, str], Any], Any]
#: ``cookie=True`` (Node's defaults), a dict of ``name``/``path``/``http_only``/``same_site``/
#: ``secure``/``max_age``, or None/False for no cookie.
CookieSetting = bool | dict[str, Any] | None


def cookie_header(setting: CookieSetting, sid: str) -> str | None:
    """The ``Set-Cookie`` value carrying ``sid`` for this setting, or None for no cookie."""
    if not setting:
        return None
    options: dict[str, Any] = {} if setting is True else dict(setting)
    parts = [f"{options.get('name', 'io')}={sid}", f"Path={options.get('path', '/')}"]
    if options.get("http_only", True):
        parts.append("HttpOnly")
    same_site = options.get("same_site", "Lax")
    if same_site:
        parts.append(f"SameSite={str(same_site).capitalize()}")
    if options.get("secure"):
        parts.append("Secure")
    if options.get("max_age") is not None:
        parts.append(f"Max-Age={int(options['max_age'])}")
    return "; ".join(parts)


class ResponseHooks:
    """The registered header hooks and the cookie setting of one engine server."""

    def __init__(self) -> None:
        self.initial: list[HeaderHook] = []
        self.every: list[HeaderHook] = []
        self.cookie: CookieSetting = None

    def _run(self, hooks: list[HeaderHook], headers: dict[str, str], request: Any) -> None:
        for hook in hooks:
            try:
                hook(headers, request)
            except Exception:  # a hook's bug must not break the response
                logger.exception("error in a response headers hook %r", hook)

    def apply(
        self, headers: list[tuple[str, str]], request: Any, sid: str | None, every: bool
    ) -> list[tuple[str, str]]:
        """``headers`` after the hooks: the handshake ones and the cookie when ``sid`` is the new
        session's id, then (with ``every``) the every-response ones."""
        if not ((every and self.every) or (sid is not None and (self.initial or self.cookie))):
            return headers
        table = dict(headers)
        if sid is not None:
            cookie = cookie_header(self.cookie, sid)
            if cookie is not None:
                table["Set-Cookie"] = cookie
            self._run(self.initial, table, request)
        if every:
            self._run(self.every, table, request)
        return list(table.items())
