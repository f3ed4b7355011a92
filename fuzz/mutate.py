"""A plain random-mutation loop over a seed corpus: the fallback when atheris is not installed
(the smoke test in tests/fuzz uses it, so CI needs no atheris). Not coverage-guided."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

# Bytes that mean something to one decoder or another: type digits, separators, msgpack headers.
_INTERESTING = b'0123456b-/,[]{}"\x00\x01\x1e\x7f\x80\x81\x82\x88\x89\x8a\x7e\xff\xc0\xc1\xc4\xc7\xd4\xd7\xd9\xdc\xde'


def mutate(data: bytes, rng: random.Random, max_len: int = 4096) -> bytes:
    """One random mutation (or a few) of ``data``, in the spirit of libFuzzer's mutators."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a bit
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert a byte, random or meaningful
            buf[pos:pos] = bytes((rng.choice(_INTERESTING) if rng.random() < 0.5 else rng.randrange(256),))
        elif op == 2 and buf:  # delete a run
            del buf[pos : pos + rng.randint(1, 8)]
        elif op == 3 and buf:  # set a byte
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 4 and buf:  # duplicate a slice
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start : start + rng.randint(1, 32)]
        elif op == 5 and buf:  # truncate
            del buf[rng.randrange(len(buf)) :]
        else:  # an extreme integer somewhere (lengths, counts)
            buf[pos:pos] = rng.choice((b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff\xff\xff\xff\xff", b"\x00\x00", b"99999"))
    return bytes(buf[:max_len])


def inputs(seeds: Sequence[bytes], count: int, seed: int = 0) -> Iterator[bytes]:
    """The seeds, then ``count`` mutations of them (and of earlier mutations)."""
    rng = random.Random(seed)
    pool = list(seeds) or [b""]
    yield from pool
    for _ in range(count):
        parent = rng.choice(pool)
        if rng.random() < 0.1 and len(pool) > 1:  # splice two inputs
            other = rng.choice(pool)
            parent = parent[: rng.randrange(len(parent) + 1)] + other[rng.randrange(len(other) + 1) :]
        child = mutate(parent, rng)
        if rng.random() < 0.05 and len(pool) < 2000:
            pool.append(child)
        yield child


def run(check: Callable[[bytes], object], seeds: Sequence[bytes], count: int, seed: int = 0) -> int:
    """Feed ``check`` the seeds and ``count`` mutations; return how many inputs ran. Exceptions escape
    with the input attached (``exc.fuzz_input``)."""
    n = 0
    for data in inputs(seeds, count, seed):
        try:
            check(data)
        except BaseException as exc:
            exc.fuzz_input = data  # type: ignore[attr-defined]
            raise
        n += 1
    return n
