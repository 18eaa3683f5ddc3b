"""Balances read from the ledger: a user's, an account's, the platform's revenue, and who
has enough available for a payout."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.money import CURRENCY
from ipmarket.payments.ledger.accounts import (
    AccountRef,
    platform_revenue,
)
from ipmarket.payments.models import AccountKind, LedgerAccount, LedgerEntry


@dataclass(frozen=True)
class Balance:
    currency: str
    pending_minor: int
    available_minor: int


async def balance(session: AsyncSession, user_id: UUID, currency: str = CURRENCY) -> Balance:
    """The user's pending and available balances, summed from their entries."""
    amount = LedgerEntry.amount_minor
    pending = func.sum(amount).filter(LedgerAccount.kind == AccountKind.USER_PENDING.value)
    available = func.sum(amount).filter(LedgerAccount.kind == AccountKind.USER_AVAILABLE.value)
    row = (
        await session.execute(
            select(func.coalesce(pending, 0), func.coalesce(available, 0))
            .select_from(LedgerAccount)
            .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
            .where(LedgerAccount.owner_id == user_id, LedgerAccount.currency == currency)
        )
    ).one()
    return Balance(currency=currency, pending_minor=int(row[0]), available_minor=int(row[1]))


async def account_total(session: AsyncSession, account: AccountRef) -> int:
    """The sum of the entries on one account (0 for an account never used)."""
    owner = (
        LedgerAccount.owner_id.is_(None)
        if account.owner_id is None
        else LedgerAccount.owner_id == account.owner_id
    )
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0))
        .select_from(LedgerEntry)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerAccount.kind == account.kind.value,
            owner,
            LedgerAccount.currency == account.currency,
        )
    )
    return int(total or 0)


async def available_at_least(
    session: AsyncSession,
    minimum_minor: int,
    *,
    currency: str = CURRENCY,
    after: UUID | None = None,
    limit: int = 500,
) -> list[tuple[UUID, int]]:
    """(user, available balance) of the users whose available balance is at least
    `minimum_minor` (and above zero), by user id after `after`, at most `limit`."""
    total = func.sum(LedgerEntry.amount_minor)
    stmt = (
        select(LedgerAccount.owner_id, total)
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .where(
            LedgerAccount.kind == AccountKind.USER_AVAILABLE.value,
            LedgerAccount.currency == currency,
        )
        .group_by(LedgerAccount.owner_id)
        .having(total >= max(minimum_minor, 1))
        .order_by(LedgerAccount.owner_id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(LedgerAccount.owner_id > after)
    rows = await session.execute(stmt)
    return [(owner, int(amount)) for owner, amount in rows if owner is not None]


async def platform_revenue_minor(session: AsyncSession, currency: str = CURRENCY) -> int:
    """The platform's fee revenue: the sum of the entries on its revenue account."""
    return await account_total(session, platform_revenue(currency))
