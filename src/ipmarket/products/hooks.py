"""Products' reactions, in the same transaction, to licenses that stop authorising."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import provenance
from ipmarket.kit.clock import utcnow
from ipmarket.kit.hooks import on
from ipmarket.licensing import AuthorizationWithdrawn
from ipmarket.products.repository import ProductRepository


@on(AuthorizationWithdrawn)
async def suspend_products(session: AsyncSession, event: AuthorizationWithdrawn) -> None:
    suspended = await ProductRepository(session).suspend_under(
        event.license_ids, reason=event.reason, now=utcnow()
    )
    if suspended:
        # A suspended product is not authentic: its cached answers go once this commits.
        provenance.invalidate_after_commit(session)
