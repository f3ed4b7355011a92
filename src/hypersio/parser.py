"""Public selector: the compiled ``hypersio._parser_c`` or its pure-Python twin ``_parser_py``."""

from ._speedups import load as _load

_impl = _load("_parser")
globals().update({k: v for k, v in vars(_impl).items() if not k.startswith("__")})
IMPLEMENTATION: str = _impl.__name__
