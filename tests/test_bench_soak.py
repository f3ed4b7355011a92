"""The soak's checks (hypersio.bench.soak) find what they are meant to find: packets are fed to one
checking client by hand, without a server, and its failure counters are read back."""

from __future__ import annotations

import asyncio
from typing import Any

from hypersio.bench.soak import MEMBER, SoakClient, SoakWorker


class FakeTransport:
    """Records writes; the client only ever writes to its transport."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False


def frame(text: str) -> bytes:
    """A short unmasked server text frame."""
    payload = text.encode()
    assert len(payload) < 126
    return b"\x81" + bytes((len(payload),)) + payload


def connected_client() -> tuple[SoakWorker, SoakClient]:
    worker = SoakWorker(None, None, None)
    client = SoakClient(worker, 0, churner=False)
    client.transport = FakeTransport()  # type: ignore[assignment]
    client.upgraded = True
    client.data_received(frame("40"))
    return worker, client


def run(body: Any) -> Any:
    async def main() -> Any:
        return body()

    return asyncio.run(main())


def test_a_room_stream_is_checked_from_the_join_ack_to_the_leave_ack() -> None:
    def body() -> dict[str, int]:
        worker, client = connected_client()
        client.rooms[7] = 0  # JOINING
        client.request("join", 7)
        client.data_received(frame('42["r",7,5]'))  # sent after the join: held until its ack
        client.data_received(frame("431[4]"))  # joined when the room was at 4
        assert client.rooms[7] == MEMBER and client.expect[7] == 6
        client.data_received(frame('42["r",7,6]') + frame('42["r",7,8]'))  # 7 lost
        client.data_received(frame('42["r",7,8]'))  # 8 repeated
        client.rooms[7] = 2  # LEAVING
        client.request("leave", 7)
        client.data_received(frame("432[10]"))  # the room was at 10: 9 and 10 never came
        client.data_received(frame('42["r",7,11]'))  # after the leave
        return dict(worker.errors)

    errors = run(body)
    assert errors == {
        "room: messages lost": 1,
        "room: message repeated or out of order": 1,
        "room: messages lost before a leave": 2,
        "room message to a client that is not a member": 1,
    }


def test_the_global_stream_starts_at_hello_and_every_ack_is_matched() -> None:
    def body() -> tuple[dict[str, int], int]:
        worker, client = connected_client()
        client.data_received(frame('42["hello",3]') + frame('42["g",4]') + frame('42["g",6]'))
        client.request("echo", 1)
        client.data_received(frame("431[2]"))  # the wrong value
        client.data_received(frame("431[1]"))  # answered twice
        client.request("echo", 2)  # never answered
        return dict(worker.errors), len(client.pending)

    errors, pending = run(body)
    assert errors == {
        "global: messages lost": 1,
        "echo answered with the wrong value": 1,
        "ack for no outstanding request (repeated or unknown)": 1,
    }
    assert pending == 1


def test_a_clean_run_counts_no_failure() -> None:
    def body() -> tuple[dict[str, int], dict[str, int]]:
        worker, client = connected_client()
        client.data_received(frame('42["hello",0]'))
        client.rooms[1] = 0
        client.request("join", 1)
        client.data_received(frame("431[0]"))
        for seq in range(1, 6):
            client.data_received(frame(f'42["g",{seq}]') + frame(f'42["r",1,{seq}]') + frame(f'42["v",{seq * 2}]'))
        client.rooms[1] = 2
        client.request("leave", 1)
        client.data_received(frame("432[5]"))
        return dict(worker.errors), dict(worker.received)

    errors, received = run(body)
    assert errors == {}
    assert received == {"global": 5, "room": 5, "volatile": 5, "ack": 2}
