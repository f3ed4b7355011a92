"""A Socket.IO client: connect, listen, emit with acknowledgements, then leave.

It speaks to the chat server of ``examples/chat.py`` (or to any server with the same events)::

    python examples/chat.py --port 3000 &
    python examples/client.py http://127.0.0.1:3000 --nick ann --room lobby

Without a URL it starts that chat server in this process on a free port and has two clients,
"ann" and "bob", talk to each other, so the example runs on its own::

    python examples/client.py

The same client works with the official Node server, over any transport
(``--transports websocket``) and either parser when the server uses it (``--parser msgpack``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import hypersio

log = logging.getLogger("client")


async def chat(url: str, nick: str, room: str, lines: list[str], options: dict[str, Any]) -> None:
    """Join ``room`` as ``nick``, send ``lines`` (each acknowledged), print what others say."""
    async with hypersio.AsyncClient(url, **options) as client:
        log.info("%s connected as %s over %s", nick, client.id, client.transport)

        @client.on("message")
        def on_message(msg: dict[str, Any]) -> None:
            log.info("%s sees %s: %s", nick, msg["from"], msg["text"])

        client.on("joined", lambda who: log.info("%s sees %s join", nick, who))
        client.on("left", lambda who: log.info("%s sees %s leave", nick, who))
        client.on("disconnect", lambda reason, description: log.info("%s disconnected: %s", nick, reason))

        # emit_with_ack waits for the server's answer; timeout() bounds the wait.
        joined = await client.timeout(5).emit_with_ack("join", room, nick)
        log.info("%s joined %s with %s", nick, joined["room"], joined["members"])
        await asyncio.sleep(0.2)  # let the other client join too
        for text in lines:
            # A trailing callable is the ack callback; with timeout() it gets (err, answer).
            client.timeout(5).emit(
                "message", text, lambda err, ack: log.info("%s: message %s", nick, err or f"acked as #{ack['id']}")
            )
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        log.info("%s leaves: %s", nick, await client.timeout(5).emit_with_ack("leave"))


async def demo(options: dict[str, Any]) -> None:
    """Serve examples/chat.py in this process and let two clients talk."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import chat as chat_server  # the chat server example next to this file

    engine = await chat_server.sio.listen("127.0.0.1", 0)
    url = f"http://127.0.0.1:{engine.port}"
    try:
        await asyncio.gather(
            chat(url, "ann", "lobby", ["hi bob", "how are you?"], options),
            chat(url, "bob", "lobby", ["hi ann"], options),
        )
    finally:
        await chat_server.sio.close()


def main() -> None:
    """Parse the command line and run one client (or the two-client demo)."""
    parser = argparse.ArgumentParser(description="hypersio client example")
    parser.add_argument("url", nargs="?", help="server URL; omit it to run the self-contained demo")
    parser.add_argument("--nick", default="ann")
    parser.add_argument("--room", default="lobby")
    parser.add_argument("--transports", default="polling,websocket", help="comma-separated")
    parser.add_argument("--parser", default="json", choices=("json", "msgpack"))
    parser.add_argument("message", nargs="*", default=[], help="lines to send (after the URL)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    options: dict[str, Any] = {"transports": tuple(args.transports.split(",")), "parser": args.parser}
    try:
        if args.url:
            asyncio.run(chat(args.url, args.nick, args.room, args.message or ["hello"], options))
        else:
            asyncio.run(demo(options))
    except hypersio.ConnectError as exc:
        sys.exit(f"could not connect: {exc.message} {exc.data or ''}")


if __name__ == "__main__":
    main()
