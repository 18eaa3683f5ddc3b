"""Checks of payouts against the earnings and their postings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.payments.ledger.checks.common import (
    USER_KINDS,
    keyset_batches,
    posting_name,
)
from ipmarket.payments.ledger.postings import PAYOUT_KINDS
from ipmarket.payments.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    Payout,
    PayoutStatus,
)


async def payouts_beyond_earnings(session: AsyncSession) -> list[str]:
    """The first moment, per user and currency, when their payouts so far exceeded the net
    of everything else credited to them so far."""
    payout_postings = (
        select(LedgerEntry.posting_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerAccount.kind.in_((AccountKind.PAYOUTS.value, AccountKind.PAYOUTS_IN_FLIGHT.value))
        )
    )
    is_payout = LedgerEntry.posting_id.in_(payout_postings)
    amount = LedgerEntry.amount_minor
    moments = (
        select(
            LedgerAccount.owner_id.label("user_id"),
            LedgerAccount.currency.label("currency"),
            LedgerPosting.created_at.label("at"),
            func.sum(case((is_payout, -amount), else_=0)).label("paid"),
            func.sum(case((is_payout, 0), else_=amount)).label("earned"),
            func.bool_or(is_payout).label("pays_out"),
        )
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(LedgerPosting, LedgerPosting.id == LedgerEntry.posting_id)
        .where(LedgerAccount.kind.in_(USER_KINDS))
        .group_by(LedgerAccount.owner_id, LedgerAccount.currency, LedgerPosting.created_at)
        .subquery()
    )
    partition = (moments.c.user_id, moments.c.currency)
    running = select(
        moments.c.user_id,
        moments.c.currency,
        moments.c.at,
        moments.c.pays_out,
        func.sum(moments.c.paid)
        .over(partition_by=partition, order_by=moments.c.at)
        .label("paid_so_far"),
        func.sum(moments.c.earned)
        .over(partition_by=partition, order_by=moments.c.at)
        .label("earned_so_far"),
    ).subquery()
    breaches = (
        select(
            running.c.user_id,
            running.c.currency,
            running.c.at,
            running.c.paid_so_far,
            running.c.earned_so_far,
            func.row_number()
            .over(partition_by=(running.c.user_id, running.c.currency), order_by=running.c.at)
            .label("nth"),
        )
        .where(running.c.pays_out, running.c.paid_so_far > running.c.earned_so_far)
        .subquery()
    )
    rows = await session.execute(
        select(
            breaches.c.user_id,
            breaches.c.currency,
            breaches.c.at,
            breaches.c.paid_so_far,
            breaches.c.earned_so_far,
        )
        .where(breaches.c.nth == 1)  # the first breach of each user is enough to name them
        .order_by(breaches.c.at, breaches.c.user_id, breaches.c.currency)
    )
    return [
        f"user {user_id}: payouts of {int(paid)} {currency} exceed their earnings of "
        f"{int(earned)} as of {at.isoformat()}"
        for user_id, currency, at, paid, earned in rows
    ]


# Where a payout's money is, by its status: its postings' net effect, per account.
_Holder = tuple[str, uuid.UUID | None]


def _expected_payout(status: str, user_id: uuid.UUID, amount: int) -> dict[_Holder, int]:
    available: _Holder = (AccountKind.USER_AVAILABLE.value, user_id)
    if status == PayoutStatus.PENDING:
        return {available: -amount, (AccountKind.PAYOUTS_IN_FLIGHT.value, None): amount}
    if status == PayoutStatus.PAID:
        return {available: -amount, (AccountKind.PAYOUTS.value, None): amount}
    return {}  # failed: the amount went back where it came from


def _holder_name(holder: _Holder) -> str:
    kind, owner = holder
    name = kind.replace("_", " ")
    return f"{name} of user {owner}" if owner is not None else name


async def payouts_and_their_postings(session: AsyncSession) -> list[str]:
    """Each payout's postings (payout, payout_paid, payout_failed) net to where its status
    says its money is; payout postings without a payout are named."""
    problems: list[str] = []
    stmt = select(Payout.id, Payout.user_id, Payout.amount_minor, Payout.currency, Payout.status)
    async for batch in keyset_batches(session, stmt, Payout.id):
        nets = await _payout_nets(session, [str(row.id) for row in batch])
        for row in batch:
            found = nets.get(str(row.id), ({}, set()))
            problems += _payout_problems(row, *found)
    stray = await session.execute(
        select(LedgerPosting.id, LedgerPosting.kind, LedgerPosting.reference)
        .outerjoin(Payout, cast(Payout.id, String) == LedgerPosting.reference)
        .where(LedgerPosting.kind.in_(PAYOUT_KINDS), Payout.id.is_(None))
        .order_by(LedgerPosting.created_at, LedgerPosting.id)
    )
    problems += [f"{posting_name(pid, kind, ref)} belongs to no payout" for pid, kind, ref in stray]
    return problems


async def _payout_nets(
    session: AsyncSession, references: Sequence[str]
) -> dict[str, tuple[dict[_Holder, int], set[str]]]:
    rows = await session.execute(
        select(
            LedgerPosting.reference,
            LedgerAccount.kind,
            LedgerAccount.owner_id,
            LedgerAccount.currency,
            func.sum(LedgerEntry.amount_minor),
        )
        .join(LedgerEntry, LedgerEntry.posting_id == LedgerPosting.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerPosting.kind.in_(PAYOUT_KINDS), LedgerPosting.reference.in_(references))
        .group_by(
            LedgerPosting.reference,
            LedgerAccount.kind,
            LedgerAccount.owner_id,
            LedgerAccount.currency,
        )
    )
    nets: dict[str, tuple[dict[_Holder, int], set[str]]] = {}
    for reference, kind, owner_id, currency, amount in rows:
        holders, currencies = nets.setdefault(reference, ({}, set()))
        holder: _Holder = (kind, owner_id)
        holders[holder] = holders.get(holder, 0) + int(amount)
        currencies.add(currency)
    return nets


def _payout_problems(row: Any, net: dict[_Holder, int], currencies: set[str]) -> list[str]:
    name = (
        f"payout {row.id} ({row.status}, {row.amount_minor} {row.currency} to user {row.user_id})"
    )
    problems = []
    if currencies - {row.currency}:
        others = ", ".join(sorted(currencies - {row.currency}))
        problems.append(f"{name}: its postings have entries in {others}")
    expected = _expected_payout(row.status, row.user_id, row.amount_minor)
    holders = {h for h, v in expected.items() if v} | {h for h, v in net.items() if v}
    for holder in sorted(holders, key=lambda h: (h[0], str(h[1]))):
        want, got = expected.get(holder, 0), net.get(holder, 0)
        if want != got:
            problems.append(
                f"{name}: its postings put {got} on {_holder_name(holder)}, expected {want}"
            )
    return problems


async def payouts_in_flight(session: AsyncSession) -> list[str]:
    """The payouts-in-flight account holds exactly the pending payouts (per currency)."""
    on_ledger = dict(
        (
            await session.execute(
                select(LedgerAccount.currency, func.sum(LedgerEntry.amount_minor))
                .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
                .where(LedgerAccount.kind == AccountKind.PAYOUTS_IN_FLIGHT.value)
                .group_by(LedgerAccount.currency)
            )
        ).all()
    )
    pending = dict(
        (
            await session.execute(
                select(Payout.currency, func.sum(Payout.amount_minor))
                .where(Payout.status == PayoutStatus.PENDING.value)
                .group_by(Payout.currency)
            )
        ).all()
    )
    problems = []
    for currency in sorted(set(on_ledger) | set(pending)):
        ledger_total = int(on_ledger.get(currency) or 0)
        pending_total = int(pending.get(currency) or 0)
        if ledger_total != pending_total:
            problems.append(
                f"payouts in flight on the ledger come to {ledger_total} {currency}, but the "
                f"pending payouts to {pending_total} {currency}"
            )
    return problems
