"""Read-side queries other modules may ask of identity."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity.models import User


async def usernames_of(
    session: AsyncSession, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The username of each of `user_ids` that exists (one query): what pages show of the
    other party of a license, never more."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(set(user_ids))))
    return {row.id: row.username for row in rows}
