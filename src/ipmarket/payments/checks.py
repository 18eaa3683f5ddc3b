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

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, String, and_, case, cast, func, not_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.payments.ledger import PAYOUT_KINDS, REFUND, REFUND_FAILED, SALE
from ipmarket.payments.models import (
    SALE_TYPES,
    SETTLED_STATUSES,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    Payout,
    PayoutStatus,
    Refund,
    RefundStatus,
    Transaction,
    TransactionStatus,
    Transfer,
    TransferReversal,
)
from ipmarket.payments.service import split_of
from ipmarket.payments.splits import Split, add_splits, split_refund, split_refunds
from ipmarket.payments.transfers import parts_by_recipient

USER_KINDS = (AccountKind.USER_PENDING.value, AccountKind.USER_AVAILABLE.value)

# Transactions read per round trip.
_BATCH = 1000
# A payout or refund still pending after this long is stuck (see the module's docstring).
STUCK_AFTER = timedelta(days=1)


async def check_ledger(session: AsyncSession) -> list[str]:
    """Every discrepancy found in the ledger and the transactions; empty when all is well."""
    problems: list[str] = []
    problems += await _unbalanced_postings(session)
    problems += await _thin_postings(session)
    problems += await _sales(session)
    problems += await _stray_sale_postings(session)
    problems += await _refunded_amounts(session)
    problems += await _refunds(session)
    problems += await _payouts_beyond_earnings(session)
    problems += await _payouts_and_their_postings(session)
    problems += await _payouts_in_flight(session)
    problems += await _transfers(session)
    problems += await _statuses(session)
    problems += await _stuck_with_the_provider(session)
    problems += await _ledger_total(session)
    return problems


async def _transactions_by_id(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Transaction]:
    rows = await session.execute(select(Transaction).where(Transaction.id.in_(ids)))
    return {tx.id: tx for tx in rows.scalars()}


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


# --- postings ---------------------------------------------------------------------------------


def _posting_name(posting_id: uuid.UUID, kind: str, reference: str) -> str:
    return f"posting {posting_id} ({kind} {reference})"


async def _unbalanced_postings(session: AsyncSession) -> list[str]:
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
        f"{_posting_name(pid, kind, ref)}: its {currency} entries sum to {int(amount)}, not to zero"
        for pid, kind, ref, currency, amount in rows
    ]


async def _thin_postings(session: AsyncSession) -> list[str]:
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
        f"{_posting_name(pid, kind, ref)} has {count} "
        f"{'entry' if count == 1 else 'entries'}; a posting has at least two"
        for pid, kind, ref, count in rows
    ]


async def _ledger_total(session: AsyncSession) -> list[str]:
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


# --- sales --------------------------------------------------------------------------------------

# Where a sale's money goes: an account kind, with the owner for users' accounts.
_Party = tuple[str, uuid.UUID | None]
_USER = "user"


def _party_name(party: _Party) -> str:
    kind, owner = party
    if kind == _USER:
        return f"user {owner}"
    return kind.replace("_", " ")


@dataclass(frozen=True)
class _SalePosting:
    posting_id: uuid.UUID
    amounts: dict[_Party, int]
    currencies: frozenset[str]


async def _sales(session: AsyncSession) -> list[str]:
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
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        stmt = select(*columns).where(
            Transaction.transaction_type.in_(SALE_TYPES),
            Transaction.status.in_(SETTLED_STATUSES),
        )
        if after is not None:
            stmt = stmt.where(tuple_(Transaction.created_at, Transaction.id) > tuple_(*after))
        batch = (
            await session.execute(
                stmt.order_by(Transaction.created_at, Transaction.id).limit(_BATCH)
            )
        ).all()
        if not batch:
            return problems
        postings = await _sale_postings(session, [str(row.id) for row in batch])
        for row in batch:
            problems += _sale_problems(row, postings.get(str(row.id)))
        after = (batch[-1].created_at, batch[-1].id)


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
    amounts: dict[str, dict[_Party, int]] = defaultdict(lambda: defaultdict(int))
    currencies: dict[str, set[str]] = defaultdict(set)
    for reference, posting_id, kind, owner_id, currency, amount in rows:
        ids[reference] = posting_id
        if kind is None:  # a posting without entries
            continue
        party: _Party = (_USER, owner_id) if kind in USER_KINDS else (kind, None)
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
        expected: dict[_Party, int] = defaultdict(int)
        expected[(AccountKind.PROVIDER_CLEARING.value, None)] -= amount
        expected[(AccountKind.PLATFORM_REVENUE.value, None)] += fee
        expected[(_USER, row.seller_id)] += seller
        for recipient_id, share in shares:
            expected[(_USER, recipient_id)] += share
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
                problems.append(f"{where} moves {got} for {_party_name(party)}, expected {want}")
    return [f"{name}: {problem}" for problem in problems]


async def _stray_sale_postings(session: AsyncSession) -> list[str]:
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
        name = _posting_name(posting_id, SALE, reference)
        if transaction_id is None:
            problems.append(f"{name} belongs to no transaction")
        else:
            problems.append(
                f"{name} moves money for transaction {transaction_id}, a {transaction_type} "
                f"that is {status}"
            )
    return problems


# --- refunds ------------------------------------------------------------------------------------


async def _refunded_amounts(session: AsyncSession) -> list[str]:
    """Each settled transaction's, or refunded one's, refunded amount is what its refunds
    that did not fail come to."""
    counted = func.coalesce(
        func.sum(Refund.amount_minor).filter(Refund.status != RefundStatus.FAILED.value), 0
    )
    refunded = select(Refund.transaction_id).scalar_subquery()
    rows = await session.execute(
        select(Transaction.id, Transaction.transaction_type, Transaction.refunded_minor, counted)
        .outerjoin(Refund, Refund.transaction_id == Transaction.id)
        .where(or_(Transaction.status.in_(SETTLED_STATUSES), Transaction.id.in_(refunded)))
        .group_by(Transaction.id, Transaction.transaction_type, Transaction.refunded_minor)
        .having(Transaction.refunded_minor != counted)
        .order_by(Transaction.id)
    )
    problems = [
        f"transaction {tx_id} ({kind}): counts {refunded_minor} refunded, its refunds that "
        f"did not fail come to {int(total)}"
        for tx_id, kind, refunded_minor, total in rows
    ]
    orphans = await session.execute(
        select(Refund.id, Refund.transaction_id)
        .outerjoin(Transaction, Transaction.id == Refund.transaction_id)
        .where(Transaction.id.is_(None))
        .order_by(Refund.id)
    )
    problems += [
        f"refund {refund_id} belongs to no transaction ({tx_id})" for refund_id, tx_id in orphans
    ]
    return problems


async def _refunds(session: AsyncSession) -> list[str]:
    """Each refund's postings, a batch of refunded transactions at a time; then the
    `refund_failed` postings without a refund."""
    problems: list[str] = []
    after: uuid.UUID | None = None
    while True:
        stmt = select(Refund.transaction_id).distinct()
        if after is not None:
            stmt = stmt.where(Refund.transaction_id > after)
        ids = list(
            (await session.execute(stmt.order_by(Refund.transaction_id).limit(_BATCH))).scalars()
        )
        if not ids:
            break
        transactions = await _transactions_by_id(session, ids)
        refunds: dict[uuid.UUID, list[Refund]] = defaultdict(list)
        for refund in (
            await session.execute(
                select(Refund)
                .where(Refund.transaction_id.in_(ids))
                .order_by(Refund.created_at, Refund.id)
            )
        ).scalars():
            refunds[refund.transaction_id].append(refund)
        references = [str(r.id) for made in refunds.values() for r in made]
        nets = await _refund_nets(session, references)
        for transaction_id in ids:
            tx = transactions.get(transaction_id)
            if tx is not None:  # refunds without a transaction: named by _refunded_amounts
                problems += _refund_problems(tx, refunds[transaction_id], nets)
        after = ids[-1]
    stray = await session.execute(
        select(LedgerPosting.id, LedgerPosting.kind, LedgerPosting.reference)
        .outerjoin(Refund, cast(Refund.id, String) == LedgerPosting.reference)
        .where(LedgerPosting.kind == REFUND_FAILED, Refund.id.is_(None))
        .order_by(LedgerPosting.created_at, LedgerPosting.id)
    )
    problems += [
        f"{_posting_name(pid, kind, ref)} belongs to no refund" for pid, kind, ref in stray
    ]
    return problems


async def _refund_nets(
    session: AsyncSession, references: Sequence[str]
) -> dict[tuple[str, str], dict[_Party, int]]:
    """What the `refund` and `refund_failed` postings of these refunds move, per party (a
    user's pending and available together: a reversal may give back to available what was
    taken from pending and released since), by (kind, reference)."""
    rows = await session.execute(
        select(
            LedgerPosting.kind,
            LedgerPosting.reference,
            LedgerAccount.kind,
            LedgerAccount.owner_id,
            func.sum(LedgerEntry.amount_minor),
        )
        .join(LedgerEntry, LedgerEntry.posting_id == LedgerPosting.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerPosting.kind.in_((REFUND, REFUND_FAILED)),
            LedgerPosting.reference.in_(references),
        )
        .group_by(
            LedgerPosting.kind, LedgerPosting.reference, LedgerAccount.kind, LedgerAccount.owner_id
        )
    )
    nets: dict[tuple[str, str], dict[_Party, int]] = {}
    for posting_kind, reference, account_kind, owner_id, amount in rows:
        party: _Party = (_USER, owner_id) if account_kind in USER_KINDS else (account_kind, None)
        moved = nets.setdefault((posting_kind, reference), defaultdict(int))
        moved[party] += int(amount)
    # Postings whose entries were all deleted still count as present (with nothing moved).
    present = await session.execute(
        select(LedgerPosting.kind, LedgerPosting.reference).where(
            LedgerPosting.kind.in_((REFUND, REFUND_FAILED)),
            LedgerPosting.reference.in_(references),
        )
    )
    for posting_kind, reference in present:
        nets.setdefault((posting_kind, reference), defaultdict(int))
    return nets


def _refund_problems(
    tx: Transaction, refunds: list[Refund], nets: dict[tuple[str, str], dict[_Party, int]]
) -> list[str]:
    name = f"transaction {tx.id} ({tx.transaction_type})"
    try:
        original = split_of(tx)
    except (KeyError, TypeError, ValueError):
        return []  # its revenue shares are malformed: named by the sales' check
    problems: list[str] = []
    already: Split | None = None  # the parts given back by the refunds that did not fail
    for refund in refunds:
        what = f"{name}: refund {refund.id} ({refund.status}, {refund.amount_minor})"
        try:
            part = split_refund(original, refund.amount_minor, already_refunded=already)
        except ValueError as exc:
            problems.append(f"{what} cannot be split ({exc})")
            break
        if refund.status != RefundStatus.FAILED:
            already = part if already is None else add_splits(already, part)
        posted = nets.get((REFUND, str(refund.id)))
        reversed_ = nets.get((REFUND_FAILED, str(refund.id)))
        if posted is None:
            problems.append(f"{what} has no {REFUND} posting")
        else:
            expected: dict[_Party, int] = defaultdict(int)
            expected[(AccountKind.PROVIDER_CLEARING.value, None)] += part.amount_minor
            expected[(AccountKind.PLATFORM_REVENUE.value, None)] -= part.platform_fee_minor
            for recipient_id, amount in parts_by_recipient(part, tx.seller_id).items():
                expected[(_USER, recipient_id)] -= amount
            for party in _parties(expected, posted):
                want, got = expected.get(party, 0), posted.get(party, 0)
                if want != got:
                    problems.append(
                        f"{what}: its {REFUND} posting moves {got} for {_party_name(party)}, "
                        f"expected {want}"
                    )
        if refund.status == RefundStatus.FAILED:
            if reversed_ is None:
                problems.append(f"{what} has no {REFUND_FAILED} posting")
            elif posted is not None:
                for party in _parties(posted, reversed_):
                    undone = posted.get(party, 0) + reversed_.get(party, 0)
                    if undone:
                        problems.append(
                            f"{what}: its {REFUND_FAILED} posting leaves {undone} moved for "
                            f"{_party_name(party)}"
                        )
        elif reversed_ is not None:
            problems.append(f"{what} has a {REFUND_FAILED} posting")
    return problems


def _parties(*moved: dict[_Party, int]) -> list[_Party]:
    """The parties any of `moved` moves money for, in a stable order."""
    found = {party for amounts in moved for party, amount in amounts.items() if amount}
    return sorted(found, key=lambda p: (p[0], str(p[1])))


# --- payouts ------------------------------------------------------------------------------------


async def _payouts_beyond_earnings(session: AsyncSession) -> list[str]:
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


async def _payouts_and_their_postings(session: AsyncSession) -> list[str]:
    """Each payout's postings (payout, payout_paid, payout_failed) net to where its status
    says its money is; payout postings without a payout are named."""
    problems: list[str] = []
    after: uuid.UUID | None = None
    while True:
        stmt = select(
            Payout.id, Payout.user_id, Payout.amount_minor, Payout.currency, Payout.status
        )
        if after is not None:
            stmt = stmt.where(Payout.id > after)
        batch = (await session.execute(stmt.order_by(Payout.id).limit(_BATCH))).all()
        if not batch:
            break
        nets = await _payout_nets(session, [str(row.id) for row in batch])
        for row in batch:
            found = nets.get(str(row.id), ({}, set()))
            problems += _payout_problems(row, *found)
        after = batch[-1].id
    stray = await session.execute(
        select(LedgerPosting.id, LedgerPosting.kind, LedgerPosting.reference)
        .outerjoin(Payout, cast(Payout.id, String) == LedgerPosting.reference)
        .where(LedgerPosting.kind.in_(PAYOUT_KINDS), Payout.id.is_(None))
        .order_by(LedgerPosting.created_at, LedgerPosting.id)
    )
    problems += [
        f"{_posting_name(pid, kind, ref)} belongs to no payout" for pid, kind, ref in stray
    ]
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


async def _payouts_in_flight(session: AsyncSession) -> list[str]:
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


# --- transfers ----------------------------------------------------------------------------------


async def _transfers(session: AsyncSession) -> list[str]:
    """Each transaction's transfers and their reversals, a batch of transactions at a time."""
    problems: list[str] = []
    after: uuid.UUID | None = None
    while True:
        stmt = select(Transfer.transaction_id).distinct()
        if after is not None:
            stmt = stmt.where(Transfer.transaction_id > after)
        ids = list(
            (await session.execute(stmt.order_by(Transfer.transaction_id).limit(_BATCH))).scalars()
        )
        if not ids:
            return problems
        transactions = await _transactions_by_id(session, ids)
        transfers: dict[uuid.UUID, list[Transfer]] = defaultdict(list)
        for transfer in (
            await session.execute(
                select(Transfer)
                .where(Transfer.transaction_id.in_(ids))
                .order_by(Transfer.created_at, Transfer.id)
            )
        ).scalars():
            transfers[transfer.transaction_id].append(transfer)
        reversals: dict[uuid.UUID, list[TransferReversal]] = defaultdict(list)
        for reversal in (
            await session.execute(
                select(TransferReversal)
                .join(Transfer, Transfer.id == TransferReversal.transfer_id)
                .where(Transfer.transaction_id.in_(ids))
            )
        ).scalars():
            reversals[reversal.transfer_id].append(reversal)
        refunds: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = defaultdict(list)
        for refund_id, transaction_id, amount in await session.execute(
            select(Refund.id, Refund.transaction_id, Refund.amount_minor)
            .where(Refund.transaction_id.in_(ids), Refund.status == RefundStatus.SUCCEEDED.value)
            .order_by(Refund.created_at, Refund.id)
        ):
            refunds[transaction_id].append((refund_id, amount))
        for transaction_id in ids:
            problems += _transfer_problems(
                transaction_id,
                transactions.get(transaction_id),
                transfers[transaction_id],
                reversals,
                refunds[transaction_id],
            )
        after = ids[-1]


def _transfer_problems(
    transaction_id: uuid.UUID,
    tx: Transaction | None,
    transfers: list[Transfer],
    reversals: dict[uuid.UUID, list[TransferReversal]],
    refunds: list[tuple[uuid.UUID, int]],
) -> list[str]:
    if tx is None:
        return [
            f"transfer {t.id} to user {t.recipient_id} belongs to no transaction ({transaction_id})"
            for t in transfers
        ]
    name = f"transaction {tx.id} ({tx.transaction_type})"
    if tx.transaction_type not in SALE_TYPES or tx.status not in SETTLED_STATUSES:
        return [f"{name} is {tx.status}, yet has {len(transfers)} transfer(s)"]
    try:
        original = split_of(tx)
        parts = parts_by_recipient(original, tx.seller_id)
    except (KeyError, TypeError, ValueError):
        return []  # its revenue shares are malformed: named by the sales' check
    problems: list[str] = []
    refunded_by: dict[uuid.UUID, dict[uuid.UUID, int]] = {}
    given_back = split_refunds(original, [amount for _, amount in refunds])
    try:
        for (refund_id, _), split in zip(refunds, given_back, strict=False):
            refunded_by[refund_id] = parts_by_recipient(split, tx.seller_id)
    except ValueError as exc:
        problems.append(f"{name}: its refunds cannot be split ({exc})")
    for transfer in transfers:
        what = f"{name}: transfer {transfer.id} to user {transfer.recipient_id}"
        part = parts.get(transfer.recipient_id, 0)
        if transfer.amount_minor > part:
            problems.append(f"{what} moves {transfer.amount_minor}, more than their part {part}")
        if transfer.currency != tx.currency:
            problems.append(f"{what} is in {transfer.currency}, the sale in {tx.currency}")
        made = reversals.get(transfer.id, [])
        total = sum(r.amount_minor for r in made)
        if total != transfer.reversed_minor:
            problems.append(
                f"{what} counts {transfer.reversed_minor} reversed, its reversals sum to {total}"
            )
        for reversal in made:
            due = refunded_by.get(reversal.refund_id, {}).get(transfer.recipient_id)
            if due is None and reversal.refund_id not in refunded_by:
                problems.append(
                    f"{what}: reversal {reversal.id} is for refund {reversal.refund_id}, not "
                    "one of the transaction's"
                )
            elif reversal.amount_minor != (due or 0):
                problems.append(
                    f"{what}: reversal {reversal.id} takes back {reversal.amount_minor}, their "
                    f"part of refund {reversal.refund_id} is {due or 0}"
                )
    return problems
