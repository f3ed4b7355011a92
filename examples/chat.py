"""A small chat server: rooms, acknowledgements and a catch-all logger.

Run it::

    python examples/chat.py --port 3000

and talk to it with any Socket.IO v4 client, for instance from node::

    const socket = require("socket.io-client").io("http://127.0.0.1:3000");
    socket.emit("join", "lobby", "ann", (reply) => console.log(reply));   // {room, members}
    socket.on("message", (msg) => console.log(msg));                       // {from, text, room}
    socket.emit("message", "hello", (ack) => console.log(ack));            // {ok: true, id: 1}

Events handled: ``join(room, nick)`` → ack ``{"room", "members"}``; ``message(text)`` → sent to
the others in the room, ack ``{"ok", "id"}``; ``leave()`` → ack ``{"ok", "left"}``; ``rooms()`` → ack
with the room list.
"""

from __future__ import annotations

import argparse
import itertools
import logging

import hypersio

log = logging.getLogger("chat")
sio = hypersio.Server(cors_allowed_origins="*")
message_ids = itertools.count(1)


@sio.on("connection")
def on_connection(socket: hypersio.Socket) -> None:
    """Wire the chat events of one client."""
    socket.data.update(nick="anonymous", room=None)
    socket.on_any(lambda event, *args: log.info("%s -> %s %r", socket.id, event, args))

    @socket.on("join")
    async def join(room: str, nick: str = "anonymous") -> dict[str, object]:
        # The return value is the acknowledgement the client's callback receives.
        await leave()
        socket.data.update(nick=str(nick)[:32], room=str(room)[:64])
        socket.join(socket.data["room"])
        socket.to(socket.data["room"]).emit("joined", socket.data["nick"])
        members = await sio.in_(socket.data["room"]).fetch_sockets()
        return {"room": socket.data["room"], "members": [m.data["nick"] for m in members]}

    @socket.on("message")
    def message(text: str, ack=None) -> None:
        room = socket.data["room"]
        if room is None:
            if ack:
                ack({"ok": False, "error": "join a room first"})
            return
        msg_id = next(message_ids)
        socket.to(room).emit("message", {"id": msg_id, "from": socket.data["nick"], "text": str(text), "room": room})
        if ack:  # the JS-style ack callable, passed because the client asked for one
            ack({"ok": True, "id": msg_id})

    @socket.on("leave")
    async def leave() -> dict[str, object]:
        room = socket.data["room"]
        if room is not None:
            socket.leave(room)
            socket.to(room).emit("left", socket.data["nick"])
            socket.data["room"] = None
        return {"ok": True, "left": room}

    @socket.on("rooms")
    def rooms() -> list[str]:
        return sorted(r for r in sio.sockets.adapter.rooms if r not in sio.sockets.sockets)

    @socket.on("disconnect")
    def on_disconnect(reason: str, description: object) -> None:
        log.info("%s left (%s)", socket.id, reason)
        if socket.data["room"] is not None:
            sio.to(socket.data["room"]).emit("left", socket.data["nick"])


def main() -> None:
    """Parse the command line and serve until Ctrl+C."""
    parser = argparse.ArgumentParser(description="hypersio chat example")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    sio.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
