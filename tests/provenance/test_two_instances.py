"""Two API instances sharing one Redis: a revocation through one is seen at once by the
other, which had the authentic answer cached."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from ipmarket.app import create_app
from ipmarket.config import Settings
from ipmarket.kit.cache import Cache, RedisCache
from ipmarket.kit.db import Database
from ipmarket.provenance import configure_verification_cache
from tests.conftest import REDIS_URL
from tests.products.support import open_shop
from tests.provenance.support import app_engine, statements


class InstanceTransport(httpx.ASGITransport):
    """Requests to one instance, with that instance's verification cache.

    The cache port is configured per process; two instances in one test process take turns,
    each request running with its own instance's cache object (own connections, shared
    Redis and prefix), as two processes would.
    """

    def __init__(self, app: FastAPI, cache: Cache) -> None:
        super().__init__(app=app, raise_app_exceptions=False, client=("203.0.113.9", 5555))
        self.cache = cache

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        configure_verification_cache(self.cache)
        return await super().handle_async_request(request)


@asynccontextmanager
async def instance(
    settings: Settings, prefix: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    assert settings.redis_url == REDIS_URL
    app = create_app(settings)
    cache = RedisCache(REDIS_URL, prefix=prefix)
    async with app.router.lifespan_context(app):
        transport = InstanceTransport(app, cache)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client
    await cache.close()


async def test_a_revocation_through_one_instance_is_seen_by_the_other(
    settings: Settings, db: Database, redis_prefix: str
) -> None:
    async with (
        instance(settings, redis_prefix) as (app_a, a),
        instance(settings, redis_prefix) as (app_b, b),
    ):
        assert app_a.state.db is not app_b.state.db
        # given a product, made through instance A
        shop = await open_shop(a, db)
        product = await shop.product()
        path = f"/v1/verify/{product['verificationCode']}"
        # and instance B has its authentic answer cached
        first = await b.get(path)
        assert first.json()["data"]["authentic"] is True
        with statements(app_engine(app_b)) as seen:
            cached = await b.get(path)
        assert cached.json()["data"] == first.json()["data"]
        assert seen == []
        # (A, too, answers from the shared cache: the answer B stored)
        with statements(app_engine(app_a)) as seen_by_a:
            assert (await a.get(path)).json()["data"] == first.json()["data"]
        assert seen_by_a == []
        # when the licensor revokes the license through instance A
        revoked = await a.put(
            f"/v1/licenses/{shop.license['id']}/revoke",
            json={"reason": "Breach of terms"},
            headers=shop.creator.auth,
        )
        assert revoked.status_code == 200, revoked.text
        # then instance B answers inauthentic at once, from the database
        with statements(app_engine(app_b)) as seen:
            answer = (await b.get(path)).json()["data"]
        assert seen, "B served its stale cached answer"
        assert answer["authentic"] is False
        assert f"license {shop.license['id']} is revoked" in answer["reasons"]
        by_product = await b.get(f"/v1/products/{product['id']}/verify")
        assert by_product.json()["data"]["authentic"] is False
        # and B no longer lists the product
        listed = (await b.get("/v1/products")).json()["data"]
        assert product["id"] not in [p["id"] for p in listed]
