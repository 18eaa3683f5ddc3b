"""Rate limits: per IP on auth endpoints, per user per hour elsewhere, with headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ipmarket.config import Settings
from ipmarket.kit.db import Database
from tests.support import register


@pytest.fixture
async def limited_app(settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    from ipmarket.app import create_app

    limited = settings.model_copy(
        update={"rate_limit_auth_per_minute": 3, "rate_limit_user_per_hour": 4}
    )
    application = create_app(limited)
    # A fresh Redis key space so parallel or earlier runs do not count.
    from ipmarket.kit.cache import RedisCache

    assert isinstance(application.state.cache, RedisCache)
    import uuid

    application.state.cache.prefix = f"ipmarket-test-{uuid.uuid4().hex}:"
    async with application.router.lifespan_context(application):
        yield application


def _client(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_auth_endpoints_are_limited_per_ip(limited_app: FastAPI) -> None:
    async with (
        _client(limited_app, "198.51.100.1") as first,
        _client(limited_app, "198.51.100.2") as second,
    ):
        statuses = []
        for _ in range(4):
            response = await first.post(
                "/v1/auth/login", json={"email": "x@example.com", "password": "Nope-1234!"}
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
        assert response.json()["error"]["code"] == "RATE_LIMITED"
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["error"]["details"]["retryAfter"] == int(
            response.headers["retry-after"]
        )
        assert response.headers["ratelimit-remaining"] == "0"
        # another address is not affected
        other = await second.post(
            "/v1/auth/login", json={"email": "x@example.com", "password": "Nope-1234!"}
        )
        assert other.status_code == 401
        assert other.headers["ratelimit-limit"] == "3"
        assert other.headers["ratelimit-remaining"] == "2"


async def test_users_are_limited_per_hour(limited_app: FastAPI) -> None:
    async with (
        _client(limited_app, "198.51.100.3") as client,
        _client(limited_app, "198.51.100.4") as other_ip,
    ):
        account = await register(client, "buyer")
        statuses = [
            (await client.get("/v1/users/me", headers=account.auth)).status_code for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 200, 429]
        # the same user from another address is still limited: the limit follows the user
        assert (await other_ip.get("/v1/users/me", headers=account.auth)).status_code == 429
        # another user is not
        second = await register(other_ip, "buyer")
        response = await other_ip.get("/v1/users/me", headers=second.auth)
        assert response.status_code == 200
        assert response.headers["ratelimit-limit"] == "4"
        assert int(response.headers["ratelimit-reset"]) <= 3600
