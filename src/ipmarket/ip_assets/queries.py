"""Read-side queries other modules may ask of IP assets."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.ip_assets.models import IPAsset


async def ip_assets_per_creator(
    session: AsyncSession, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many IP assets each of `user_ids` created, deleted ones aside (one query; users
    with none are absent)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(IPAsset.creator_id, func.count())
        .where(IPAsset.creator_id.in_(user_ids), IPAsset.deleted_at.is_(None))
        .group_by(IPAsset.creator_id)
    )
    return {creator_id: int(count) for creator_id, count in rows.all()}
