"""Checks of refunds against their transactions and their postings."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.payments.ledger.checks.common import (
    USER,
    USER_KINDS,
    Party,
    keyset_batches,
    parties,
    party_name,
    posting_name,
    transactions_by_id,
)
from ipmarket.payments.ledger.postings import REFUND, REFUND_FAILED
from ipmarket.payments.ledger.splits import Split, add_splits, split_refund
from ipmarket.payments.models import (
    SETTLED_STATUSES,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    Refund,
    RefundStatus,
    Transaction,
)


async def refunded_amounts(session: AsyncSession) -> list[str]:
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


async def check_refunds(session: AsyncSession) -> list[str]:
    """Each refund's postings, a batch of refunded transactions at a time; then the
    `refund_failed` postings without a refund."""
    problems: list[str] = []
    refunded = select(Refund.transaction_id).distinct()
    async for batch in keyset_batches(session, refunded, Refund.transaction_id):
        ids = [row.transaction_id for row in batch]
        transactions = await transactions_by_id(session, ids)
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
            if tx is not None:  # refunds without a transaction: named by refunded_amounts
                problems += _refund_problems(tx, refunds[transaction_id], nets)
    stray = await session.execute(
        select(LedgerPosting.id, LedgerPosting.kind, LedgerPosting.reference)
        .outerjoin(Refund, cast(Refund.id, String) == LedgerPosting.reference)
        .where(LedgerPosting.kind == REFUND_FAILED, Refund.id.is_(None))
        .order_by(LedgerPosting.created_at, LedgerPosting.id)
    )
    problems += [f"{posting_name(pid, kind, ref)} belongs to no refund" for pid, kind, ref in stray]
    return problems


async def _refund_nets(
    session: AsyncSession, references: Sequence[str]
) -> dict[tuple[str, str], dict[Party, int]]:
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
    nets: dict[tuple[str, str], dict[Party, int]] = {}
    for posting_kind, reference, account_kind, owner_id, amount in rows:
        party: Party = (USER, owner_id) if account_kind in USER_KINDS else (account_kind, None)
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
    tx: Transaction, refunds: list[Refund], nets: dict[tuple[str, str], dict[Party, int]]
) -> list[str]:
    name = f"transaction {tx.id} ({tx.transaction_type})"
    try:
        original = Split.from_json(tx)
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
            expected: dict[Party, int] = defaultdict(int)
            expected[(AccountKind.PROVIDER_CLEARING.value, None)] += part.amount_minor
            expected[(AccountKind.PLATFORM_REVENUE.value, None)] -= part.platform_fee_minor
            for recipient_id, amount in part.parts_by_recipient(tx.seller_id).items():
                expected[(USER, recipient_id)] -= amount
            for party in parties(expected, posted):
                want, got = expected.get(party, 0), posted.get(party, 0)
                if want != got:
                    problems.append(
                        f"{what}: its {REFUND} posting moves {got} for {party_name(party)}, "
                        f"expected {want}"
                    )
        if refund.status == RefundStatus.FAILED:
            if reversed_ is None:
                problems.append(f"{what} has no {REFUND_FAILED} posting")
            elif posted is not None:
                for party in parties(posted, reversed_):
                    undone = posted.get(party, 0) + reversed_.get(party, 0)
                    if undone:
                        problems.append(
                            f"{what}: its {REFUND_FAILED} posting leaves {undone} moved for "
                            f"{party_name(party)}"
                        )
        elif reversed_ is not None:
            problems.append(f"{what} has a {REFUND_FAILED} posting")
    return problems
