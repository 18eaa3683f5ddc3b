"""The cache port: Redis when REDIS_URL is set, in-process otherwise.

Used for cached answers and for the fixed-window counters of the rate limiter.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from redis.asyncio import Redis


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl_seconds: int | None = None) -> None: ...
    async def delete(self, *keys: str) -> None: ...
    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one hit in the window that `key` names; return (hits so far, seconds left)."""
        ...

    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class MemoryCache:
    """A process-local cache for the embedded mode and single-process deployments."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[bytes, float | None]] = {}
        self._lock = asyncio.Lock()

    def _alive(self, key: str, now: float) -> tuple[bytes, float | None] | None:
        item = self._values.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= now:
            del self._values[key]
            return None
        return item

    async def get(self, key: str) -> bytes | None:
        item = self._alive(key, time.monotonic())
        return item[0] if item else None

    async def set(self, key: str, value: bytes, ttl_seconds: int | None = None) -> None:
        expires = time.monotonic() + ttl_seconds if ttl_seconds else None
        self._values[key] = (value, expires)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        async with self._lock:
            now = time.monotonic()
            item = self._alive(key, now)
            if item is None:
                count, expires = 1, now + window_seconds
            else:
                count = int(item[0]) + 1
                expires = item[1] if item[1] is not None else now + window_seconds
            self._values[key] = (str(count).encode(), expires)
            if len(self._values) > 100_000:
                self._evict_expired(now)
            return count, max(1, int(expires - now + 0.999))

    def _evict_expired(self, now: float) -> None:
        for key in [k for k, (_, exp) in self._values.items() if exp is not None and exp <= now]:
            del self._values[key]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._values.clear()


class RedisCache:
    def __init__(self, url: str, *, prefix: str = "ipmarket:") -> None:
        self._redis: Redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self.prefix + key)
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl_seconds: int | None = None) -> None:
        await self._redis.set(self.prefix + key, value, ex=ttl_seconds)

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self.prefix + k for k in keys))

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        full = self.prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(full)
            pipe.expire(full, window_seconds, nx=True)
            pipe.ttl(full)
            count, _, ttl = await pipe.execute()
        return int(count), max(1, int(ttl))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def make_cache(redis_url: str | None, *, prefix: str = "ipmarket:") -> Cache:
    return RedisCache(redis_url, prefix=prefix) if redis_url else MemoryCache()
