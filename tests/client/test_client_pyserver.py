"""The client scenarios of test_client_node.py, against hypersio's own Server instead of Node.

The test functions are imported unchanged; the ``server`` fixture below replaces the Node one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from client_pyserver import PyServer

# Imported tests run here with this module's ``server`` fixture.
from test_client_node import (  # noqa: F401
    test_ack_timeout_option,
    test_ack_with_callback_and_timeout,
    test_auth_refused_and_accepted,
    test_buffered_emits_before_connect_and_volatile,
    test_connect_and_transport,
    test_connect_shortcut_and_context_manager,
    test_disconnect_reasons,
    test_emit_several_args_with_binary,
    test_emit_with_ack,
    test_headers_and_query,
    test_namespace_in_url,
    test_on_any_and_outgoing,
    test_once_and_off,
    test_reserved_event_names_refused,
    test_retries_deliver_at_least_once,
    test_rooms_and_broadcast_seen_by_two_clients,
    test_second_namespace_multiplexed,
    test_server_to_client_acks,
    test_unknown_namespace_raises,
)

pytestmark = pytest.mark.timeout(10)


@pytest.fixture(params=["json", "msgpack"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[PyServer]:
    """hypersio.Server with the node_server.js scenarios, on a free 127.0.0.1 port."""
    srv = PyServer(request.param)
    await srv.start()
    yield srv
    await srv.stop()
