"""Checks of the postings themselves: each balances, has two entries or more, and all
accounts together sum to zero."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.payments.ledger.checks.common import (
    posting_name,
)
from ipmarket.payments.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
)


async def unbalanced_postings(session: AsyncSession) -> list[str]:
    total = func.sum(LedgerEntry.amount_minor)
    rows = await session.execute(
        select(
            LedgerPosting.id, LedgerPosting.kind, LedgerPosting.reference, LedgerAccount.currency
        )
        .add_columns(total)
        .join(LedgerEntry, LedgerEntry.posting_id == LedgerPosting.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .group_by(LedgerPosting.id, LedgerAccount.currency)
        .having(total != 0)
        .order_by(LedgerPosting.created_at, LedgerPosting.id, LedgerAccount.currency)
    )
    return [
        f"{posting_name(pid, kind, ref)}: its {currency} entries sum to {int(amount)}, not to zero"
        for pid, kind, ref, currency, amount in rows
    ]


async def thin_postings(session: AsyncSession) -> list[str]:
    entries = func.count(LedgerEntry.id)
    rows = await session.execute(
        select(LedgerPosting.id, LedgerPosting.kind, LedgerPosting.reference)
        .add_columns(entries)
        .outerjoin(LedgerEntry, LedgerEntry.posting_id == LedgerPosting.id)
        .group_by(LedgerPosting.id)
        .having(entries < 2)
        .order_by(LedgerPosting.created_at, LedgerPosting.id)
    )
    return [
        f"{posting_name(pid, kind, ref)} has {count} "
        f"{'entry' if count == 1 else 'entries'}; a posting has at least two"
        for pid, kind, ref, count in rows
    ]


async def ledger_total(session: AsyncSession) -> list[str]:
    total = func.sum(LedgerEntry.amount_minor)
    rows = await session.execute(
        select(LedgerAccount.currency, total)
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .group_by(LedgerAccount.currency)
        .having(total != 0)
        .order_by(LedgerAccount.currency)
    )
    return [
        f"the ledger's {currency} accounts sum to {int(amount)}, not to zero"
        for currency, amount in rows
    ]
