"""Public selector: the compiled ``hypersio._fanout_c`` or its pure-Python twin ``_fanout_py``.

Broadcast fan-out and the corked output buffers it appends to (see ``_fanout_py`` for the
design). Both twins define the same ``__all__``; whichever is loaded is re-exported here.
"""

from ._speedups import load as _load

_impl = _load("_fanout")
__all__ = list(_impl.__all__)
globals().update({_name: getattr(_impl, _name) for _name in __all__})
IMPLEMENTATION: str = _impl.__name__
