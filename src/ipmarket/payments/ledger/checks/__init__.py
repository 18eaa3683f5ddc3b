"""The ledger's invariants, verified over the whole database (`ipmarket ledger check`).

Each check answers with human-readable discrepancies naming the posting, transaction or
user concerned; an empty list means the ledger is sound:

- every posting balances: its entries sum to zero (in each currency);
- every posting has at least two entries;
- every completed or refunded sale or license fee splits exactly (platform fee + revenue
  shares + seller's amount = amount, no part negative), has refunded no more than its
  amount, and has its `sale` posting (reference: the transaction id) whose entries are
  those parts: provider clearing -amount, platform revenue +fee, each user (pending or
  available) their share and, for the seller, the seller's amount;
- every `sale` posting belongs to such a transaction;
- no user has been paid out more than they earned: at each payout, their payouts so far do
  not exceed the net of what they were credited so far (sales and fees, less refunds). A
  refund after a payout may still take a balance below zero, as §7 allows;
- every refund and its postings agree: its transaction's refunded amount is the sum of its
  refunds that did not fail; every refund has its `refund` posting, which gives back exactly
  the refund's parts (the provider +amount, the platform its fee's part, each user theirs:
  the split of the refund after the earlier refunds that did not fail); a failed refund has
  its `refund_failed` posting, which undoes the `refund` posting for every party, and a
  pending or succeeded one has none; no `refund_failed` posting lacks its refund;
- every payout and its postings agree: a pending payout's amount is in flight (taken from
  the user's available balance), a paid one's is on the payouts account, a failed one's
  (refused, or paid and returned by the bank) is back in the user's available balance; no
  payout posting lacks its payout; and the payouts in flight on the ledger are exactly the
  pending payouts;
- every transfer to a connected account belongs to a settled sale or license fee and moves
  no more than its recipient's part of it (their revenue shares, and the seller's amount);
  its reversed amount is the sum of its reversals, each exactly the recipient's part of a
  succeeded refund (pending and failed refunds reverse nothing);
- a transaction's status agrees with its refunds: `refunded` exactly when all of it was
  refunded;
- no payout or refund has waited on the provider for more than a day: past that the provider
  may have forgotten its idempotency key, so the jobs stop retrying it and a person must see
  how it stands at the provider;
- all accounts together sum to zero (in each currency).

A payout posting is one with an entry on the payouts or payouts-in-flight account. The checks
only read; run them in a REPEATABLE READ transaction so that they see one snapshot while
others write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.payments.ledger.checks.payouts import (
    payouts_and_their_postings,
    payouts_beyond_earnings,
    payouts_in_flight,
)
from ipmarket.payments.ledger.checks.postings import (
    ledger_total,
    thin_postings,
    unbalanced_postings,
)
from ipmarket.payments.ledger.checks.refunds import check_refunds, refunded_amounts
from ipmarket.payments.ledger.checks.sales import check_sales, stray_sale_postings
from ipmarket.payments.ledger.checks.transfers import check_transfers
from ipmarket.payments.models import (
    SETTLED_STATUSES,
    LedgerPosting,
    Payout,
    PayoutStatus,
    Refund,
    RefundStatus,
    Transaction,
    TransactionStatus,
)

# A payout or refund still pending after this long is stuck (see the module's docstring).
STUCK_AFTER = timedelta(days=1)


async def check_ledger(session: AsyncSession) -> list[str]:
    """Every discrepancy found in the ledger and the transactions; empty when all is well."""
    problems: list[str] = []
    problems += await unbalanced_postings(session)
    problems += await thin_postings(session)
    problems += await check_sales(session)
    problems += await stray_sale_postings(session)
    problems += await refunded_amounts(session)
    problems += await check_refunds(session)
    problems += await payouts_beyond_earnings(session)
    problems += await payouts_and_their_postings(session)
    problems += await payouts_in_flight(session)
    problems += await check_transfers(session)
    problems += await _statuses(session)
    problems += await _stuck_with_the_provider(session)
    problems += await ledger_total(session)
    return problems


async def _statuses(session: AsyncSession) -> list[str]:
    # Refunded means refunds that went through (not pending ones) gave all of it back.
    made = (
        select(Refund.transaction_id, func.sum(Refund.amount_minor).label("amount"))
        .where(Refund.status == RefundStatus.SUCCEEDED.value)
        .group_by(Refund.transaction_id)
        .subquery()
    )
    rows = await session.execute(
        select(Transaction.id, Transaction.status, Transaction.amount_minor)
        .outerjoin(made, made.c.transaction_id == Transaction.id)
        .where(
            Transaction.status.in_(SETTLED_STATUSES),
            (Transaction.status == TransactionStatus.REFUNDED.value)
            != (func.coalesce(made.c.amount, 0) == Transaction.amount_minor),
        )
    )
    return [
        f"transaction {tx_id} is {status}, yet "
        + (
            "not all of it was refunded"
            if status == TransactionStatus.REFUNDED.value
            else f"all {amount} of it was refunded"
        )
        for tx_id, status, amount in rows.all()
    ]


async def _stuck_with_the_provider(session: AsyncSession) -> list[str]:
    before = utcnow() - STUCK_AFTER
    payouts = await session.execute(
        select(Payout.id, Payout.user_id, Payout.created_at).where(
            Payout.status == PayoutStatus.PENDING.value, Payout.created_at < before
        )
    )
    refunds = await session.execute(
        select(Refund.id, Refund.transaction_id, Refund.created_at).where(
            Refund.status == RefundStatus.PENDING.value, Refund.created_at < before
        )
    )
    return [
        f"payout {payout_id} to user {user_id} has been pending since {created:%Y-%m-%d %H:%M} "
        "UTC: check it at the provider"
        for payout_id, user_id, created in payouts.all()
    ] + [
        f"refund {refund_id} of transaction {tx_id} has been pending since "
        f"{created:%Y-%m-%d %H:%M} UTC: check it at the provider"
        for refund_id, tx_id, created in refunds.all()
    ]


@dataclass(frozen=True)
class LedgerSize:
    postings: int
    transactions: int


async def ledger_size(session: AsyncSession) -> LedgerSize:
    """How many postings and transactions there are (what `check_ledger` went through)."""
    postings = await session.scalar(select(func.count()).select_from(LedgerPosting))
    transactions = await session.scalar(select(func.count()).select_from(Transaction))
    return LedgerSize(postings=postings or 0, transactions=transactions or 0)


__all__ = ["STUCK_AFTER", "LedgerSize", "check_ledger", "ledger_size"]
