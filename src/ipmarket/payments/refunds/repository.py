"""The SQL of refunds (and the shared reads of rows that wait on the provider)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.payments.ledger import SALE
from ipmarket.payments.models import (
    LedgerEntry,
    LedgerPosting,
    Payout,
    Refund,
    RefundStatus,
)

# Rows that wait on the provider: refunds and payouts (both `pending` until settled).
_Settled = TypeVar("_Settled", Refund, Payout)


async def current_row(
    session: AsyncSession, model: type[_Settled], row_id: uuid.UUID, *, for_update: bool
) -> _Settled | None:
    """A refund or payout as it is in the database now (not as this session last saw it)."""
    stmt = select(model).where(model.id == row_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def pending_between(
    session: AsyncSession,
    model: type[Refund | Payout],
    before: datetime,
    after: datetime,
    limit: int,
) -> list[uuid.UUID]:
    """Pending refunds or payouts recorded between `after` and `before`, oldest first."""
    rows = await session.execute(
        select(model.id)
        .where(model.status == "pending", model.created_at < before, model.created_at > after)
        .order_by(model.created_at, model.id)
        .limit(limit)
    )
    return list(rows.scalars())


class RefundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Refund) -> None:
        self.session.add(row)
        await self.session.flush()

    async def refunds_of(
        self, transaction_id: uuid.UUID, *, with_failed: bool = False
    ) -> list[Refund]:
        """A transaction's refunds, in the order they were made. Failed ones (their posting
        reversed, nothing given back) only `with_failed`: they take no part in the split of
        the refunds after them, here or in the transfers' reversals."""
        stmt = select(Refund).where(Refund.transaction_id == transaction_id)
        if not with_failed:
            stmt = stmt.where(Refund.status != RefundStatus.FAILED.value)
        rows = await self.session.execute(stmt.order_by(Refund.created_at, Refund.id))
        return list(rows.scalars())

    async def refunds_of_many(
        self, transaction_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, list[Refund]]:
        """The refunds of several transactions, failed ones included, each transaction's in
        the order they were made (one query; transactions without any are absent)."""
        if not transaction_ids:
            return {}
        rows = await self.session.execute(
            select(Refund)
            .where(Refund.transaction_id.in_(set(transaction_ids)))
            .order_by(Refund.created_at, Refund.id)
        )
        found: dict[uuid.UUID, list[Refund]] = {}
        for refund in rows.scalars():
            found.setdefault(refund.transaction_id, []).append(refund)
        return found

    async def refund(self, refund_id: uuid.UUID, *, for_update: bool = False) -> Refund | None:
        """A refund as it is in the database now (not as this session last saw it)."""
        return await current_row(self.session, Refund, refund_id, for_update=for_update)

    async def refund_by_reference(self, provider_reference: str) -> Refund | None:
        rows = await self.session.execute(
            select(Refund)
            .where(Refund.provider_reference == provider_reference)
            .order_by(Refund.id)
            .limit(1)
        )
        return rows.scalars().first()

    async def stale_pending_refunds(
        self, created_before: datetime, *, created_after: datetime, limit: int
    ) -> list[uuid.UUID]:
        """Pending refunds recorded between `created_after` and `created_before`, oldest
        first."""
        return await pending_between(self.session, Refund, created_before, created_after, limit)

    async def sale_available_at(self, transaction_id: uuid.UUID) -> datetime | None:
        """When the earnings of a transaction's sale posting leave the hold period (None
        when they were available at once, or nothing was posted)."""
        return await self.session.scalar(
            select(func.max(LedgerEntry.available_at))
            .select_from(LedgerEntry)
            .join(LedgerPosting, LedgerPosting.id == LedgerEntry.posting_id)
            .where(LedgerPosting.kind == SALE, LedgerPosting.reference == str(transaction_id))
        )
