"""Refunds of a completed payment, in whole or in part (see the steps below)."""

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
from ipmarket.kit.db import commit
from ipmarket.kit.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from ipmarket.kit.ids import new_id
from ipmarket.kit.money import from_minor, to_minor
from ipmarket.payments import ledger
from ipmarket.payments.checkout.repository import TransactionRepository
from ipmarket.payments.errors import (
    RefundDeclined,
)
from ipmarket.payments.events import (
    RefundProcessed,
)
from ipmarket.payments.idempotency import is_continuation
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
    ProviderError,
    ProviderRejected,
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

    # A refund is written before it is made, and the provider is called outside any database
    # transaction, as a payout is:
    #
    #   1. record: under the transaction's row lock, the request is checked, the refund
    #      inserted `pending`, its `refund` posting made (each party gives its part back) and
    #      the transaction's refunded amount raised, so the next refund sees what remains;
    #      audited; committed;
    #   2. make: the provider refunds under the key `refund:{refund id}`;
    #   3. settle, under the transaction's row lock: `succeeded` with the provider's
    #      reference (the transaction `refunded` once refunded in full, and refund.processed
    #      published: only now are the transfers reversed), or, refused for good, `failed`
    #      (`refund_failed`, the exact reversal of its posting, and the amount refundable
    #      again); committed.
    #
    # When the provider cannot be reached the refund stays pending: the
    # `payments.reconcile_refunds` job makes it again under the same key (the provider
    # refunds each key once) until it succeeds or fails. A request retried under its
    # Idempotency-Key finds its refund (its id derives from the key) and carries it on.

    async def refund(
        self,
        actor: Principal,
        transaction_id: uuid.UUID,
        *,
        amount: Decimal | None,
        reason: str,
        refund_id: uuid.UUID | None = None,
    ) -> RefundResult:
        """Refund all or part of what remains of a completed payment, by its seller or an
        administrator who processes refunds; the split is reversed in proportion.

        Returns the refund `succeeded`, or `pending` when the provider could not be reached
        (the reconciliation job finishes it). Raises RefundDeclined when the provider refused
        it (recorded as failed, nothing refunded)."""
        recorded = await self._record_refund(
            actor, transaction_id, amount=amount, reason=reason, refund_id=refund_id
        )
        result = await self._make_refund(recorded)
        if result.refund.status == RefundStatus.FAILED:
            tx = result.transaction
            raise RefundDeclined(
                "The payment provider refused the refund; nothing was refunded",
                details={
                    "refundId": str(result.refund.id),
                    "transactionId": str(tx.id),
                    "reason": result.refund.failure_reason,
                    "remaining": float(from_minor(tx.amount_minor - tx.refunded_minor)),
                },
            )
        return result

    async def _record_refund(
        self,
        actor: Principal,
        transaction_id: uuid.UUID,
        *,
        amount: Decimal | None,
        reason: str,
        refund_id: uuid.UUID | None,
    ) -> uuid.UUID:
        """Step 1: check the refund and write it pending, posted; committed. Returns its id
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
                    await commit(self.session)
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
            raise ValidationFailed(
                f"The refund exceeds what remains to refund ({from_minor(remaining)})",
                details={
                    "errors": [{"field": "amount", "message": "more than what remains"}],
                    "remaining": float(from_minor(remaining)),
                },
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
        await commit(self.session)
        return refund.id

    async def _make_refund(self, refund_id: uuid.UUID) -> RefundResult:
        """Steps 2 and 3: have the provider make a pending refund (outside any transaction)
        and record the outcome; returns the refund as it is now. A refund the provider could
        not be asked about stays pending."""
        refund = await self.refunds.refund(refund_id)
        assert refund is not None  # refunds are never deleted
        tx = await self.transactions.transaction(refund.transaction_id)
        assert tx is not None
        assert tx.payment_reference is not None  # only a completed payment is refunded
        await commit(self.session)  # no lock is held while the provider refunds
        if refund.status != RefundStatus.PENDING:
            return RefundResult(refund=refund, transaction=tx)
        try:
            reference = await self.provider.refund(
                tx.payment_reference,
                amount_minor=refund.amount_minor,
                idempotency_key=refund_key(refund.id),
            )
        except ProviderRejected as exc:
            log.warning("payments.refund_refused", refund_id=str(refund.id), error=str(exc))
            return await self._settle_refund(refund.id, reference=None, reason=str(exc))
        except ProviderError as exc:
            log.warning("payments.refund_deferred", refund_id=str(refund.id), error=str(exc))
            if self.session.in_transaction():
                await self.session.rollback()
            current = await self.refunds.refund(refund.id)
            tx = await self.transactions.transaction(refund.transaction_id)
            await commit(self.session)
            assert current is not None
            assert tx is not None
            return RefundResult(refund=current, transaction=tx)
        return await self._settle_refund(refund.id, reference=reference, reason=None)

    async def _settle_refund(
        self, refund_id: uuid.UUID, *, reference: str | None, reason: str | None
    ) -> RefundResult:
        """Record a refund made (with the provider's reference) or refused (with the reason);
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
        await commit(self.session)
        return RefundResult(refund=refund, transaction=tx)

    async def settle_stale_refunds(self, *, now: datetime, limit: int = 100) -> SettledRefunds:
        """Make again the pending refunds recorded before `now - REFUND_RECONCILE_AFTER`,
        oldest first, at most `limit`; returns how they ended."""
        ids = await self.refunds.stale_pending_refunds(
            now - REFUND_RECONCILE_AFTER, created_after=now - PROVIDER_RETRY_WITHIN, limit=limit
        )
        await commit(self.session)
        counts = dict.fromkeys(RefundStatus, 0)
        for refund_id in ids:
            result = await self._make_refund(refund_id)
            counts[RefundStatus(result.refund.status)] += 1
        return SettledRefunds(
            succeeded=counts[RefundStatus.SUCCEEDED],
            failed=counts[RefundStatus.FAILED],
            pending=counts[RefundStatus.PENDING],
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
