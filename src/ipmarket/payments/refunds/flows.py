"""The refund flows: a refund asked for, and the job that finishes the pending ones, each
step in its own committed `step` block.

A refund is written before it is made, and the provider is called outside any database
transaction, as a payout is:

  1. record: under the transaction's row lock, the request is checked, the refund inserted
     `pending`, its `refund` posting made (each party gives its part back) and the
     transaction's refunded amount raised, so the next refund sees what remains; audited;
     committed;
  2. make: the provider refunds under the key `refund:{refund id}`;
  3. settle, under the transaction's row lock: `succeeded` with the provider's reference
     (the transaction `refunded` once refunded in full, and refund.processed published: only
     now are the transfers reversed), or, refused for good, `failed` (`refund_failed`, the
     exact reversal of its posting, and the amount refundable again); committed.

When the provider cannot be reached the refund stays pending: the
`payments.reconcile_refunds` job makes it again under the same key (the provider refunds
each key once) until it succeeds or fails. A request retried under its Idempotency-Key finds
its refund (its id derives from the key) and carries it on.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import Principal
from ipmarket.kit.db import step
from ipmarket.kit.money import from_minor
from ipmarket.payments.errors import RefundDeclined
from ipmarket.payments.models import RefundStatus
from ipmarket.payments.providers import PaymentProvider, ProviderError, ProviderRejected
from ipmarket.payments.refunds.service import RefundResult, RefundService, SettledRefunds

log = structlog.get_logger(__name__)


async def refund(
    session: AsyncSession,
    actor: Principal,
    transaction_id: uuid.UUID,
    *,
    amount: Decimal | None,
    reason: str,
    refund_id: uuid.UUID | None = None,
    provider: PaymentProvider | None = None,
) -> RefundResult:
    """Refund all or part of what remains of a completed payment, by its seller or an
    administrator who processes refunds; the split is reversed in proportion.

    Returns the refund `succeeded`, or `pending` when the provider could not be reached (the
    reconciliation job finishes it). Raises RefundDeclined when the provider refused it
    (recorded as failed, nothing refunded)."""
    refunds = RefundService(session, provider)
    async with step(session):
        recorded = await refunds.record(
            actor, transaction_id, amount=amount, reason=reason, refund_id=refund_id
        )
    result = await _make_and_settle(session, refunds, recorded)
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


async def settle_stale_refunds(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int = 100,
    provider: PaymentProvider | None = None,
) -> SettledRefunds:
    """Make again the pending refunds recorded before `now - REFUND_RECONCILE_AFTER`, oldest
    first, at most `limit`; returns how they ended."""
    refunds = RefundService(session, provider)
    async with step(session):
        ids = await refunds.stale(now=now, limit=limit)
    counts = dict.fromkeys(RefundStatus, 0)
    for refund_id in ids:
        result = await _make_and_settle(session, refunds, refund_id)
        counts[RefundStatus(result.refund.status)] += 1
    return SettledRefunds(
        succeeded=counts[RefundStatus.SUCCEEDED],
        failed=counts[RefundStatus.FAILED],
        pending=counts[RefundStatus.PENDING],
    )


async def _make_and_settle(
    session: AsyncSession, refunds: RefundService, refund_id: uuid.UUID
) -> RefundResult:
    """Steps 2 and 3: have the provider make a pending refund (no transaction open) and
    record the outcome; returns the refund as it is now. A refund the provider could not be
    asked about stays pending."""
    async with step(session):
        made = await refunds.current(refund_id)
    if made.refund.status != RefundStatus.PENDING:
        return made
    try:
        reference = await refunds.make(made)
    except ProviderRejected as exc:
        log.warning("payments.refund_refused", refund_id=str(refund_id), error=str(exc))
        async with step(session):
            return await refunds.settle(refund_id, reference=None, reason=str(exc))
    except ProviderError as exc:
        log.warning("payments.refund_deferred", refund_id=str(refund_id), error=str(exc))
        async with step(session):
            return await refunds.current(refund_id)
    async with step(session):
        return await refunds.settle(refund_id, reference=reference, reason=None)
