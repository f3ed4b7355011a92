"""Cleaning up after the cluster tests: every key a test's servers made carries its unique prefix."""

from __future__ import annotations


async def drop_keys(redis_url: str, *patterns: str) -> int:
    """Delete the keys matching ``patterns`` (``SCAN`` + ``DEL``; never FLUSHALL); returns how many."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    try:
        dropped = 0
        for pattern in patterns:
            keys = [key async for key in client.scan_iter(match=pattern, count=500)]
            if keys:
                dropped += await client.delete(*keys)
        return dropped
    finally:
        await client.aclose()
