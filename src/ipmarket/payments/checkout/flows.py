"""The purchase flows: a purchase and its confirmation, each step in its own committed
`step` block, the payment itself committed at the edge with the request's Idempotency-Key.

A purchase runs in steps, each committed before the provider is called, so no database
lock is held while the provider works and no charge is made inside a transaction that could
still roll back:

  1. reserve: the chain is checked, the stock taken in one conditional UPDATE, and the
     pending transaction written; committed;
  2. the payment intent is created (provider key `{tx}:intent`) and its id stored;
     committed;
  3. with a payment method, the intent is confirmed (`{tx}:confirm`), then the transaction
     is settled under its row lock: completed, or failed with the stock back.

A step interrupted by a crash or a provider outage is finished by whoever comes next: the
same request retried (its transaction id derives from the Idempotency-Key, so the retry
continues it), the provider's webhook, or the reservation-expiry job.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import Principal
from ipmarket.kit.db import step
from ipmarket.payments.checkout.purchase import PurchaseService
from ipmarket.payments.errors import KEEP_ON_ERROR, ProviderUnavailable
from ipmarket.payments.models import Transaction, TransactionStatus
from ipmarket.payments.providers import PaymentProvider


async def purchase(
    session: AsyncSession,
    buyer: Principal,
    product_id: uuid.UUID,
    *,
    quantity: int,
    payment_method: str | None,
    transaction_id: uuid.UUID | None = None,
    provider: PaymentProvider | None = None,
) -> Transaction:
    """Reserve `quantity` units and open a payment for them; with `payment_method`, pay at
    once (completed, or PaymentDeclinedError with the stock released)."""
    checkout = PurchaseService(session, provider)
    async with step(session):
        tx = await checkout.reserve(
            buyer, product_id, quantity=quantity, transaction_id=transaction_id
        )
    if tx.status != TransactionStatus.PENDING:
        return checkout.settled(tx)  # an earlier attempt ended it: answer as it did then
    if tx.payment_reference is None:
        try:
            intent = await checkout.create_intent(tx)
        except ProviderUnavailable:
            # Nothing can have been paid: the request leaves no trace and may be retried.
            async with step(session):
                await checkout.unreserve(tx)
            raise
        async with step(session):
            await checkout.store_intent(tx, intent)
    if payment_method is None:
        return tx
    return await checkout.pay(tx, payment_method)


async def confirm(
    session: AsyncSession,
    buyer: Principal,
    transaction_id: uuid.UUID,
    payment_method: str,
    *,
    provider: PaymentProvider | None = None,
) -> Transaction:
    """Pay for a pending purchase of the caller's."""
    checkout = PurchaseService(session, provider)
    # An expired or no longer authorised purchase is ended, and that is kept.
    async with step(session, keep_on=KEEP_ON_ERROR):
        tx = await checkout.payable(buyer, transaction_id)
    if tx.status != TransactionStatus.PENDING:
        return tx  # its reservation was over, but it had been paid after all
    if tx.payment_reference is None:
        intent = await checkout.create_intent(tx)
        async with step(session):
            await checkout.store_intent(tx, intent)
    return await checkout.pay(tx, payment_method)
