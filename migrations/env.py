"""Alembic environment: runs migrations over asyncpg against the configured database."""

from __future__ import annotations

import asyncio
import re

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ipmarket.kit.db import async_url
from ipmarket.models import metadata

config = context.config


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("run migrations through `ipmarket migrate`, which sets the database URL")
    return async_url(url)


def _include(
    obj: object, name: str | None, _type: str, _reflected: bool, _compare_to: object
) -> bool:
    """Leave out what the models do not describe on purpose: the yearly partitions of
    transactions (made by a function) and their indexes."""
    table = getattr(obj, "table", obj)
    table_name = getattr(table, "name", name) or ""
    return not re.fullmatch(r"transactions_\d{4}", table_name)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        include_object=_include,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_database_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
