"""Long-polling: handshake, batching, binary, POST, overlap, close, error codes, CORS."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from _support.eio_client import Harness, split_payload


async def test_handshake_fields(echo: Harness) -> None:
    res = await echo.get("EIO=4&transport=polling")
    assert res.status == 200
    assert res.headers["content-type"] == "text/plain; charset=UTF-8"
    assert res.text.startswith("0{")
    fields = json.loads(res.text[1:])
    assert list(fields) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    assert fields["upgrades"] == ["websocket"]
    assert fields["pingInterval"] == 5000 and fields["pingTimeout"] == 5000
    assert fields["maxPayload"] == 1_000_000
    assert isinstance(fields["sid"], str) and len(fields["sid"]) == 20
    assert fields["sid"] in echo.server.sessions
    session = echo.sessions[0]
    assert session.transport == "polling"
    assert session.request.query == {"EIO": "4", "transport": "polling"}
    assert session.request.headers["host"] == "127.0.0.1"
    assert session.request.address == "127.0.0.1"
    assert session.request.secure is False


async def test_handshake_polling_only_has_no_upgrades(make_server) -> None:
    harness = await make_server(transports=("polling",))
    fields = await harness.handshake()
    assert fields["upgrades"] == []


async def test_sids_are_unique(echo: Harness) -> None:
    sids = {(await echo.handshake())["sid"] for _ in range(5)}
    assert len(sids) == 5


async def test_messages_are_batched_in_one_get(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    session = echo.server.sessions[sid]
    session.send("hello")
    session.send("€uro")
    session.send(b"\x00\x01\xff")
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert res.status == 200
    assert split_payload(res.text) == ["4hello", "4€uro", "b" + base64.b64encode(b"\x00\x01\xff").decode()]
    assert int(res.headers["content-length"]) == len(res.body)


async def test_pending_get_is_answered_when_a_message_is_sent(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    session = echo.server.sessions[sid]
    poll = asyncio.ensure_future(echo.get(f"EIO=4&transport=polling&sid={sid}"))
    await asyncio.sleep(0.1)
    assert not poll.done()
    session.send("a")
    session.send("b")  # same loop turn: same response
    res = await poll
    assert res.text == "4a\x1e4b"


async def test_post_is_answered_ok_and_echoed(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    payload = "4hello\x1e" + "b" + base64.b64encode(b"\x01\x02").decode() + "\x1e4world"
    res = await echo.post(f"EIO=4&transport=polling&sid={sid}", payload)
    assert res.status == 200
    assert res.body == b"ok"
    assert res.headers["content-type"] == "text/html"
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert split_payload(res.text) == ["4hello", "b" + base64.b64encode(b"\x01\x02").decode(), "4world"]


async def test_overlapping_get_gets_400_and_closes_the_session(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    first = await echo.http()
    first.send_raw(f"GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await asyncio.sleep(0.05)
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert res.status == 400
    assert res.json() == {"code": 3, "message": "Bad request"}
    released = await first.read_response()
    assert released.text == "1"  # the server closed the session: the waiting poll is told
    assert echo.closes == [(sid, "transport error")]
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert res.status == 400 and res.json()["code"] == 1


async def test_client_close_releases_pending_get_with_noop(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    poll = asyncio.ensure_future(echo.get(f"EIO=4&transport=polling&sid={sid}"))
    await asyncio.sleep(0.05)
    res = await echo.post(f"EIO=4&transport=polling&sid={sid}", "1")
    assert res.body == b"ok"
    assert (await poll).text == "6"
    assert echo.closes == [(sid, "transport close")]
    assert sid not in echo.server.sessions


async def test_server_close_delivers_queue_then_close_packet(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    session = echo.server.sessions[sid]
    session.send("bye")
    session.close()
    assert session.closed
    assert echo.closes == [(sid, "forced close")]
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert res.text == "4bye\x1e1"
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert res.status == 400 and res.json()["code"] == 1


async def test_send_after_close_is_ignored(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    session = echo.server.sessions[sid]
    session.close()
    session.send("late")
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert res.text == "1"


async def test_volatile_dropped_without_pending_get(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    session = echo.server.sessions[sid]
    session.send("lost", volatile=True)
    session.send("kept")
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert res.text == "4kept"
    poll = asyncio.ensure_future(echo.get(f"EIO=4&transport=polling&sid={sid}"))
    await asyncio.sleep(0.05)
    session.send("delivered", volatile=True)
    assert (await poll).text == "4delivered"


@pytest.mark.parametrize(
    ("query", "method", "status", "code"),
    [
        ("EIO=4", "GET", 400, 0),
        ("EIO=4&transport=carrier-pigeon", "GET", 400, 0),
        ("EIO=4&transport=polling&sid=nope", "GET", 400, 1),
        ("EIO=4&transport=polling", "POST", 400, 2),
        ("EIO=4&transport=websocket", "GET", 400, 3),
        ("EIO=3&transport=polling", "GET", 400, 5),
        ("transport=polling", "GET", 400, 5),
        ("EIO=abc&transport=polling", "GET", 400, 5),
    ],
)
async def test_error_codes(echo: Harness, query: str, method: str, status: int, code: int) -> None:
    messages = {
        0: "Transport unknown",
        1: "Session ID unknown",
        2: "Bad handshake method",
        3: "Bad request",
        5: "Unsupported protocol version",
    }
    client = await echo.http()
    res = await client.request(method, echo.url(query), b"4x" if method == "POST" else b"")
    assert res.status == status
    assert res.headers["content-type"] == "application/json"
    assert res.json() == {"code": code, "message": messages[code]}
    # an error answer does not cost the connection: keep-alive goes on
    res = await client.request("GET", echo.url("EIO=4&transport=polling"))
    assert res.status == 200 and res.text[0] == "0"
    assert not echo.closes


async def test_forbidden_by_allow_request(make_server) -> None:
    seen = []

    def allow(request) -> bool:
        seen.append(request.headers.get("x-token"))
        return request.headers.get("x-token") == "good"

    harness = await make_server(allow_request=allow)
    res = await harness.get("EIO=4&transport=polling", headers={"X-Token": "bad"})
    assert res.status == 403
    assert res.json() == {"code": 4, "message": "Forbidden"}
    res = await harness.get("EIO=4&transport=polling", headers={"X-Token": "good"})
    assert res.status == 200
    assert seen == ["bad", "good"]


async def test_async_allow_request(make_server) -> None:
    async def allow(request) -> bool:
        await asyncio.sleep(0.01)
        return request.query.get("ok") == "1"

    harness = await make_server(allow_request=allow)
    assert (await harness.get("EIO=4&transport=polling&ok=0")).status == 403
    assert (await harness.get("EIO=4&transport=polling&ok=1")).status == 200


async def test_post_over_max_http_buffer_size_is_413_and_closes_session(make_server) -> None:
    harness = await make_server(max_http_buffer_size=1000)
    from _support.eio_client import attach_echo

    attach_echo(harness)
    sid = (await harness.handshake())["sid"]
    client = await harness.http()
    res = await client.request("POST", harness.url(f"EIO=4&transport=polling&sid={sid}"), "4" + "x" * 1000)
    assert res.status == 413
    assert await client.at_eof()
    assert harness.closes == [(sid, "transport error")]
    # exactly at the limit is fine for another session
    sid2 = (await harness.handshake())["sid"]
    res = await harness.post(f"EIO=4&transport=polling&sid={sid2}", "4" + "x" * 999)
    assert res.status == 200


@pytest.mark.parametrize("body", ["bxx!!", "9hello", "4a\x1e\x1e4b", ""])
async def test_bad_post_body_closes_with_parse_error(echo: Harness, body: str) -> None:
    sid = (await echo.handshake())["sid"]
    poll = asyncio.ensure_future(echo.get(f"EIO=4&transport=polling&sid={sid}"))
    await asyncio.sleep(0.05)
    res = await echo.post(f"EIO=4&transport=polling&sid={sid}", body)
    assert res.status == 400 and res.json() == {"code": 3, "message": "Bad request"}
    assert (await poll).text == "1"
    assert echo.closes == [(sid, "parse error")]


async def test_client_ping_is_a_protocol_error(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    await echo.post(f"EIO=4&transport=polling&sid={sid}", "2")
    assert echo.closes == [(sid, "transport error")]


async def test_cors_none_refuses_other_origins_and_sends_no_cors_headers(echo: Harness) -> None:
    # None means same origin only: a handshake from another site is refused (as python-socketio)
    res = await echo.get("EIO=4&transport=polling", headers={"Origin": "http://evil.example"})
    assert res.status == 400
    assert not any(name.startswith("access-control") for name in res.headers)
    res = await echo.get("EIO=4&transport=polling")
    assert res.status == 200
    assert not any(name.startswith("access-control") for name in res.headers)


async def test_cors_star_reflects_origin_and_answers_preflight(make_server) -> None:
    # "*" answers any origin with "*" and no credentials ...
    plain = await make_server(cors_allowed_origins="*")
    res = await plain.get("EIO=4&transport=polling", headers={"Origin": "http://app.example"})
    assert res.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in res.headers
    # ... and reflects it with credentials only when told to
    harness = await make_server(cors_allowed_origins="*", cors_credentials=True)
    origin = {"Origin": "http://app.example"}
    res = await harness.get("EIO=4&transport=polling", headers=origin)
    assert res.headers["access-control-allow-origin"] == "http://app.example"
    assert res.headers["access-control-allow-credentials"] == "true"
    client = await harness.http()
    res = await client.request(
        "OPTIONS",
        harness.url("EIO=4&transport=polling"),
        headers={**origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert res.status == 204
    assert res.headers["access-control-allow-origin"] == "http://app.example"
    assert "POST" in res.headers["access-control-allow-methods"]
    assert res.headers["access-control-allow-headers"] == "content-type"
    # errors carry CORS headers too, so a browser can read them
    res = await harness.get("EIO=4&transport=polling&sid=unknown", headers=origin)
    assert res.status == 400 and res.headers["access-control-allow-origin"] == "http://app.example"


async def test_cors_list_allows_only_listed_origins(make_server) -> None:
    harness = await make_server(cors_allowed_origins=["http://good.example"])
    res = await harness.get("EIO=4&transport=polling", headers={"Origin": "http://good.example"})
    assert res.headers["access-control-allow-origin"] == "http://good.example"
    res = await harness.get("EIO=4&transport=polling", headers={"Origin": "http://bad.example"})
    assert "access-control-allow-origin" not in res.headers


async def test_poll_connection_dropped_closes_session(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    client = await echo.http()
    client.send_raw(f"GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await asyncio.sleep(0.05)
    client.close()
    for _ in range(50):
        if echo.closes:
            break
        await asyncio.sleep(0.01)
    assert echo.closes == [(sid, "transport error")]


async def test_binary_post_body_is_refused(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    res = await echo.post(
        f"EIO=4&transport=polling&sid={sid}", "4hi", headers={"Content-Type": "application/octet-stream"}
    )
    assert res.status == 400
    assert echo.closes == [(sid, "transport error")]


async def test_polling_responses_are_not_cacheable(echo: Harness) -> None:
    res = await echo.get("EIO=4&transport=polling")
    assert res.headers["cache-control"] == "no-store"
    sid = json.loads(res.text[1:])["sid"]
    res = await echo.post(f"EIO=4&transport=polling&sid={sid}", "4x")
    assert res.headers["cache-control"] == "no-store"


async def test_overlapping_post_gets_400_and_closes_the_session(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    slow = await echo.http()
    slow.send_raw(
        f"POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
        "Host: x\r\nContent-Length: 10\r\n\r\n4he".encode()
    )
    await asyncio.sleep(0.05)
    res = await echo.post(f"EIO=4&transport=polling&sid={sid}", "4other")
    assert res.status == 400 and res.json()["code"] == 3
    assert echo.closes == [(sid, "transport error")]


async def test_post_cut_off_mid_body_closes_the_session(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    client = await echo.http()
    client.send_raw(
        f"POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
        "Host: x\r\nContent-Length: 10\r\n\r\n4he".encode()
    )
    await asyncio.sleep(0.05)
    client.close()
    for _ in range(100):
        if echo.closes:
            break
        await asyncio.sleep(0.01)
    assert echo.closes == [(sid, "transport error")]


async def test_sequential_posts_on_several_connections_are_fine(echo: Harness) -> None:
    sid = (await echo.handshake())["sid"]
    keep = await echo.http()
    for i in range(3):
        assert (await keep.request("POST", echo.url(f"EIO=4&transport=polling&sid={sid}"), f"4a{i}")).body == b"ok"
        assert (await echo.post(f"EIO=4&transport=polling&sid={sid}", f"4b{i}")).body == b"ok"
    res = await echo.get(f"EIO=4&transport=polling&sid={sid}")
    assert split_payload(res.text) == ["4a0", "4b0", "4a1", "4b1", "4a2", "4b2"]
    assert not echo.closes


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ping_interval": 0},
        {"ping_timeout": -1},
        {"max_http_buffer_size": 0},
        {"transports": ()},
        {"transports": ("carrier-pigeon",)},
        {"path": "engine.io"},
    ],
)
def test_bad_server_options_are_refused(kwargs: dict) -> None:
    from hypersio.engine import Server

    with pytest.raises(ValueError):
        Server(**kwargs)
