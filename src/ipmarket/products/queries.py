"""Read-side queries other modules may ask of products."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.products.models import Product, ProductStatus

Availability = Literal["on_sale", "sold_out", "suspended", "removed", "unlisted"]


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


@dataclass(frozen=True)
class SaleState:
    """Whether a product is on sale now and, when it is not, why: what its buyers' orders
    say about it (the product itself may no longer be public)."""

    availability: Availability
    reason: str | None

    @property
    def on_sale(self) -> bool:
        return self.availability == "on_sale"


def _state(
    status: str,
    status_reason: str | None,
    stock: int,
    authorized_until: datetime | None,
    deleted_at: datetime | None,
) -> SaleState:
    if deleted_at is not None:
        return SaleState("removed", "The seller removed it from the marketplace.")
    if status == ProductStatus.SUSPENDED:
        why = f" ({status_reason})" if status_reason else ""
        return SaleState("suspended", f"Its license no longer authorises its sale{why}.")
    if status == ProductStatus.DRAFT:
        return SaleState("unlisted", "The seller took it off sale.")
    if authorized_until is not None and authorized_until <= utcnow():
        return SaleState("suspended", "Its license no longer authorises its sale (expired).")
    if status == ProductStatus.SOLD_OUT or stock == 0:
        return SaleState("sold_out", "It is sold out.")
    return SaleState("on_sale", None)


async def sale_states(
    session: AsyncSession, product_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, SaleState]:
    """The sale state of each of `product_ids`, deleted and suspended ones included (one
    query; unknown ids are absent)."""
    if not product_ids:
        return {}
    rows = await session.execute(
        select(
            Product.id,
            Product.status,
            Product.status_reason,
            Product.inventory_count,
            Product.authorized_until,
            Product.deleted_at,
        ).where(Product.id.in_(set(product_ids)))
    )
    return {row[0]: _state(*row[1:]) for row in rows.all()}
