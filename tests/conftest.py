"""Test harness: a database built from the migrations for this run, real Redis and RabbitMQ.

The database is named for the pytest process, so each parallel worker (pytest-xdist) builds
and uses its own. Each test starts from empty tables (the audit trail's append-only triggers are bypassed for
the cleanup only, with session_replication_role) and its own Redis key prefix.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from ipmarket.config import Settings
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
TEST_DB = f"ipmarket_test_{os.getpid()}"

# Examples are not timed: on a loaded machine (CI with parallel workers, browsers) one slow
# example would fail a property that holds. Hypothesis still stops at max_examples.
hypothesis_settings.register_profile("ipmarket", deadline=None)
hypothesis_settings.load_profile("ipmarket")


def _db_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


async def _admin_execute(*statements: str) -> None:
    engine = create_async_engine(
        ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://"), isolation_level="AUTOCOMMIT"
    )
    async with engine.connect() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    import asyncio

    asyncio.run(
        _admin_execute(
            f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)', f'CREATE DATABASE "{TEST_DB}"'
        )
    )
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", _db_url(TEST_DB))
    command.upgrade(cfg, "head")
    yield _db_url(TEST_DB)
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def jwt_private_key_pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def redis_prefix() -> str:
    return f"ipmarket-test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(autouse=True)
def light_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Most tests register many users and test nothing about password storage: they hash
    with light argon2id parameters. Tests marked `real_password_hashing` keep the real ones."""
    if request.node.get_closest_marker("real_password_hashing") is None:
        from argon2 import PasswordHasher, Type

        from ipmarket.identity import passwords

        monkeypatch.setattr(
            passwords,
            "_hasher",
            PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID),
        )


@pytest.fixture
def settings(
    database_url: str,
    jwt_private_key_pem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    redis_prefix: str,
) -> Settings:
    """Root settings of a test: real services, a fresh VAR_DIR, the relay driven by the test."""
    for name in ("DATABASE_URL", "REDIS_URL", "RABBITMQ_URL", "SMTP_URL", "IPMARKET_ENV"):
        monkeypatch.delenv(name, raising=False)
    return Settings.model_validate(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_PREFIX": redis_prefix,
            "JWT_PRIVATE_KEY": jwt_private_key_pem,
            "VAR_DIR": tmp_path / "var",
            "RELAY_IN_PROCESS": False,
            "RATE_LIMIT_USER_PER_HOUR": 100_000,
            "RATE_LIMIT_AUTH_PER_MINUTE": 100_000,
        }
    )


_TABLES_TO_KEEP = ("alembic_version",)


async def _empty_all(db: Database) -> None:
    """Empty every table. DELETE beats TRUNCATE by an order of magnitude on the few rows a
    test leaves. Only this cleanup bypasses the audit trail's append-only triggers (and the
    foreign keys' triggers, so the order of the deletes does not matter)."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        tables = [r[0] for r in rows if r[0] not in _TABLES_TO_KEEP]
        await conn.execute(text("SET session_replication_role = replica"))
        for table in tables:
            await conn.execute(text(f'DELETE FROM "{table}"'))
        await conn.execute(text("SET session_replication_role = DEFAULT"))
        await conn.commit()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=5)
    await _empty_all(database)
    clock.unfreeze()
    yield database
    clock.unfreeze()
    await database.dispose()


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    """A session for arranging and asserting; commit explicitly to make data visible."""
    async with db.sessionmaker() as s:
        yield s


# --- the API ---------------------------------------------------------------------------------

import httpx  # noqa: E402
from fastapi import FastAPI  # noqa: E402


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    from ipmarket.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=("203.0.113.7", 5555)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
