"""The payment provider's webhooks: each verified event is acted on once (its id recorded in
`provider_events`). What counts is the object as the provider has it now, not the numbers in
the event."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit
from ipmarket.kit.errors import (
    ValidationFailed,
)
from ipmarket.payments.checkout.repository import TransactionRepository
from ipmarket.payments.checkout.settlement import Settlement
from ipmarket.payments.models import (
    ProviderEvent,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from ipmarket.payments.money_out.payouts import PayoutService
from ipmarket.payments.providers import (
    IntentStatus,
    PaymentProvider,
    call_provider,
    get_provider,
)
from ipmarket.payments.refunds.repository import RefundRepository

log = structlog.get_logger(__name__)


class ProviderEventRepository:
    """The SQL of the webhook events seen."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, event_id: str, *, provider: str, event_type: str) -> bool:
        """Remember a webhook event; False if it was seen before."""
        inserted = await self.session.execute(
            insert(ProviderEvent)
            .values(id=event_id, provider=provider, event_type=event_type)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(ProviderEvent.id)
        )
        return inserted.scalar_one_or_none() is not None


class WebhookService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider or get_provider()
        self.transactions = TransactionRepository(session)
        self.events = ProviderEventRepository(session)
        self.settlement = Settlement(session, self.provider)

    async def take_provider_event(self, event: dict[str, Any], *, provider: str) -> bool:
        """Act on a verified provider event once; False for an event seen before."""
        event_id = event.get("id")
        event_type = event.get("type")
        if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
            raise ValidationFailed("The event has no id or type", status_code=400)
        if not await self.events.record(
            event_id[:255], provider=provider, event_type=event_type[:100]
        ):
            return False
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            log.info("payments.webhook_ignored", event_type=event_type, reason="no object")
            return True
        if event_type == "payment_intent.succeeded":
            await self._intent_succeeded(obj)
        elif event_type == "payment_intent.payment_failed":
            await self._intent_failed(obj)
        elif event_type == "payout.failed":
            await self._payout_failed(obj)
        elif event_type in ("refund.failed", "charge.refund.updated"):
            await self._refund_failed_later(obj)
        else:
            log.info("payments.webhook_ignored", event_type=event_type)
        return True

    async def _payout_failed(self, payout: dict[str, Any]) -> None:
        """A payout the provider made, returned by the bank: the money is the user's again."""
        code = payout.get("failure_code")
        message = payout.get("failure_message")
        reason = ": ".join(str(part) for part in (code, message) if part) or "payout_failed"
        returned = await PayoutService(self.session, self.provider).returned(
            payout["id"], reason=f"returned by the bank: {reason}"
        )
        if returned is None:
            log.info("payments.webhook_ignored", event_type="payout.failed", reason="not ours")

    async def _refund_failed_later(self, refund: dict[str, Any]) -> None:
        """A refund the provider accepted, then could not make (the buyer's card closed, say):
        the money is back in the platform's balance, the buyer still waits for it, and the
        parts were taken back from the recipients. Which way to pay the buyer is a person's
        call: the refund is flagged in the audit trail, and no money moves here."""
        if refund.get("status") != "failed":
            return  # charge.refund.updated also tells of refunds that went through
        made = await RefundRepository(self.session).refund_by_reference(refund["id"])
        if made is None:
            log.info("payments.webhook_ignored", event_type="refund.failed", reason="not ours")
            return
        log.error(
            "payments.refund_failed_after_success",
            refund_id=str(made.id),
            transaction_id=str(made.transaction_id),
            failure_reason=refund.get("failure_reason"),
        )
        await audit.record(
            self.session,
            actor_id=None,
            action="refund.failed_at_provider",
            resource_type="refund",
            resource_id=made.id,
            new_values={
                "providerReference": refund["id"],
                "failureReason": str(refund.get("failure_reason") or "unknown")[:200],
                "status": made.status,
            },
        )

    async def _sale_of(self, intent: dict[str, Any]) -> Transaction | None:
        """The sale a webhook's intent pays, locked: by the intent's id, or by the
        transaction id in its metadata (the intent may be paid before its id was stored)."""
        tx = await self.transactions.by_reference(intent["id"], for_update=True)
        if tx is None:
            metadata = intent.get("metadata")
            wanted = metadata.get("transaction_id") if isinstance(metadata, dict) else None
            try:
                tx_id = uuid.UUID(str(wanted))
            except ValueError:
                return None
            tx = await self.transactions.transaction(tx_id, for_update=True)
            if tx is None or tx.payment_reference not in (None, intent["id"]):
                return None
            tx.payment_reference = intent["id"]
        if tx.transaction_type != TransactionType.PRODUCT_SALE:
            return None  # license fees are captured by their approval
        return tx

    async def _intent_succeeded(self, intent: dict[str, Any]) -> None:
        tx = await self._sale_of(intent)
        if tx is None:
            return  # not ours
        # The event tells that something happened; what counts is the intent as the provider
        # has it now (its status, the sum it took), not the numbers in the event.
        current = await call_provider(
            self.provider.retrieve_intent(intent["id"]), "retrieve_intent"
        )
        if current.status != IntentStatus.SUCCEEDED:
            log.warning("payments.webhook_not_paid", transaction_id=str(tx.id))
            return
        if tx.status == TransactionStatus.PENDING:
            method = intent.get("payment_method")
            if isinstance(method, str) and method:
                tx.payment_method = method[:50]
        await self.settlement.intent_paid(tx, current.amount_captured_minor, current.currency)

    async def _intent_failed(self, intent: dict[str, Any]) -> None:
        tx = await self._sale_of(intent)
        if (
            tx is None
            or tx.status != TransactionStatus.PENDING
            or tx.transaction_type != TransactionType.PRODUCT_SALE
        ):
            return
        current = await call_provider(
            self.provider.retrieve_intent(intent["id"]), "retrieve_intent"
        )
        if current.status == IntentStatus.SUCCEEDED:  # a later attempt paid: the event is stale
            await self.settlement.settle_paid(tx, current.amount_captured_minor, current.currency)
            return
        error = intent.get("last_payment_error")
        code = error.get("decline_code") or error.get("code") if isinstance(error, dict) else None
        await self.settlement.void(tx)
        await self.settlement.fail(tx, reason=f"declined: {code or 'payment_failed'}")
