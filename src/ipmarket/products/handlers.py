"""Products' reactions, in the same transaction, to licenses that stop authorising, and
their part of administrators' user totals."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import provenance
from ipmarket.identity import UserTotalsWanted
from ipmarket.kit.clock import utcnow
from ipmarket.kit.hooks import on
from ipmarket.licensing import AuthorizationWithdrawn
from ipmarket.products.models import Product
from ipmarket.products.repository import ProductRepository


@on(AuthorizationWithdrawn)
async def suspend_products(session: AsyncSession, event: AuthorizationWithdrawn) -> None:
    suspended = await ProductRepository(session).suspend_under(
        event.license_ids, reason=event.reason, now=utcnow()
    )
    if suspended:
        # A suspended product is not authentic: its cached answers go once this commits.
        provenance.invalidate_after_commit(session)


@on(UserTotalsWanted)
async def count_products(session: AsyncSession, totals: UserTotalsWanted) -> None:
    """Each user's products, deleted ones aside."""
    rows = await session.execute(
        select(Product.creator_id, func.count())
        .where(Product.creator_id.in_(totals.user_ids), Product.deleted_at.is_(None))
        .group_by(Product.creator_id)
    )
    totals.products.update({creator_id: int(count) for creator_id, count in rows.all()})
