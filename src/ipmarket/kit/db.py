"""Database engine, sessions and the declarative base.

One transaction per request or job: the session is committed at the edge (the request
dependency or the job runner). The exception is a money flow (a purchase, its confirmation,
a refund, a payout...), which must not hold a lock or an open transaction while the payment
provider moves money: its flow function runs in steps, each in a visible `async with
step(session):` block that commits when the block ends and rolls back when it raises; what
follows its last step is committed at the edge as usual. Services never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import structlog
from sqlalchemy import MetaData, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime

from ipmarket.kit.clock import utcnow
from ipmarket.kit.ids import new_id

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: DateTime(timezone=True),
        uuid.UUID: UUID(as_uuid=True),
    }


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


def async_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and use asyncpg."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a PostgreSQL URL")


_log = structlog.get_logger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT = "ipmarket.after_commit"


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction has committed (never on rollback).

    For effects that must not happen before the data they describe is visible, such as
    invalidating a cache other processes read.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


async def commit(session: AsyncSession) -> None:
    """Commit, then run the after-commit callbacks registered on the session."""
    await session.commit()
    callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            # The work is done and visible: failing the request now would tell the client
            # otherwise. Effects that must not be lost also go through the outbox.
            _log.exception("after_commit.failed", callback=getattr(callback, "__name__", "?"))


@asynccontextmanager
async def step(
    session: AsyncSession, *, keep_on: tuple[type[BaseException], ...] = ()
) -> AsyncIterator[None]:
    """One step of a money flow: committed (with its after-commit callbacks) when the block
    ends, rolled back when it raises, except for the errors in `keep_on`, which are outcomes
    to record (a declined card, an expired reservation): committed, then raised. After it no
    transaction is open, so the provider can be called without a lock held or a charge
    hanging on work that could still roll back."""
    try:
        yield
    except keep_on:
        await commit(session)
        raise
    except BaseException:
        discard_after_commit(session)
        await session.rollback()
        raise
    try:
        await commit(session)
    except BaseException:
        discard_after_commit(session)
        await session.rollback()
        raise


def discard_after_commit(session: AsyncSession) -> None:
    session.info.pop(_AFTER_COMMIT, None)


class Database:
    """The engine and session factory of one process."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=20,
            pool_pre_ping=True,
            # Plan every statement for its actual values: a generic plan cannot use the
            # partial indexes the catalogue relies on (status = 'active', …), see bench/.
            connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed when the block ends, rolled back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await commit(session)
            except BaseException:
                discard_after_commit(session)
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()
