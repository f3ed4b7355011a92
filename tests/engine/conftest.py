"""The Engine.IO tests (server and client halves) run on uvloop, with a server factory and an echo server."""

from _support.fixtures import echo, make_server  # noqa: F401  (fixtures)
from _support.fixtures import uvloop_loop_factories as pytest_asyncio_loop_factories  # noqa: F401
