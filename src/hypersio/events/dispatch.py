"""Incoming EVENT dispatch to handlers and the ack answer path (the per-packet hot path).

The compiled twin (``hypersio.events._dispatch_c``) or, without it, the pure-Python one
(``hypersio.events._dispatch_py``), chosen once by :func:`hypersio._speedups.load`. Both define the same
``__all__``; type checkers read the pure twin, which is the readable definition of the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypersio import _speedups

if TYPE_CHECKING:
    from hypersio.events._dispatch_py import *  # noqa: F403
    from hypersio.events._dispatch_py import __all__
else:
    _impl = _speedups.load("dispatch")
    __all__ = list(_impl.__all__)
    globals().update({_name: getattr(_impl, _name) for _name in __all__})

IMPLEMENTATION: str = _speedups.loaded["dispatch"].__name__
