"""Per-client-address handshake rate limiting: a few clients must not open sessions faster than the
server can expire them (issue 13: 50,400 sessions in 1.7 s from 4 keep-alive connections).

A token bucket per address: ``burst`` handshakes at once, then ``rate`` per second. Requests from a
trusted proxy (any loopback address by default, where local reverse proxies and load generators live) are
counted by the client address the proxy names in ``forwarded_for_header`` (the rightmost entry,
the one the proxy itself added), or not limited when the header is absent. The table of buckets
is pruned as it grows, so the limiter itself cannot be used to grow memory.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping

__all__ = ["HandshakeLimiter"]

_PRUNE_AT = 65536


class HandshakeLimiter:
    """Decides whether one more handshake from a client is allowed now."""

    def __init__(
        self,
        burst: float,
        rate: float,
        trusted_proxies: Iterable[str] = ("127.0.0.0/8", "::1"),
        forwarded_for_header: str | None = "x-forwarded-for",
    ) -> None:
        if burst < 1 or rate <= 0:
            raise ValueError("handshake rate limit: burst must be >= 1 and rate > 0")
        self.burst = float(burst)
        self.rate = float(rate)
        self.trusted_proxies = tuple(ipaddress.ip_network(net, strict=False) for net in trusted_proxies)
        self._trusted_cache: dict[str, bool] = {}
        self.forwarded_for_header = forwarded_for_header.lower() if forwarded_for_header else None
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, last update)
        self.refused = 0

    def client_of(self, address: str, headers: Mapping[str, str]) -> str | None:
        """The address to count a request against, or None when it is not limited."""
        if not self._trusted(address):
            return address
        if self.forwarded_for_header is None:
            return None
        forwarded = headers.get(self.forwarded_for_header)
        if not forwarded:
            return None
        return forwarded.rsplit(",", 1)[-1].strip() or None

    def _trusted(self, address: str) -> bool:
        known = self._trusted_cache.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
                known = any(ip in net for net in self.trusted_proxies)
            except ValueError:
                known = False
            if len(self._trusted_cache) < _PRUNE_AT:
                self._trusted_cache[address] = known
        return known

    def allow(self, address: str, headers: Mapping[str, str]) -> bool:
        """True when a handshake from this request may proceed (and counts it)."""
        client = self.client_of(address, headers)
        if client is None:
            return True
        now = time.monotonic()
        buckets = self._buckets
        tokens, last = buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            buckets[client] = (tokens, now)
            self.refused += 1
            return False
        buckets[client] = (tokens - 1.0, now)
        if len(buckets) > _PRUNE_AT:
            self._prune(now)
        return True

    def _prune(self, now: float) -> None:
        # A bucket that has refilled completely carries no information: drop it.
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
