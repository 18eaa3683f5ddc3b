"""The payments module's part of administrators' user totals: what each user has earned."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import UserTotalsWanted
from ipmarket.kit.hooks import on
from ipmarket.payments.ledger import REFUND, REFUND_FAILED, SALE, USER_KINDS
from ipmarket.payments.models import LedgerAccount, LedgerEntry, LedgerPosting


@on(UserTotalsWanted)
async def sum_revenue(session: AsyncSession, totals: UserTotalsWanted) -> None:
    """Each user's earnings from sales and license fees (as seller or licensor), net of
    refunds: what sale postings credited them minus what refund postings took back (and
    plus what the reversals of refunds the provider refused gave back)."""
    rows = await session.execute(
        select(LedgerAccount.owner_id, func.sum(LedgerEntry.amount_minor))
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(LedgerPosting, LedgerPosting.id == LedgerEntry.posting_id)
        .where(
            LedgerAccount.owner_id.in_(totals.user_ids),
            LedgerAccount.kind.in_([kind.value for kind in USER_KINDS]),
            LedgerPosting.kind.in_([SALE, REFUND, REFUND_FAILED]),
        )
        .group_by(LedgerAccount.owner_id)
    )
    totals.revenue_minor.update(
        {owner_id: int(total) for owner_id, total in rows.all() if owner_id is not None}
    )
