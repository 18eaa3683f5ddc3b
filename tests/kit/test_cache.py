"""The cache port: the in-process adapter and Redis behave alike."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from ipmarket.kit.cache import Cache, MemoryCache, RedisCache
from tests.conftest import REDIS_URL


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    adapter: Cache
    if request.param == "memory":
        adapter = MemoryCache()
    else:
        adapter = RedisCache(REDIS_URL, prefix=f"ipmarket-test-{uuid.uuid4().hex}:")
    yield adapter
    await adapter.close()


async def test_get_set_delete(cache: Cache) -> None:
    assert await cache.get("k") is None
    await cache.set("k", b"v", ttl_seconds=60)
    assert await cache.get("k") == b"v"
    await cache.delete("k")
    assert await cache.get("k") is None
    assert await cache.ping() is True


async def test_hits_count_within_a_window(cache: Cache) -> None:
    counts = [await cache.hit("window", 60) for _ in range(3)]
    assert [c for c, _ in counts] == [1, 2, 3]
    assert all(0 < reset <= 60 for _, reset in counts)
    assert (await cache.hit("other", 60))[0] == 1


async def test_memory_window_expires() -> None:
    cache = MemoryCache()
    await cache.hit("w", 1)
    import asyncio

    await asyncio.sleep(1.05)
    assert (await cache.hit("w", 1))[0] == 1
