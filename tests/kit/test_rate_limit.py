"""Rate limits: per IP on auth endpoints, per user per hour elsewhere, with headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from ipmarket.config import Settings
from ipmarket.kit.cache import MemoryCache
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


class FlakyCache(MemoryCache):
    """An in-process cache whose counters can be made to fail like an unreachable Redis."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        if self.down:
            raise RedisConnectionError(
                "Error 111 connecting to 127.0.0.1:6379. Connection refused."
            )
        return await super().hit(key, window_seconds)


async def test_a_cache_outage_lets_requests_through_and_warns_once_per_outage(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ipmarket.app import create_app

    # given an app whose rate-limit counters live in a cache that is about to fail
    cache = FlakyCache()
    monkeypatch.setattr("ipmarket.runtime.make_cache", lambda *args, **kwargs: cache)
    app = create_app(settings.model_copy(update={"rate_limit_user_per_hour": 1000}))
    async with app.router.lifespan_context(app), _client(app, "198.51.100.9") as client:
        account = await register(client, "buyer")
        cache.down = True
        # when requests arrive while the cache is down
        with capture_logs() as logs:
            responses = [await client.get("/v1/users/me", headers=account.auth) for _ in range(3)]
            login = await client.post(
                "/v1/auth/login", json={"email": account.email, "password": account.password}
            )
        # then they are served (without rate-limit headers), and one warning says why
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert login.status_code == 200
        assert "ratelimit-limit" not in responses[0].headers
        warnings = [e for e in logs if e["log_level"] == "warning"]
        assert [w["event"] for w in warnings] == ["rate_limit_cache_unavailable"]
        assert warnings[0]["error_type"] == "ConnectionError"
        # when the cache comes back, requests are counted again
        cache.down = False
        with capture_logs() as logs:
            back = await client.get("/v1/users/me", headers=account.auth)
        assert back.status_code == 200 and back.headers["ratelimit-limit"] == "1000"
        assert [e["event"] for e in logs if e["event"].startswith("rate_limit_cache")] == [
            "rate_limit_cache_recovered"
        ]
        # and a second outage is reported again
        cache.down = True
        with capture_logs() as logs:
            assert (await client.get("/v1/users/me", headers=account.auth)).status_code == 200
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
            "rate_limit_cache_unavailable"
        ]


async def test_without_redis_the_in_process_limiter_counts(
    settings: Settings, db: Database
) -> None:
    from ipmarket.app import create_app

    # given an app configured without REDIS_URL and a limit of 3 auth calls a minute
    local = settings.model_copy(
        update={"redis_url": None, "rate_limit_auth_per_minute": 3, "rate_limit_user_per_hour": 5}
    )
    app = create_app(local)
    assert isinstance(app.state.cache, MemoryCache)
    async with (
        app.router.lifespan_context(app),
        _client(app, "198.51.100.20") as client,
        _client(app, "198.51.100.21") as other,
    ):
        # when one address keeps trying to log in
        responses = [
            await client.post(
                "/v1/auth/login", json={"email": "x@example.com", "password": "Nope-1234!"}
            )
            for _ in range(4)
        ]
        # then the fourth try is refused with the usual headers and envelope
        assert [r.status_code for r in responses] == [401, 401, 401, 429]
        assert [r.headers["ratelimit-remaining"] for r in responses] == ["2", "1", "0", "0"]
        assert responses[-1].json()["error"]["code"] == "RATE_LIMITED"
        assert int(responses[-1].headers["retry-after"]) > 0
        # and another address still has its own allowance
        fresh = await other.post(
            "/v1/auth/login", json={"email": "x@example.com", "password": "Nope-1234!"}
        )
        assert fresh.status_code == 401 and fresh.headers["ratelimit-remaining"] == "2"


async def test_sign_in_pages_share_the_auth_limit_and_refuse_as_a_page(
    limited_app: FastAPI,
) -> None:
    from tests.web.support import sign_in

    async with _client(limited_app, "198.51.100.9") as browser:
        statuses = [
            (await sign_in(browser, "x@example.com", "Nope-1234!")).status_code for _ in range(4)
        ]
        # given three refused attempts, the fourth is over the limit of three per minute
        assert statuses == [401, 401, 401, 429]
        refused = await sign_in(browser, "x@example.com", "Nope-1234!")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("text/html")
        assert "Too many attempts" in refused.text
        assert int(refused.headers["retry-after"]) > 0
        # the form pages themselves (GET) are not counted
        assert (await browser.get("/sign-in")).status_code == 200
