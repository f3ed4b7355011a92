"""A user's program written against API.md, checked with ``mypy --strict`` (scripts/check, and
tests/typing/test_user_program.py): the decorators keep the decorated function's type, the
broadcast operators, acks, ``fetch_sockets``, the client and the parsers are typed for users.

It is also imported (not run) by the test, so its names must resolve at runtime too.
"""

from __future__ import annotations

from typing import Any

import hypersio
from hypersio import msgpack_parser, parser

sio = hypersio.Server(cors_allowed_origins="*", connection_state_recovery=hypersio.Recovery())


@sio.use
async def auth(socket: hypersio.Socket) -> None:
    if socket.handshake.auth.get("token") != "secret":
        raise hypersio.ConnectError("Not authorized", {"code": 42})


@sio.on("connection")
async def on_connection(socket: hypersio.Socket) -> None:
    socket.emit("hello", "world", {"blob": b"\x01"})
    socket.data["user"] = "alice"

    @socket.on("request")
    def on_request(arg1: str, arg2: int, callback: Any) -> None:
        callback({"status": "ok", "echo": [arg1, arg2]})

    @socket.on("request2")
    async def on_request2(arg1: str) -> dict[str, str]:
        return {"status": arg1}

    def on_any(event: str, *args: Any) -> None:
        print(event, args)

    socket.on_any(on_any)
    socket.on_any_outgoing(on_any)
    socket.join("some room")
    socket.join(["a", "b"])
    socket.to("some room").emit("hi")
    socket.broadcast.emit("hi")
    socket.leave("some room")
    rooms: set[str] = socket.rooms
    print(socket.id, socket.nsp.name, sorted(rooms))

    answer = await socket.timeout(5).emit_with_ack("request", {"foo": "bar"})
    print(answer)
    socket.timeout(5).emit("request", {"foo": "bar"}, lambda err, response: print(err, response))

    @socket.on("disconnect")
    def on_disconnect(reason: str, description: Any) -> None:
        print("gone", reason, description)


# The decorators hand back the function itself: calling it is a typed call of the user's function.
def check_decorated_functions_keep_their_types(socket: hypersio.Socket) -> None:
    result: None = on_chat(socket)
    print(result)


chat = sio.of("/chat")


@chat.on("connection")
def on_chat(socket: hypersio.Socket) -> None:
    socket.emit("welcome")


async def broadcast_things() -> list[Any]:
    sio.emit("tick", 1)
    sio.to("a").to("b").except_("c").volatile.emit("x", b"\x00")
    sio.compress(False).emit("y")
    responses: list[Any] = await sio.timeout(2).emit_with_ack("ping")
    sockets = await sio.fetch_sockets()
    for remote in sockets:
        remote.emit("direct", remote.id)
    sio.sockets_join("everyone")
    sio.sockets_leave("everyone")
    sio.disconnect_sockets(close=False)
    return responses


async def client_side() -> None:
    client = hypersio.AsyncClient("http://127.0.0.1:3000", transports=("websocket",), reconnection=False)

    @client.on("hello")
    def on_hello(*args: Any) -> None:
        print("hello", args)

    @client.on("connect")
    async def on_connect() -> None:
        print("connected", client.id)

    await client.connect()
    client.emit("request", "a", 1)
    reply = await client.timeout(5).emit_with_ack("request2", "x")
    print(reply, client.connected)
    await client.disconnect()
    async with hypersio.AsyncClient("http://127.0.0.1:3000") as other:
        other.emit("x")


def codecs() -> None:
    encoded = parser.Encoder().encode(parser.Packet(parser.EVENT, "/", ["m", 1]))
    first = encoded[0]  # the packet text; attachments (bytes) follow it
    decoder = parser.Decoder(max_attachments=10)
    packet = decoder.add(first)
    if packet is not None:
        print(packet.type, packet.nsp, packet.data, packet.id)
    print(msgpack_parser.Encoder().encode(msgpack_parser.Packet(msgpack_parser.EVENT, "/", ["m"])))
    try:
        parser.Decoder().add("9garbage")
    except hypersio.ParseError as exc:
        print(exc)


def engine_level() -> None:
    engine = hypersio.engine.Server(path="/engine.io/", http_compression=False, per_message_deflate={"threshold": 0})
    hypersio.Server(per_message_deflate=True, http_compression={"threshold": 4096})

    def on_session(session: hypersio.engine.Session) -> None:
        session.send("hi")
        session.send_uncompressed("not compressed")
        session.on("message", lambda data: session.send(data))

    engine.on("connection", on_session)


# Under an ASGI server (uvicorn user_program:asgi_app), beside another ASGI app or alone.
asgi_app = hypersio.ASGIApp(sio)


async def close_asgi() -> None:
    await asgi_app.close()


if __name__ == "__main__":
    sio.run(host="127.0.0.1", port=3000)
