"""The payout flows: a payout asked for, the job that pays the pending ones again, and the
scheduled payouts, each step in its own committed `step` block (the steps are described in
`money_out.payouts`). No transaction is open while the provider opens an account or pays."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import Principal
from ipmarket.kit.db import step
from ipmarket.kit.errors import ValidationFailed
from ipmarket.kit.ids import new_id
from ipmarket.kit.money import to_minor
from ipmarket.payments.models import Payout, PayoutStatus
from ipmarket.payments.money_out.payouts import (
    PayoutDeclined,
    PayoutService,
    Settled,
    period_start,
    scheduled_payout_id,
)
from ipmarket.payments.providers import PaymentProvider, ProviderError, ProviderRejected
from ipmarket.settings import get_platform_settings

log = structlog.get_logger(__name__)


async def payout(
    session: AsyncSession,
    user: Principal,
    amount: Decimal | None,
    *,
    payout_id: uuid.UUID | None = None,
    provider: PaymentProvider | None = None,
) -> Payout:
    """Pay available earnings out: at least the minimum payout, at most what is available
    (everything available when `amount` is omitted).

    Returns the payout, `paid`, or `pending` when the provider could not be reached (the
    reconciliation job finishes it). Raises ValidationFailed (nothing recorded) or
    PayoutDeclined (recorded as failed, the amount available again). With `payout_id`
    (derived from the request's Idempotency-Key), an earlier attempt of the same request is
    carried on rather than paid out again."""
    payouts = PayoutService(session, provider)
    if payout_id is not None:
        async with step(session):
            earlier = await payouts.current(payout_id)
        if earlier is not None:
            if payouts.continues(earlier, user):
                return _outcome(await _pay_and_settle(session, payouts, earlier))
            payout_id = None  # the key was used before, and since forgotten
    async with step(session):
        recorded = await payouts.record(
            user.id,
            to_minor(amount) if amount is not None else None,
            payout_id=payout_id or new_id(),
            actor_id=user.id,
        )
    if recorded is None:
        # Another attempt under the same key recorded it meanwhile: carry that one on.
        async with step(session):
            found = await payouts.current(payout_id) if payout_id is not None else None
        if found is None:
            raise RuntimeError("a payout id was taken, yet no payout has it")
        recorded = found
    return _outcome(await _pay_and_settle(session, payouts, recorded))


def _outcome(payout: Payout) -> Payout:
    if payout.status == PayoutStatus.FAILED:
        raise PayoutDeclined(
            "The payment provider refused the payout; the amount is available again",
            details={"payoutId": str(payout.id), "reason": payout.failure_reason},
        )
    return payout


async def settle_stale(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int = 100,
    provider: PaymentProvider | None = None,
) -> Settled:
    """Pay again the pending payouts recorded before `now - RECONCILE_AFTER`, oldest first,
    at most `limit`; returns how they ended."""
    payouts = PayoutService(session, provider)
    async with step(session):
        ids = await payouts.stale(now=now, limit=limit)
    counts = dict.fromkeys(PayoutStatus, 0)
    for payout_id in ids:
        async with step(session):
            pending = await payouts.current(payout_id)
        if pending is None:
            continue
        settled = await _pay_and_settle(session, payouts, pending)
        counts[PayoutStatus(settled.status)] += 1
    return Settled(
        paid=counts[PayoutStatus.PAID],
        failed=counts[PayoutStatus.FAILED],
        pending=counts[PayoutStatus.PENDING],
    )


async def pay_out_scheduled(
    session: AsyncSession, *, now: datetime, provider: PaymentProvider | None = None
) -> int:
    """On the first day of a payout period, pay out everyone whose available balance is at
    least the minimum payout, once per user and period; returns how many payouts were
    recorded by this call."""
    payouts = PayoutService(session, provider)
    async with step(session):
        platform = await get_platform_settings(session)
    schedule = platform.payments.payout_schedule
    start = period_start(schedule, now)
    if start is None:
        return 0
    minimum = to_minor(Decimal(platform.payments.minimum_payout))
    made = 0
    after: uuid.UUID | None = None
    while True:
        async with step(session):
            batch = await payouts.balances_at_least(minimum, after=after)
        if not batch:
            return made
        for user_id, _ in batch:
            try:
                async with step(session):
                    recorded = await payouts.record(
                        user_id,
                        None,
                        payout_id=scheduled_payout_id(user_id, schedule, start),
                        actor_id=None,
                        action="payout.scheduled",
                    )
            except (ValidationFailed, IntegrityError) as exc:
                # Spent since it was counted, or paid out by a concurrent run.
                log.info("payments.scheduled_payout_skipped", user_id=str(user_id), why=str(exc))
                continue
            if recorded is None:
                continue  # paid out already this period
            made += 1
            await _pay_and_settle(session, payouts, recorded)
        after = batch[-1][0]


async def _pay_and_settle(session: AsyncSession, payouts: PayoutService, payout: Payout) -> Payout:
    """Steps 2 and 3: have the provider pay a pending payout (no transaction open) and
    record the outcome; returns the payout as it is now. A payout the provider could not be
    asked about stays pending."""
    if payout.status != PayoutStatus.PENDING:
        return payout
    try:
        async with step(session):
            destination, email = await payouts.recorded_destination(payout.user_id)
        if destination is None:
            async with step(session):
                destination = await payouts.open_destination(payout.user_id, email)
        reference = await payouts.pay(payout, destination)
    except ProviderRejected as exc:
        log.warning("payments.payout_refused", payout_id=str(payout.id), error=str(exc))
        async with step(session):
            return await payouts.finish(payout.id, reference=None, reason=str(exc))
    except ProviderError as exc:
        log.warning("payments.payout_deferred", payout_id=str(payout.id), error=str(exc))
        async with step(session):
            current = await payouts.current(payout.id)
        assert current is not None  # payouts are never deleted
        return current
    async with step(session):
        return await payouts.finish(payout.id, reference=reference, reason=None)
