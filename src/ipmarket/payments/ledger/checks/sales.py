"""Checks of settled sales and license fees against their `sale` postings."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, String, and_, cast, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.payments.ledger.checks.common import (
    USER,
    USER_KINDS,
    Party,
    keyset_batches,
    party_name,
    posting_name,
)
from ipmarket.payments.ledger.postings import SALE
from ipmarket.payments.models import (
    SALE_TYPES,
    SETTLED_STATUSES,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    Transaction,
)


@dataclass(frozen=True)
class _SalePosting:
    posting_id: uuid.UUID
    amounts: dict[Party, int]
    currencies: frozenset[str]


async def check_sales(session: AsyncSession) -> list[str]:
    """Each settled sale or license fee, a batch at a time (keyset on the primary key)."""
    columns = (
        Transaction.created_at,
        Transaction.id,
        Transaction.transaction_type,
        Transaction.amount_minor,
        Transaction.platform_fee_minor,
        Transaction.seller_amount_minor,
        Transaction.refunded_minor,
        Transaction.revenue_shares,
        Transaction.seller_id,
        Transaction.currency,
    )
    problems: list[str] = []
    stmt = select(*columns).where(
        Transaction.transaction_type.in_(SALE_TYPES),
        Transaction.status.in_(SETTLED_STATUSES),
    )
    async for batch in keyset_batches(session, stmt, Transaction.created_at, Transaction.id):
        postings = await _sale_postings(session, [str(row.id) for row in batch])
        for row in batch:
            problems += _sale_problems(row, postings.get(str(row.id)))
    return problems


async def _sale_postings(
    session: AsyncSession, references: Sequence[str]
) -> dict[str, _SalePosting]:
    rows = await session.execute(
        select(
            LedgerPosting.reference,
            LedgerPosting.id,
            LedgerAccount.kind,
            LedgerAccount.owner_id,
            LedgerAccount.currency,
            func.sum(LedgerEntry.amount_minor),
        )
        .outerjoin(LedgerEntry, LedgerEntry.posting_id == LedgerPosting.id)
        .outerjoin(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerPosting.kind == SALE, LedgerPosting.reference.in_(references))
        .group_by(
            LedgerPosting.reference,
            LedgerPosting.id,
            LedgerAccount.kind,
            LedgerAccount.owner_id,
            LedgerAccount.currency,
        )
    )
    ids: dict[str, uuid.UUID] = {}
    amounts: dict[str, dict[Party, int]] = defaultdict(lambda: defaultdict(int))
    currencies: dict[str, set[str]] = defaultdict(set)
    for reference, posting_id, kind, owner_id, currency, amount in rows:
        ids[reference] = posting_id
        if kind is None:  # a posting without entries
            continue
        party: Party = (USER, owner_id) if kind in USER_KINDS else (kind, None)
        amounts[reference][party] += int(amount)
        currencies[reference].add(currency)
    return {
        reference: _SalePosting(
            posting_id, dict(amounts[reference]), frozenset(currencies[reference])
        )
        for reference, posting_id in ids.items()
    }


def _shares(raw: Any) -> tuple[list[tuple[uuid.UUID, int]], list[str]]:
    """(recipient, amount) of each revenue share as stored, and what is wrong with them."""
    if not isinstance(raw, list):
        return [], ["its revenue shares are not a list"]
    shares: list[tuple[uuid.UUID, int]] = []
    problems: list[str] = []
    for index, share in enumerate(raw):
        amount = share.get("amountMinor") if isinstance(share, dict) else None
        recipient = share.get("recipientId") if isinstance(share, dict) else None
        try:
            recipient_id = uuid.UUID(str(recipient))
        except ValueError:
            problems.append(f"revenue share #{index + 1} has no valid recipientId")
            continue
        if isinstance(amount, bool) or not isinstance(amount, int):
            problems.append(f"revenue share #{index + 1} has no integer amountMinor")
            continue
        if amount < 0:
            problems.append(f"revenue share #{index + 1} is negative ({amount})")
        shares.append((recipient_id, amount))
    return shares, problems


def _sale_problems(row: Row[Any], posting: _SalePosting | None) -> list[str]:
    name = f"transaction {row.id} ({row.transaction_type})"
    shares, problems = _shares(row.revenue_shares)
    amount, fee, seller = row.amount_minor, row.platform_fee_minor, row.seller_amount_minor
    if fee < 0:
        problems.append(f"its platform fee is negative ({fee})")
    if seller < 0:
        problems.append(f"its seller's amount is negative ({seller})")
    shared = sum(share for _, share in shares)
    if not problems and fee + shared + seller != amount:
        problems.append(
            f"platform fee {fee} + revenue shares {shared} + seller's amount {seller} "
            f"= {fee + shared + seller}, not the amount {amount}"
        )
    if not 0 <= row.refunded_minor <= amount:
        problems.append(f"refunded {row.refunded_minor} of an amount of {amount}")
    if posting is None:
        problems.append(f"has no {SALE} posting")
    elif not problems:
        expected: dict[Party, int] = defaultdict(int)
        expected[(AccountKind.PROVIDER_CLEARING.value, None)] -= amount
        expected[(AccountKind.PLATFORM_REVENUE.value, None)] += fee
        expected[(USER, row.seller_id)] += seller
        for recipient_id, share in shares:
            expected[(USER, recipient_id)] += share
        where = f"its {SALE} posting {posting.posting_id}"
        if posting.currencies - {row.currency}:
            others = ", ".join(sorted(posting.currencies - {row.currency}))
            problems.append(f"{where} has entries in {others}, the sale is in {row.currency}")
        parties = {p for p, v in expected.items() if v} | {
            p for p, v in posting.amounts.items() if v
        }
        for party in sorted(parties, key=lambda p: (p[0], str(p[1]))):
            want, got = expected.get(party, 0), posting.amounts.get(party, 0)
            if want != got:
                problems.append(f"{where} moves {got} for {party_name(party)}, expected {want}")
    return [f"{name}: {problem}" for problem in problems]


async def stray_sale_postings(session: AsyncSession) -> list[str]:
    """`sale` postings without a settled sale or license fee behind them."""
    rows = await session.execute(
        select(
            LedgerPosting.id,
            LedgerPosting.reference,
            Transaction.id,
            Transaction.transaction_type,
            Transaction.status,
        )
        .outerjoin(Transaction, cast(Transaction.id, String) == LedgerPosting.reference)
        .where(
            LedgerPosting.kind == SALE,
            or_(
                Transaction.id.is_(None),
                not_(
                    and_(
                        Transaction.transaction_type.in_(SALE_TYPES),
                        Transaction.status.in_(SETTLED_STATUSES),
                    )
                ),
            ),
        )
        .order_by(LedgerPosting.created_at, LedgerPosting.id)
    )
    problems = []
    for posting_id, reference, transaction_id, transaction_type, status in rows:
        name = posting_name(posting_id, SALE, reference)
        if transaction_id is None:
            problems.append(f"{name} belongs to no transaction")
        else:
            problems.append(
                f"{name} moves money for transaction {transaction_id}, a {transaction_type} "
                f"that is {status}"
            )
    return problems
