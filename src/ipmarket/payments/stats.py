"""The payments module's figures for administrators' user totals: what each user has earned."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.payments.ledger import REFUND, REFUND_FAILED, SALE, USER_KINDS
from ipmarket.payments.models import LedgerAccount, LedgerEntry, LedgerPosting


async def revenue_per_user(
    session: AsyncSession, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Each user's earnings in minor units from sales and license fees (as seller or
    licensor), net of refunds: what sale postings credited them minus what refund postings
    took back (and plus what the reversals of refunds the provider refused gave back). One
    query; users who earned nothing are absent."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(LedgerAccount.owner_id, func.sum(LedgerEntry.amount_minor))
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(LedgerPosting, LedgerPosting.id == LedgerEntry.posting_id)
        .where(
            LedgerAccount.owner_id.in_(user_ids),
            LedgerAccount.kind.in_([kind.value for kind in USER_KINDS]),
            LedgerPosting.kind.in_([SALE, REFUND, REFUND_FAILED]),
        )
        .group_by(LedgerAccount.owner_id)
    )
    return {owner_id: int(total) for owner_id, total in rows.all() if owner_id is not None}
