"""The Socket.IO packet codec of the default parser (socket.io-parser's JSON format with binary attachments).

The compiled twin (``hypersio.protocol.socketio._json_c``) or, without it, the pure-Python one
(``hypersio.protocol.socketio._json_py``), chosen once by :func:`hypersio._speedups.load`. Both
define the same ``__all__``; type checkers read the pure twin, which is the readable definition of
the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypersio import _speedups

if TYPE_CHECKING:
    from hypersio.protocol.socketio._json_py import *  # noqa: F403
    from hypersio.protocol.socketio._json_py import __all__ as __all__  # noqa: PLC0414  (the re-export form mypy --strict reads)
else:
    _impl = _speedups.load("json")
    __all__ = list(_impl.__all__)
    globals().update({_name: getattr(_impl, _name) for _name in __all__})

IMPLEMENTATION: str = _speedups.loaded["json"].__name__
