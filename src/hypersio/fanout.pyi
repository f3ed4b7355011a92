# Both twins share one API; the pure-Python twin is its readable definition.
from ._fanout_py import *  # noqa: F403

IMPLEMENTATION: str
