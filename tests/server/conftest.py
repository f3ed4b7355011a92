"""Fixtures for the Socket.IO server layer: a fake Engine.IO session and a server wired to it.

The fake session (sio_fakes.FakeSession) implements the part of ``hypersio.engine.Session`` the
Socket.IO layer uses (id, request, send, send_prepared, on, close, closed) and records what was
sent, so unit tests drive the server packet by packet without sockets or threads.
"""

from __future__ import annotations

from typing import Any

import pytest
from sio_fakes import FakePrepared, FakeSession

import hypersio
from hypersio import msgpack_parser, parser


@pytest.fixture(params=["json", "msgpack"])
def parser_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def codec(parser_name: str) -> Any:
    return parser if parser_name == "json" else msgpack_parser


@pytest.fixture
def sio(parser_name: str) -> hypersio.Server:
    server = hypersio.Server(parser=parser_name, connect_timeout=5.0)
    server._prepared_cls = FakePrepared
    return server


@pytest.fixture
def connect(sio: hypersio.Server, codec: Any):
    """connect(nsp="/", auth=None) -> (FakeSession, reply packets) after the CONNECT exchange."""
    sessions: list[FakeSession] = []

    def _connect(nsp: str = "/", auth: Any = None, session: FakeSession | None = None) -> FakeSession:
        if session is None:
            session = FakeSession(codec)
            sessions.append(session)
            sio._on_engine_connection(session)
        session.receive_packet(parser.CONNECT, nsp, auth)
        return session

    yield _connect
    for s in sessions:
        if not s.closed:
            s.close("transport close")
