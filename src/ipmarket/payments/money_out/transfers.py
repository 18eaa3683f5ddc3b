"""Separate charges and transfers: each recipient's part of a sale goes to their connected
account, and refunds take it back.

When a sale or a license fee completes (`payment.completed`), every recipient of a part of
it (the seller's amount, each revenue share; never the platform's fee) gets one transfer of
their parts, in the transaction's transfer group (its id), under the idempotency key
`transfer:{transaction}:{recipient}`. When a refund is processed (`refund.processed`), each
recipient's transfer is reversed by their part of that refund, the same parts as the
refund's ledger posting (`splits.split_refund` over the transaction's refunds in order),
under `reversal:{refund}:{recipient}`.

Both run as event consumers (`payments.consumers`) after the request committed, each
delivery in the consumer's own transaction: a transfer or reversal row is written with the
provider's id in the same transaction as the record of the delivery. A delivery that fails
after the provider moved money is retried under the same idempotency keys, so the provider
moves it once; the rows (one transfer per transaction and recipient, one reversal per
transfer and refund) make a replayed event move nothing more.

A refund whose transfers were not made yet (its `payment.completed` delivery is late) makes
them first: transfers are always of the full parts, reversals take the refunds back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.payments.checkout.repository import TransactionRepository
from ipmarket.payments.ledger.splits import Split, split_refunds
from ipmarket.payments.models import (
    SALE_TYPES,
    SETTLED_STATUSES,
    Refund,
    Transaction,
    Transfer,
)
from ipmarket.payments.money_out.accounts import connected_account
from ipmarket.payments.money_out.repository import MoneyOutRepository
from ipmarket.payments.providers import PaymentProvider, get_provider
from ipmarket.payments.refunds.repository import RefundRepository

log = structlog.get_logger(__name__)


def transfer_key(transaction_id: uuid.UUID, recipient_id: uuid.UUID) -> str:
    return f"transfer:{transaction_id}:{recipient_id}"


def reversal_key(refund_id: uuid.UUID, recipient_id: uuid.UUID) -> str:
    return f"reversal:{refund_id}:{recipient_id}"


def refund_parts(
    original: Split, refunds: Sequence[tuple[uuid.UUID, int]], *, until: uuid.UUID
) -> Split:
    """The parts refund `until` gave back, given the transaction's refunds (id, amount) in
    the order they were made: the same computation as that refund's ledger posting."""
    ids = [refund_id for refund_id, _ in refunds]
    if until not in ids:
        raise ValueError(f"refund {until} is not one of the transaction's")
    *_, made = split_refunds(original, [amount for _, amount in refunds[: ids.index(until) + 1]])
    return made


class TransferService:
    """Transfers of a transaction's parts and their reversals. Flushes, never commits: the
    event delivery's transaction holds the rows."""

    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider or get_provider()
        self.transactions = TransactionRepository(session)
        self.refunds = RefundRepository(session)
        self.money_out = MoneyOutRepository(session)

    async def transfer_parts(self, transaction_id: uuid.UUID) -> dict[uuid.UUID, Transfer]:
        """Make the transfers of a settled sale's or license fee's parts that were not made
        yet; returns every transfer of the transaction, by recipient. Raises ProviderError
        (the delivery is retried) when the provider fails."""
        tx = await self.transactions.transaction(transaction_id)
        if tx is None:
            log.info("payments.transfer_skipped", transaction_id=str(transaction_id), status=None)
            return {}
        return await self._transfer_parts(tx)

    async def _transfer_parts(self, tx: Transaction) -> dict[uuid.UUID, Transfer]:
        if tx.transaction_type not in SALE_TYPES or tx.status not in SETTLED_STATUSES:
            log.info("payments.transfer_skipped", transaction_id=str(tx.id), status=tx.status)
            return {}
        made = {t.recipient_id: t for t in await self.money_out.transfers_of(tx.id)}
        wanted = Split.from_json(tx).parts_by_recipient(tx.seller_id)
        missing = sorted(set(wanted) - set(made))
        for recipient_id in missing:
            await self._transfer(tx, recipient_id, wanted[recipient_id])
        if missing:
            made = {t.recipient_id: t for t in await self.money_out.transfers_of(tx.id)}
        return made

    async def _transfer(self, tx: Transaction, recipient_id: uuid.UUID, amount: int) -> None:
        destination = await connected_account(self.session, self.provider, recipient_id)
        reference = await self.provider.transfer(
            destination=destination,
            amount_minor=amount,
            currency=tx.currency,
            transfer_group=str(tx.id),
            idempotency_key=transfer_key(tx.id, recipient_id),
            source_payment=tx.payment_reference,
        )
        recorded = await self.money_out.add_transfer(
            transaction_id=tx.id,
            recipient_id=recipient_id,
            amount_minor=amount,
            currency=tx.currency,
            destination=destination,
            provider_reference=reference,
            now=utcnow(),
        )
        log.info(
            "payments.transferred",
            transaction_id=str(tx.id),
            recipient_id=str(recipient_id),
            amount_minor=amount,
            transfer=reference,
            recorded=recorded,
        )

    async def reverse_for_refund(self, refund_id: uuid.UUID) -> None:
        """Take each recipient's part of a refund back from their transfer (once per refund
        and recipient)."""
        refund = await self.session.get(Refund, refund_id)
        if refund is None:
            log.warning("payments.reversal_skipped", refund_id=str(refund_id), reason="no refund")
            return
        tx = await self.transactions.transaction(refund.transaction_id)
        assert tx is not None  # a refund belongs to a transaction
        transfers = await self._transfer_parts(tx)
        refunds = [(r.id, r.amount_minor) for r in await self.refunds.refunds_of(tx.id)]
        part = refund_parts(Split.from_json(tx), refunds, until=refund_id)
        done = {r.transfer_id for r in await self.money_out.reversals_of_refund(refund_id)}
        for recipient_id, amount in sorted(part.parts_by_recipient(tx.seller_id).items()):
            transfer = transfers.get(recipient_id)
            if transfer is None:
                # The refund gives back a part of someone the sale did not pay: a bug.
                raise RuntimeError(
                    f"refund {refund_id} gives back {amount} of user {recipient_id}, who has "
                    f"no transfer of transaction {tx.id}"
                )
            if transfer.id in done:
                continue
            reference = await self.provider.reverse_transfer(
                transfer.provider_reference,
                amount_minor=amount,
                idempotency_key=reversal_key(refund_id, recipient_id),
            )
            await self.money_out.add_reversal(
                transfer,
                refund_id=refund_id,
                amount_minor=amount,
                provider_reference=reference,
                now=utcnow(),
            )
            log.info(
                "payments.transfer_reversed",
                refund_id=str(refund_id),
                recipient_id=str(recipient_id),
                amount_minor=amount,
                reversal=reference,
            )


# --- event consumers --------------------------------------------------------------------------
