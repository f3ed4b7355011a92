"""Public selector: the compiled ``hypersio._wsframe_c`` or its pure-Python twin ``_wsframe_py``."""

from ._speedups import load as _load

_impl = _load("_wsframe")
globals().update({k: v for k, v in vars(_impl).items() if not k.startswith("__")})
IMPLEMENTATION: str = _impl.__name__
