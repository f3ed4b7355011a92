"""Public selector: the compiled ``hypersio._parser_c`` or its pure-Python twin ``_parser_py``.

Both twins define the same ``__all__``; whichever is loaded is re-exported here, so callers
write ``from hypersio import parser`` and never name a twin.
"""

from ._speedups import load as _load

_impl = _load("_parser")
__all__ = list(_impl.__all__)
globals().update({_name: getattr(_impl, _name) for _name in __all__})
IMPLEMENTATION: str = _impl.__name__
