"""The room index entries and the broadcast room walk (the fan-out loop).

The compiled twin (``hypersio.adapters._rooms_c``) or, without it, the pure-Python one
(``hypersio.adapters._rooms_py``), chosen once by :func:`hypersio._speedups.load`. Both define the same
``__all__``; type checkers read the pure twin, which is the readable definition of the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypersio import _speedups

if TYPE_CHECKING:
    from hypersio.adapters._rooms_py import *  # noqa: F403
    from hypersio.adapters._rooms_py import __all__
else:
    _impl = _speedups.load("rooms")
    __all__ = list(_impl.__all__)
    globals().update({_name: getattr(_impl, _name) for _name in __all__})

IMPLEMENTATION: str = _speedups.loaded["rooms"].__name__
