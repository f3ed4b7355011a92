"""The client tests run on uvloop, as applications do, with the transport matrix."""

from _support.fixtures import server, transports  # noqa: F401  (fixtures)
from _support.fixtures import uvloop_loop_factories as pytest_asyncio_loop_factories  # noqa: F401
