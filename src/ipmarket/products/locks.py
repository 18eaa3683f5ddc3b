"""Every row lock the products module takes (order and kind: `ipmarket.kit.locks`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.locks import for_no_key_update
from ipmarket.products.models import Product


async def lock_product(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    stmt = for_no_key_update(select(Product).where(Product.id == product_id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_products_under(session: AsyncSession, license_ids: frozenset[uuid.UUID]) -> None:
    """The live products made under any of `license_ids`, in primary-key order, so that
    overlapping cascades never deadlock."""
    await session.execute(
        for_no_key_update(
            select(Product.id)
            .where(Product.license_id.in_(license_ids), Product.deleted_at.is_(None))
            .order_by(Product.id)
        )
    )
