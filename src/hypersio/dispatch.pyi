# Both twins share one API; the pure-Python twin is its readable definition.
from ._dispatch_py import *  # noqa: F403

IMPLEMENTATION: str
