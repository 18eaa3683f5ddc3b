"""Checks of transfers to connected accounts and their reversals."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.payments.ledger.checks.common import (
    keyset_batches,
    transactions_by_id,
)
from ipmarket.payments.ledger.splits import Split, split_refunds
from ipmarket.payments.models import (
    SALE_TYPES,
    SETTLED_STATUSES,
    Refund,
    RefundStatus,
    Transaction,
    Transfer,
    TransferReversal,
)


async def check_transfers(session: AsyncSession) -> list[str]:
    """Each transaction's transfers and their reversals, a batch of transactions at a time."""
    problems: list[str] = []
    transferred = select(Transfer.transaction_id).distinct()
    async for batch in keyset_batches(session, transferred, Transfer.transaction_id):
        ids = [row.transaction_id for row in batch]
        transactions = await transactions_by_id(session, ids)
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
    return problems


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
        original = Split.from_json(tx)
        parts = original.parts_by_recipient(tx.seller_id)
    except (KeyError, TypeError, ValueError):
        return []  # its revenue shares are malformed: named by the sales' check
    problems: list[str] = []
    refunded_by: dict[uuid.UUID, dict[uuid.UUID, int]] = {}
    given_back = split_refunds(original, [amount for _, amount in refunds])
    try:
        for (refund_id, _), split in zip(refunds, given_back, strict=False):
            refunded_by[refund_id] = split.parts_by_recipient(tx.seller_id)
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
