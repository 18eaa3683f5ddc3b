"""Helpers of the products and provenance tests: one application, fast password hashing, a
verification cache of each test's own, counting SQL statements, reading what a request
wrote, and small worlds to verify."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ipmarket.app import create_app
from ipmarket.audit import AuditLog
from ipmarket.config import Settings
from ipmarket.eventbus.models import OutboxEvent
from ipmarket.kit.cache import RedisCache
from ipmarket.kit.db import Database
from ipmarket.products import Product
from ipmarket.provenance import AuthorizationChain, configure_verification_cache
from tests.conftest import REDIS_URL
from tests.rights import Rights
from tests.support import Account, login

# --- fixtures (imported by the conftest files of tests/products and tests/provenance) -------


@pytest.fixture(scope="session")
async def app(
    database_url: str, jwt_private_key_pem: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    """One application for all these tests, as one server serves many requests: building
    the app is most of a small test's time. Each test still starts from empty tables (the
    `db` fixture) and has its own verification cache (below)."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("DATABASE_URL", "REDIS_URL", "RABBITMQ_URL", "SMTP_URL", "IPMARKET_ENV"):
            env.delenv(name, raising=False)
        settings = Settings.model_validate(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": REDIS_URL,
                "JWT_PRIVATE_KEY": jwt_private_key_pem,
                "VAR_DIR": tmp_path_factory.mktemp("var"),
                "RELAY_IN_PROCESS": False,
                "RATE_LIMIT_USER_PER_HOUR": 100_000,
                "RATE_LIMIT_AUTH_PER_MINUTE": 100_000,
            }
        )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(autouse=True)
async def verification_cache(app: FastAPI, redis_prefix: str) -> AsyncIterator[RedisCache]:
    """Cached verification answers in Redis under the test's own prefix, so that no other
    test (or another engineer's run on the same Redis) bumps this test's epoch."""
    cache = RedisCache(REDIS_URL, prefix=redis_prefix)
    configure_verification_cache(cache)
    yield cache
    await cache.close()
    await drop_keys(redis_prefix)


async def drop_keys(prefix: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


# --- counting SQL --------------------------------------------------------------------------


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    seen: list[str] = []

    def before_cursor_execute(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before_cursor_execute)


def app_engine(app: FastAPI) -> AsyncEngine:
    database: Database = app.state.db
    return database.engine


# --- reading what was written ----------------------------------------------------------------


async def tally(db: Database) -> dict[str, int]:
    """Row counts that any product write changes."""
    async with db.sessionmaker() as session:
        counts = {}
        for name, query in {
            "products": select(func.count()).select_from(Product),
            "chain": select(func.count()).select_from(AuthorizationChain),
            "outbox": select(func.count()).select_from(OutboxEvent),
            "audit": select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.resource_type == "product"),
        }.items():
            counts[name] = int((await session.execute(query)).scalar_one())
        return counts


async def product_row(db: Database, product_id: str | uuid.UUID) -> Product:
    async with db.sessionmaker() as session:
        row = await session.get(Product, uuid.UUID(str(product_id)))
        assert row is not None
        return row


async def chain_records(db: Database, product_id: str | uuid.UUID) -> list[AuthorizationChain]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(AuthorizationChain).where(
                AuthorizationChain.product_id == uuid.UUID(str(product_id))
            )
        )
        return list(rows.scalars())


async def audit_rows(db: Database, resource_id: str | uuid.UUID) -> list[AuditLog]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(AuditLog)
            .where(AuditLog.resource_id == uuid.UUID(str(resource_id)))
            .order_by(AuditLog.created_at, AuditLog.id)
        )
        return list(rows.scalars())


async def outbox(db: Database, event_type: str) -> list[dict[str, Any]]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(OutboxEvent.payload)
            .where(OutboxEvent.event_type == event_type)
            .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
        )
        return list(rows.scalars())


# --- requests ------------------------------------------------------------------------------


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an error envelope; return its error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["data"] is None
    assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


async def relogin(client: httpx.AsyncClient, account: Account) -> Account:
    """A fresh access token, e.g. after the clock was moved past the old one's expiry."""
    response = await login(client, account.email, account.password)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    account.token = data["token"]
    account.refresh_token = data["refreshToken"]
    return account


async def verify(client: httpx.AsyncClient, product_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/products/{product_id}/verify")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()["data"]
    return answer


async def listed_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/v1/products", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["data"]]


async def derivative_product(rights: Rights, *, l1_duration: str = "P1Y") -> dict[str, Any]:
    """A → L1 (to s1) → D1 → L2 (to s2) → a product of s2."""
    creator = await rights.user("creator")
    s1 = await rights.user("secondary_creator")
    s2 = await rights.user("secondary_creator")
    a = await rights.asset(creator, title="Moonlit Fox")
    t1 = await rights.terms(creator, a["id"], duration=l1_duration)
    l1 = await rights.license(s1, creator, a["id"], t1["id"])
    d1 = await rights.asset(s1, title="Moonlit Fox: Winter Tales", parent_license_id=l1["id"])
    t2 = await rights.terms(s1, d1["id"])
    l2 = await rights.license(s2, s1, d1["id"], t2["id"])
    product = await rights.product(s2, l2["id"], title="Winter Tales poster")
    return {"creator": creator, "s1": s1, "a": a, "d1": d1, "l1": l1, "l2": l2, "p": product}
