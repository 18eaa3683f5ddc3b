"""The embedded PostgreSQL used when DATABASE_URL is not set (data under VAR_DIR/pgdata)."""

from __future__ import annotations

from ipmarket.config import Settings


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    raise RuntimeError("embedded PostgreSQL is not wired yet")
