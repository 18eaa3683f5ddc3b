"""How a payment ends, whoever learnt of it (the paying request, a retry, a webhook, the
expiry job, a license decision): completed and posted to the ledger, failed with its stock
back, expired, or a late payment given back. Flushes, never commits."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit
from ipmarket.eventbus import publish
from ipmarket.kit.clock import utcnow
from ipmarket.payments import ledger
from ipmarket.payments.checkout.repository import TransactionRepository
from ipmarket.payments.events import (
    PaymentCompleted,
    PaymentFailedEvent,
    ProductPurchased,
)
from ipmarket.payments.ledger.splits import Split
from ipmarket.payments.models import (
    Transaction,
    TransactionStatus,
    TransactionType,
)
from ipmarket.payments.policy import (
    AMOUNT_MISMATCH,
    RESERVATION_EXPIRED,
)
from ipmarket.payments.providers import (
    IntentStatus,
    PaymentProvider,
    ProviderError,
    call_provider,
    get_provider,
)
from ipmarket.products import ProductRepository
from ipmarket.settings import get_platform_settings

log = structlog.get_logger(__name__)


class Settlement:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider or get_provider()
        self.transactions = TransactionRepository(session)
        self.products = ProductRepository(session)

    async def complete(self, tx: Transaction) -> None:
        """The payment went through: post the split to the ledger, earnings pending for the
        hold period, and announce it."""
        now = utcnow()
        platform = await get_platform_settings(self.session)
        hold = timedelta(days=platform.payments.payout_hold_days)
        available_at = now + hold
        split = Split.from_json(tx)
        currency = tx.currency
        lines = [ledger.Line(ledger.provider_clearing(currency), -tx.amount_minor)]
        if split.platform_fee_minor:
            lines.append(ledger.Line(ledger.platform_revenue(currency), split.platform_fee_minor))
        parts = [(s.recipient_id, s.amount_minor) for s in split.shares]
        parts.append((tx.seller_id, split.seller_amount_minor))
        for user_id, amount in parts:
            if amount == 0:
                continue
            if hold:
                pending = ledger.user_pending(user_id, currency)
                lines.append(ledger.Line(pending, amount, available_at))
            else:
                lines.append(ledger.Line(ledger.user_available(user_id, currency), amount))
        posted = await ledger.post(
            self.session,
            kind=ledger.SALE,
            reference=str(tx.id),
            lines=lines,
            transaction_id=tx.id,
            memo=f"{tx.transaction_type} {tx.id}",
        )
        if not posted:
            # Its sale is on the books already: completed before, announced then.
            log.warning("payments.completed_already", transaction_id=str(tx.id))
            return
        tx.status = TransactionStatus.COMPLETED.value
        tx.processed_at = now
        tx.expires_at = None
        tx.failure_reason = None
        tx.updated_at = now
        if tx.product_id is not None:
            await publish(
                self.session,
                ProductPurchased(
                    transaction_id=tx.id,
                    product_id=tx.product_id,
                    buyer_id=tx.buyer_id,
                    seller_id=tx.seller_id,
                    quantity=tx.quantity,
                    amount_minor=tx.amount_minor,
                    currency=tx.currency,
                ),
            )
        await publish(
            self.session,
            PaymentCompleted(
                transaction_id=tx.id,
                transaction_type=tx.transaction_type,
                buyer_id=tx.buyer_id,
                seller_id=tx.seller_id,
                amount_minor=tx.amount_minor,
                platform_fee_minor=tx.platform_fee_minor,
                currency=tx.currency,
                payment_reference=tx.payment_reference,
            ),
        )

    async def intent_paid(self, tx: Transaction, received_minor: int, currency: str) -> None:
        """The provider took `received_minor` for `tx` (locked). The one place that decides
        what a payment means, whoever learnt of it (the paying request, a retry, a webhook,
        the expiry job): a pending sale settles; a sale that had ended unpaid gets the money
        back; a sale completed or refunded already (by whoever learnt of it first) is left
        as it is."""
        if tx.status == TransactionStatus.PENDING:
            await self.settle_paid(tx, received_minor, currency)
        elif tx.status == TransactionStatus.FAILED and tx.failure_reason != AMOUNT_MISMATCH:
            # Paid after the sale had ended (expired, declined, no longer authorised).
            await self.refund_late_payment(tx, received_minor)

    async def settle_paid(self, tx: Transaction, received_minor: int, currency: str) -> None:
        """The provider took the money for a pending `tx` (locked): complete it, unless the
        sum is not what was asked (never expected from our own intents): then the money goes
        back and the sale fails."""
        if received_minor == tx.amount_minor and currency.upper() == tx.currency.upper():
            await self.complete(tx)
            return
        log.error(
            "payments.amount_mismatch",
            transaction_id=str(tx.id),
            expected=tx.amount_minor,
            expected_currency=tx.currency,
            received=received_minor,
            received_currency=currency,
        )
        await self.fail(tx, reason=AMOUNT_MISMATCH)
        await self.refund_late_payment(tx, received_minor)

    async def refund_late_payment(self, tx: Transaction, amount_minor: int | None = None) -> None:
        """Give back a payment that arrived after its sale had ended (failed or expired):
        nothing was sold, so the buyer is refunded in full. Raises ProviderUnavailable when
        the provider cannot be reached, so the caller (a webhook) is retried."""
        assert tx.payment_reference is not None
        refund_id = await call_provider(
            self.provider.refund(
                tx.payment_reference,
                amount_minor=amount_minor if amount_minor is not None else tx.amount_minor,
                idempotency_key=f"{tx.id}:late-refund",
            ),
            "refund",
        )
        log.warning(
            "payments.late_payment_refunded",
            transaction_id=str(tx.id),
            status=tx.status,
            refund=refund_id,
        )
        await audit.record(
            self.session,
            actor_id=None,
            action="transaction.late_payment_refunded",
            resource_type="transaction",
            resource_id=tx.id,
            new_values={"status": tx.status, "providerRefund": refund_id},
        )

    async def fail(self, tx: Transaction, *, reason: str) -> None:
        """The payment will not happen: mark it failed and put its stock back on sale."""
        now = utcnow()
        tx.status = TransactionStatus.FAILED.value
        tx.failure_reason = reason
        tx.processed_at = now
        tx.expires_at = None
        tx.updated_at = now
        if tx.transaction_type == TransactionType.PRODUCT_SALE and tx.product_id is not None:
            await self.products.return_stock(tx.product_id, tx.quantity, now=now)
        await publish(
            self.session,
            PaymentFailedEvent(
                transaction_id=tx.id,
                transaction_type=tx.transaction_type,
                buyer_id=tx.buyer_id,
                amount_minor=tx.amount_minor,
                currency=tx.currency,
                reason=reason,
            ),
        )
        await self.session.flush()

    async def expire(self, tx: Transaction) -> bool:
        """End a pending purchase whose reservation is over: cancelled at the provider and
        failed with its stock back, unless the provider says it was paid (then it completes).
        False when the provider could not be asked (the next run tries again)."""
        if tx.payment_reference is not None:
            try:
                intent = await self.provider.retrieve_intent(tx.payment_reference)
                if intent.status == IntentStatus.SUCCEEDED:
                    await self.intent_paid(tx, intent.amount_captured_minor, intent.currency)
                    return True
                if intent.status != IntentStatus.CANCELED:
                    await self.provider.cancel(
                        tx.payment_reference, idempotency_key=f"{tx.id}:cancel"
                    )
            except ProviderError as exc:
                log.warning("payments.expire_deferred", transaction_id=str(tx.id), error=str(exc))
                return False
        await self.fail(tx, reason=RESERVATION_EXPIRED)
        return True

    async def void(self, tx: Transaction) -> None:
        """Cancel the transaction's open intent at the provider (best effort): nobody can
        pay it after we gave up on it."""
        if tx.payment_reference is None:
            return
        try:
            await self.provider.cancel(tx.payment_reference, idempotency_key=f"{tx.id}:cancel")
        except ProviderError as exc:
            log.warning("payments.cancel_failed", transaction_id=str(tx.id), error=str(exc))

    # --- outcomes -----------------------------------------------------------------------------
