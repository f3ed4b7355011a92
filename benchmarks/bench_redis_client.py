"""What the cluster's Redis traffic costs in the client library: CPU per PUBLISH and per received
pattern message through redis-py (the way hypersio.adapters.cluster.redis_link uses it), against a
bare asyncio protocol with hiredis's reader doing the same.

The cluster benchmark (bench_cluster.py) found redis-py a large share of the emitting and of the
receiving node's time; this isolates it. Usage:
    python benchmarks/bench_redis_client.py [--redis-url URL] [--messages N] [--per-batch B]
Channels use a unique prefix; the run is bounded by --messages (default 20000).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
from typing import Any


def cpu() -> float:
    """This process's utime + stime, in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def resp(*args: bytes) -> bytes:
    """One command in RESP."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


class RawRedis(asyncio.Protocol):
    """A bare Redis connection: writes RESP, parses with hiredis.Reader, counts replies and pushes."""

    def __init__(self) -> None:
        import hiredis

        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.replies = 0
        self.pushes = 0
        self.wanted = 0
        self.done: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        """Parse what arrived; count replies and pattern messages."""
        self.reader.feed(data)
        while (item := self.reader.gets()) is not False:
            if isinstance(item, list) and item and item[0] == b"pmessage":
                self.pushes += 1
            else:
                self.replies += 1
            if self.done is not None and not self.done.done() and self.replies + self.pushes >= self.wanted:
                self.done.set_result(None)

    async def until(self, count: int) -> None:
        """Wait until replies + pushes reach ``count``."""
        self.wanted = count
        self.done = asyncio.get_running_loop().create_future()
        if self.replies + self.pushes < count:
            await asyncio.wait_for(self.done, 30)


async def redis_py(url: str, channel: bytes, messages: int, per_batch: int, payload: bytes) -> tuple[float, float]:
    """CPU us per PUBLISH in pipelines of ``per_batch`` and per pmessage read with get_message."""
    import redis.asyncio as aioredis

    sub = aioredis.from_url(url)
    pub = aioredis.from_url(url)
    pubsub = sub.pubsub()
    try:
        await pubsub.psubscribe(channel + b"*")
        while (await pubsub.get_message(timeout=1.0) or {}).get("type") != "psubscribe":
            pass
        t0 = cpu()
        for _ in range(messages // per_batch):
            pipe = pub.pipeline(transaction=False)
            for _ in range(per_batch):
                pipe.execute_command("PUBLISH", channel + b"#/#", payload)
            await pipe.execute(raise_on_error=False)
        t1 = cpu()
        got = 0
        async with asyncio.timeout(30):  # one deadline for the lot: no task per message
            while got < messages // per_batch * per_batch:
                message = await pubsub.get_message(timeout=None)
                if message and message["type"] == "pmessage":
                    got += 1
        t2 = cpu()
    finally:
        await pubsub.aclose()
        await sub.aclose()
        await pub.aclose()
    n = messages // per_batch * per_batch
    return 1e6 * (t1 - t0) / n, 1e6 * (t2 - t1) / n


async def raw(
    host: str, port: int, channel: bytes, messages: int, per_batch: int, payload: bytes
) -> tuple[float, float]:
    """The same with :class:`RawRedis`: publish batches, then read the pmessages."""
    loop = asyncio.get_running_loop()
    _, sub = await loop.create_connection(RawRedis, host, port)
    _, pub = await loop.create_connection(RawRedis, host, port)
    try:
        sub.transport.write(resp(b"PSUBSCRIBE", channel + b"*"))  # type: ignore[union-attr]
        await sub.until(1)
        sub.replies = 0
        command = resp(b"PUBLISH", channel + b"#/#", payload)
        # the pattern messages are read apart from the publishing, as in redis_py()
        sub.transport.pause_reading()  # type: ignore[union-attr]
        t0 = cpu()
        for i in range(messages // per_batch):
            pub.transport.write(command * per_batch)  # type: ignore[union-attr]
            await pub.until((i + 1) * per_batch)
        t1 = cpu()
        n = messages // per_batch * per_batch
        sub.transport.resume_reading()  # type: ignore[union-attr]
        await sub.until(n)
        t2 = cpu()
    finally:
        sub.transport.close()  # type: ignore[union-attr]
        pub.transport.close()  # type: ignore[union-attr]
    return 1e6 * (t1 - t0) / n, 1e6 * (t2 - t1) / n


def main() -> None:
    """Run both clients once each and print CPU us per message."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--per-batch", type=int, default=50, help="PUBLISH commands per pipeline (default 50)")
    ap.add_argument("--payload-size", type=int, default=80, help="message bytes (a small broadcast: 80)")
    args = ap.parse_args()
    from urllib.parse import urlparse

    import redis

    where = urlparse(args.redis_url)
    payload = b"x" * args.payload_size
    channel = f"hypersio-bench-client-{os.getpid()}-{secrets.token_hex(4)}".encode()
    try:
        import uvloop

        run: Any = uvloop.run
    except ImportError:  # pragma: no cover
        run = asyncio.run
    pub_py, sub_py = run(redis_py(args.redis_url, channel + b"-py", args.messages, args.per_batch, payload))
    pub_raw, sub_raw = run(
        raw(
            where.hostname or "127.0.0.1", where.port or 6379, channel + b"-raw", args.messages, args.per_batch, payload
        )
    )
    print(
        f"redis-py {redis.__version__}, {args.messages} messages of {args.payload_size} B, {args.per_batch} per batch"
    )
    print(f"  PUBLISH (pipeline, as RedisLink._write):      {pub_py:6.2f} us CPU each")
    print(f"  pmessage (PubSub.get_message, as _read_loop): {sub_py:6.2f} us CPU each")
    print("bare asyncio protocol + hiredis.Reader:")
    print(f"  PUBLISH:                                     {pub_raw:6.2f} us CPU each")
    print(f"  pmessage:                                    {sub_raw:6.2f} us CPU each")


if __name__ == "__main__":
    main()
