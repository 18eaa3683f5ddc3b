"""The services one process holds: database, cache, signing keys, email, event relay.

Built once at startup (API lifespan, worker, CLI) from the root settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipmarket.config import Settings
from ipmarket.kit.cache import Cache, make_cache
from ipmarket.kit.db import Database
from ipmarket.kit.embedded_db import resolve_database_url


@dataclass
class Runtime:
    settings: Settings
    db: Database
    cache: Cache

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        url = resolve_database_url(settings)
        return cls(
            settings=settings,
            db=Database(url),
            cache=make_cache(settings.redis_url, prefix=settings.redis_prefix),
        )

    async def close(self) -> None:
        await self.cache.close()
        await self.db.dispose()
