"""The steps of a refund of a completed payment, in whole or in part (the flows in
`refunds.flows` run them, committing between them). Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit
from ipmarket.eventbus import publish
from ipmarket.identity import Permission, Principal
from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from ipmarket.kit.idempotency import is_continuation
from ipmarket.kit.ids import new_id
from ipmarket.kit.money import from_minor, to_minor
from ipmarket.payments import ledger
from ipmarket.payments.checkout.repository import TransactionRepository
from ipmarket.payments.events import (
    RefundProcessed,
)
from ipmarket.payments.ledger.splits import Split, split_refunds
from ipmarket.payments.models import (
    Refund,
    RefundStatus,
    Transaction,
    TransactionStatus,
)
from ipmarket.payments.policy import (
    MAX_REASON_LENGTH,
    PROVIDER_RETRY_WITHIN,
    REFUND_RECONCILE_AFTER,
)
from ipmarket.payments.providers import (
    PaymentProvider,
    get_provider,
)
from ipmarket.payments.refunds.repository import RefundRepository

log = structlog.get_logger(__name__)


def refund_key(refund_id: uuid.UUID) -> str:
    """The provider's idempotency key of a refund: the same for every attempt to make it."""
    return f"refund:{refund_id}"


@dataclass(frozen=True)
class RefundResult:
    refund: Refund
    transaction: Transaction


@dataclass(frozen=True)
class SettledRefunds:
    succeeded: int = 0
    failed: int = 0
    pending: int = 0


class RefundService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider or get_provider()
        self.transactions = TransactionRepository(session)
        self.refunds = RefundRepository(session)

    async def record(
        self,
        actor: Principal,
        transaction_id: uuid.UUID,
        *,
        amount: Decimal | None,
        reason: str,
        refund_id: uuid.UUID | None,
    ) -> uuid.UUID:
        """Step 1: check the refund and write it pending, posted. Returns its id
        (an earlier attempt's refund, when this request was made before)."""
        tx = await self.transactions.transaction(transaction_id, for_update=True)
        if tx is None:
            raise NotFound("Transaction not found")
        if tx.seller_id != actor.id and not actor.can(Permission.PROCESS_REFUNDS):
            if actor.id == tx.buyer_id or actor.id in {
                share.recipient_id for share in Split.from_json(tx).shares
            }:
                raise Forbidden("Only the seller or an administrator may refund this payment")
            raise NotFound("Transaction not found")
        if refund_id is not None:
            made = await self.refunds.refund(refund_id)
            if made is not None:
                if is_continuation(made.created_at) and made.transaction_id == tx.id:
                    # An earlier attempt under the same key recorded it (its answer was
                    # lost, or it lost the key to a take-over): carry that refund on.
                    return made.id
                refund_id = None  # the key was used before, and since forgotten
        refund_id = refund_id or new_id()
        if tx.status not in (TransactionStatus.COMPLETED, TransactionStatus.REFUNDED):
            raise Conflict(
                f"The transaction is {tx.status}: only a completed payment can be refunded",
                details={"status": tx.status},
            )
        remaining = tx.amount_minor - tx.refunded_minor
        if remaining == 0:
            raise Conflict("The payment was refunded in full already", details={"remaining": 0})
        refund_minor = to_minor(amount) if amount is not None else remaining
        if refund_minor > remaining:
            raise ValidationFailed.for_field(
                f"The refund exceeds what remains to refund ({from_minor(remaining)})",
                field="amount",
                problem="more than what remains",
                remaining=float(from_minor(remaining)),
            )
        made_before = await self.refunds.refunds_of(tx.id, with_failed=True)
        # Failed refunds gave everything back: they take no part in the split.
        earlier = [r for r in made_before if r.status != RefundStatus.FAILED]
        in_progress = [r for r in earlier if r.status == RefundStatus.PENDING]
        if in_progress:
            # A refund's split depends on the refunds before it; one that may still fail
            # must be settled before another is split on top of it.
            raise Conflict(
                "Another refund of this payment is still being processed; try again shortly",
                details={
                    "refundId": str(in_progress[0].id),
                    "remaining": float(from_minor(remaining)),
                },
            )
        amounts = [previous.amount_minor for previous in earlier] + [refund_minor]
        *_, part = split_refunds(Split.from_json(tx), amounts)

        now = utcnow()
        # Refunds of a transaction, failed ones included, are strictly ordered in time (their
        # splits depend on it).
        created_at = now
        if made_before:
            created_at = max(now, made_before[-1].created_at + timedelta(microseconds=1))
        refund = Refund(
            id=refund_id,
            transaction_id=tx.id,
            amount_minor=refund_minor,
            reason=reason,
            requested_by=actor.id,
            status=RefundStatus.PENDING.value,
            created_at=created_at,
        )
        await self.refunds.add(refund)
        await ledger.post(
            self.session,
            kind=ledger.REFUND,
            reference=str(refund.id),
            lines=await self._reversal_lines(tx, part, now),
            transaction_id=tx.id,
            memo=reason[:500],
        )
        before = {"status": tx.status, "refundedAmount": str(from_minor(tx.refunded_minor))}
        tx.refunded_minor += refund_minor
        tx.updated_at = now
        await audit.record(
            self.session,
            actor_id=actor.id,
            action="transaction.refunded",
            resource_type="transaction",
            resource_id=tx.id,
            old_values=before,
            new_values={
                "status": tx.status,
                "refundedAmount": str(from_minor(tx.refunded_minor)),
                "refundId": str(refund.id),
                "amount": str(from_minor(refund_minor)),
                "reason": reason,
            },
        )
        return refund.id

    async def current(self, refund_id: uuid.UUID) -> RefundResult:
        """A refund and its transaction as they are in the database now."""
        refund = await self.refunds.refund(refund_id)
        assert refund is not None  # refunds are never deleted
        tx = await self.transactions.transaction(refund.transaction_id)
        assert tx is not None
        return RefundResult(refund=refund, transaction=tx)

    async def make(self, made: RefundResult) -> str:
        """Step 2, at the provider, outside any transaction: the refund made under its key
        (the provider refunds each key once); returns the provider's reference."""
        assert made.transaction.payment_reference is not None  # only completed ones refund
        return await self.provider.refund(
            made.transaction.payment_reference,
            amount_minor=made.refund.amount_minor,
            idempotency_key=refund_key(made.refund.id),
        )

    async def settle(
        self, refund_id: uuid.UUID, *, reference: str | None, reason: str | None
    ) -> RefundResult:
        """Step 3: record a refund made (with the provider's reference) or refused (with the
        reason);
        a refund settled meanwhile (by the job, or the request) is left as it is."""
        found = await self.refunds.refund(refund_id)
        assert found is not None
        # The transaction's lock first, as when refunds are recorded.
        tx = await self.transactions.transaction(found.transaction_id, for_update=True)
        refund = await self.refunds.refund(refund_id, for_update=True)
        assert tx is not None
        assert refund is not None
        if refund.status == RefundStatus.PENDING:
            now = utcnow()
            refund.processed_at = now
            tx.updated_at = now
            if reference is not None:
                refund.status = RefundStatus.SUCCEEDED.value
                refund.provider_reference = reference
                if tx.refunded_minor == tx.amount_minor:
                    tx.status = TransactionStatus.REFUNDED.value
                await publish(
                    self.session,
                    RefundProcessed(
                        refund_id=refund.id,
                        transaction_id=tx.id,
                        buyer_id=tx.buyer_id,
                        seller_id=tx.seller_id,
                        amount_minor=refund.amount_minor,
                        currency=tx.currency,
                        requested_by=refund.requested_by,
                        reason=refund.reason,
                        fully_refunded=tx.status == TransactionStatus.REFUNDED,
                    ),
                )
            else:
                refund.status = RefundStatus.FAILED.value
                refund.failure_reason = (reason or "refused")[:MAX_REASON_LENGTH]
                await ledger.reverse(
                    self.session,
                    kind=ledger.REFUND,
                    reference=str(refund.id),
                    reversal_kind=ledger.REFUND_FAILED,
                    transaction_id=tx.id,
                    memo=f"refund {refund.id} refused: {refund.failure_reason}"[:500],
                )
                before = {"refundedAmount": str(from_minor(tx.refunded_minor))}
                tx.refunded_minor -= refund.amount_minor
                await audit.record(
                    self.session,
                    actor_id=None,
                    action="transaction.refund_failed",
                    resource_type="transaction",
                    resource_id=tx.id,
                    old_values=before,
                    new_values={
                        "refundedAmount": str(from_minor(tx.refunded_minor)),
                        "refundId": str(refund.id),
                        "amount": str(from_minor(refund.amount_minor)),
                        "reason": refund.failure_reason,
                    },
                )
            log.info("payments.refund_settled", refund_id=str(refund.id), status=refund.status)
        return RefundResult(refund=refund, transaction=tx)

    async def stale(self, *, now: datetime, limit: int) -> list[uuid.UUID]:
        """The pending refunds recorded before `now - REFUND_RECONCILE_AFTER` (and within the
        provider's memory of their keys), oldest first, at most `limit`."""
        return await self.refunds.stale_pending_refunds(
            now - REFUND_RECONCILE_AFTER, created_after=now - PROVIDER_RETRY_WITHIN, limit=limit
        )

    async def _reversal_lines(
        self, tx: Transaction, part: Split, now: datetime
    ) -> list[ledger.Line]:
        """The refund's posting: the money goes back out through the provider, and each
        party gives back its part. Earnings still on hold are taken from pending (released
        with them, so pending nets out); earnings already released from available, which
        may go negative until later earnings make up for it."""
        held_until = await self.refunds.sale_available_at(tx.id)
        currency = tx.currency
        lines = [ledger.Line(ledger.provider_clearing(currency), part.amount_minor)]
        if part.platform_fee_minor:
            lines.append(ledger.Line(ledger.platform_revenue(currency), -part.platform_fee_minor))
        parts = [(s.recipient_id, s.amount_minor) for s in part.shares]
        parts.append((tx.seller_id, part.seller_amount_minor))
        for user_id, amount in parts:
            if amount == 0:
                continue
            if held_until is not None and held_until > now:
                account = ledger.user_pending(user_id, currency)
                lines.append(ledger.Line(account, -amount, held_until))
            else:
                lines.append(ledger.Line(ledger.user_available(user_id, currency), -amount))
        return lines

    # --- reading ------------------------------------------------------------------------------
