"""Read-side queries other modules may ask of products."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.products.models import Product


async def products_per_creator(
    session: AsyncSession, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many products each of `user_ids` made, deleted ones aside (one query; users with
    none are absent)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(Product.creator_id, func.count())
        .where(Product.creator_id.in_(user_ids), Product.deleted_at.is_(None))
        .group_by(Product.creator_id)
    )
    return {creator_id: int(count) for creator_id, count in rows.all()}
