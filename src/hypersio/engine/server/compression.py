"""HTTP compression of long-polling bodies: gzip or deflate, as the client's Accept-Encoding allows.

What Node's engine.io does (``transports/polling.js``): a response body of at least the
threshold (1 KiB by default) that carries a packet sent with ``compress`` on is compressed with
the encoding the ``accepts`` package picks among ``["gzip", "deflate"]``. The choice below is
that package's (``negotiator``'s) rule: the highest ``q`` first, an exact name before ``*``,
then the order of the client's header, then gzip before deflate. No header, or only
``identity``, means no compression.
"""

from __future__ import annotations

import zlib
from typing import Final

__all__ = ["ENCODINGS", "compress_body", "preferred_encoding"]

#: The content codings offered, in the server's order of preference (Node's).
ENCODINGS: Final = ("gzip", "deflate")
# zlib's wbits for each coding: gzip wraps deflate in a gzip header (16 + window), "deflate" is
# the zlib format (RFC 9110 8.4.1.2), which is what Node's createDeflate writes.
_WBITS: Final = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def _quality(params: list[str]) -> float:
    for param in params:
        key, _, value = param.strip().partition("=")
        if key.strip() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0  # negotiator's parseFloat gives NaN, which is no quality at all
    return 1.0


def preferred_encoding(accept_encoding: str | None) -> str | None:
    """``"gzip"``, ``"deflate"`` or None: the coding a response to a request whose
    ``Accept-Encoding`` is ``accept_encoding`` should use (see the module docstring)."""
    if not accept_encoding:
        return None
    # (q, specificity, position in the header) of the best entry matching each coding.
    best: dict[str, tuple[float, int, int]] = {}
    for position, entry in enumerate(accept_encoding.split(",")):
        name, *params = entry.strip().split(";")
        name = name.strip().lower()
        if not name:
            continue
        q = _quality(params)
        for coding in ENCODINGS:
            if name == coding:
                spec = (q, 1, position)
            elif name == "*":
                spec = (q, 0, position)
            else:
                continue
            old = best.get(coding)
            # negotiator keeps the more specific entry, then the higher q, then the later one.
            if old is None or (spec[1], spec[0], spec[2]) > (old[1], old[0], old[2]):
                best[coding] = spec
    candidates = [(spec, ENCODINGS.index(coding), coding) for coding, spec in best.items() if spec[0] > 0]
    if not candidates:
        return None
    candidates.sort(key=lambda c: (-c[0][0], -c[0][1], c[0][2], c[1]))
    return candidates[0][2]


def compress_body(body: bytes, encoding: str) -> bytes:
    """``body`` compressed in the content coding ``encoding`` (``"gzip"`` or ``"deflate"``)."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, _WBITS[encoding])
    return compressor.compress(body) + compressor.flush()
