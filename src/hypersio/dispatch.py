"""Public selector: the compiled ``hypersio._dispatch_c`` or its pure-Python twin ``_dispatch_py``.

The server's incoming message path (decode, route, handler, ack); see ``_dispatch_py`` for the
design. Both twins define the same ``__all__``; whichever is loaded is re-exported here.
"""

from ._speedups import load as _load

_impl = _load("_dispatch")
__all__ = list(_impl.__all__)
globals().update({_name: getattr(_impl, _name) for _name in __all__})
IMPLEMENTATION: str = _impl.__name__
