"""Balances and payouts: what a user has earned, and paying available earnings out to them.

A payout is written before it is paid, and the provider is called outside any database
transaction:

1. record: under the user's funds lock, the request is checked (at least the minimum payout,
   at most what is available), the payout row is inserted `pending` and its `payout` posting
   moves the amount from the user's available balance to payouts in flight; committed;
2. pay: the provider pays the amount out of the user's connected account (opened on first
   need), under the idempotency key `payout:{payout id}`;
3. settle, under the payout's row lock: `paid` with the provider's reference (`payout_paid`:
   in flight → payouts), or, when the provider refused it for good, `failed`
   (`payout_failed`: in flight → available, the money is the user's again); committed.

A payout paid that the bank returns later (Stripe's `payout.failed` webhook) is `failed` too,
its money back in the user's available balance (`payout_returned`: payouts → available).

When the provider cannot be reached the payout stays pending: the `payments.reconcile_payouts`
job pays the pending payouts older than `RECONCILE_AFTER` again under the same key (the
provider pays each key once) until they are paid or failed. Whatever was committed is
consistent: a pending payout's amount is in flight on the ledger, neither available nor paid.

Scheduled payouts (`settings.payments.payoutSchedule`): on the first day of each period (every
day, Mondays, or the 1st of the month, UTC, by the app clock) everyone whose available balance
is at least the minimum payout is paid all of it, through the same steps, once per user and
period: the payout's id derives from (schedule, user, period).

This module holds the steps and never commits: the flows in `money_out.flows` run them, each
in its own committed step, for the payout request and the jobs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit
from ipmarket.identity import Principal
from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import PaymentFailed, ValidationFailed
from ipmarket.kit.idempotency import is_continuation
from ipmarket.kit.money import CURRENCY, from_minor, to_minor
from ipmarket.payments import ledger
from ipmarket.payments.models import Payout, PayoutStatus
from ipmarket.payments.money_out import accounts
from ipmarket.payments.money_out.repository import MoneyOutRepository
from ipmarket.payments.policy import MAX_REASON_LENGTH, PROVIDER_RETRY_WITHIN
from ipmarket.payments.providers import (
    PaymentProvider,
    get_provider,
)
from ipmarket.settings import get_platform_settings

log = structlog.get_logger(__name__)

# A pending payout this old is no longer being paid by the request that made it.
RECONCILE_AFTER = timedelta(minutes=1)
# Users looked at per query by the scheduled payouts.
SCHEDULE_BATCH = 500

_SCHEDULED = uuid.UUID("0b6f9a51-3c2e-4f57-9a0e-5d8c1e7b2f64")


class PayoutDeclined(PaymentFailed):
    """The provider refused the payout for good: it is recorded as failed, and its amount is
    available again."""


def payout_key(payout_id: uuid.UUID) -> str:
    """The provider's idempotency key of a payout: the same for every attempt to pay it."""
    return f"payout:{payout_id}"


def period_start(schedule: str, now: datetime) -> date | None:
    """The first day of the payout period that starts today (UTC), or None when no period
    starts today: every day for `daily`, Mondays for `weekly`, the 1st for `monthly`."""
    today = now.astimezone(UTC).date()
    if schedule == "daily":
        return today
    if schedule == "weekly":
        return today if today.weekday() == 0 else None
    if schedule == "monthly":
        return today if today.day == 1 else None
    raise ValueError(f"unknown payout schedule {schedule!r}")


def scheduled_payout_id(user_id: uuid.UUID, schedule: str, start: date) -> uuid.UUID:
    """The id of a user's scheduled payout for the period starting on `start`."""
    return uuid.uuid5(_SCHEDULED, f"{schedule}/{user_id}/{start.isoformat()}")


@dataclass(frozen=True)
class Settled:
    paid: int = 0
    failed: int = 0
    pending: int = 0


class PayoutService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider or get_provider()
        self.payments = MoneyOutRepository(session)

    async def balance(self, user_id: uuid.UUID) -> ledger.Balance:
        return await ledger.balance(self.session, user_id)

    @staticmethod
    def continues(earlier: Payout, user: Principal) -> bool:
        """Whether `earlier`, found under this request's payout id (derived from its
        Idempotency-Key), was recorded by an earlier attempt of this very request, to be
        carried on; otherwise the key was used before and since forgotten."""
        return earlier.user_id == user.id and is_continuation(earlier.created_at)

    async def current(self, payout_id: uuid.UUID) -> Payout | None:
        """A payout as it is in the database now."""
        return await self.payments.payout(payout_id)

    # --- step 1: record -------------------------------------------------------------------

    async def record(
        self,
        user_id: uuid.UUID,
        amount_minor: int | None,
        *,
        payout_id: uuid.UUID,
        actor_id: uuid.UUID | None,
        action: str = "payout.requested",
    ) -> Payout | None:
        """Take `amount_minor` (everything available when None) from the user's available
        balance into a pending payout. None, with nothing done, when a payout with this id
        exists already; ValidationFailed when the amount is not allowed."""
        await self.payments.lock_user_funds(user_id)
        if await self.payments.payout_exists(payout_id):
            return None
        available = (await ledger.balance(self.session, user_id, CURRENCY)).available_minor
        platform = await get_platform_settings(self.session)
        minimum = to_minor(Decimal(platform.payments.minimum_payout))
        requested = amount_minor if amount_minor is not None else available
        details: dict[str, Any] = {
            "available": float(from_minor(available)),
            "minimumPayout": float(from_minor(minimum)),
        }
        if requested <= 0:
            raise ValidationFailed("Nothing is available to pay out", details=details)
        if requested > available:
            raise ValidationFailed.for_field(
                f"The payout exceeds your available balance ({from_minor(available)})",
                field="amount",
                problem="above available",
                **details,
            )
        if requested < minimum:
            raise ValidationFailed.for_field(
                f"The minimum payout is {from_minor(minimum)}",
                field="amount",
                problem="below minimum",
                **details,
            )
        currency = CURRENCY
        payout = Payout(
            id=payout_id,
            user_id=user_id,
            amount_minor=requested,
            currency=currency,
            status=PayoutStatus.PENDING.value,
            created_at=utcnow(),
        )
        await self.payments.add(payout)
        await ledger.post(
            self.session,
            kind=ledger.PAYOUT,
            reference=str(payout.id),
            lines=[
                ledger.Line(ledger.user_available(user_id, currency), -requested),
                ledger.Line(ledger.payouts_in_flight(currency), requested),
            ],
            memo=f"payout to {user_id}",
        )
        await audit.record(
            self.session,
            actor_id=actor_id,
            action=action,
            resource_type="payout",
            resource_id=payout.id,
            new_values={"amount": str(from_minor(requested)), "currency": currency},
        )
        return payout

    # --- steps 2 and 3: pay, then settle ----------------------------------------------------

    async def recorded_destination(self, user_id: uuid.UUID) -> tuple[str | None, str | None]:
        """The user's connected account as recorded (None when they have none yet), and
        their email to open one with."""
        found = await accounts.recorded_account(self.session, self.provider, user_id)
        email = await accounts.email_of(self.session, user_id) if found is None else None
        return found, email

    async def open_destination(self, user_id: uuid.UUID, email: str | None) -> str:
        """Open the user's connected account at the provider and record it."""
        return await accounts.open_account(self.session, self.provider, user_id, email=email)

    async def pay(self, payout: Payout, destination: str) -> str:
        """Step 2, at the provider, outside any transaction: the payout made under its key
        (the provider pays each key once); returns the provider's reference."""
        return await self.provider.payout(
            destination=destination,
            amount_minor=payout.amount_minor,
            currency=payout.currency,
            idempotency_key=payout_key(payout.id),
        )

    async def finish(
        self, payout_id: uuid.UUID, *, reference: str | None, reason: str | None
    ) -> Payout:
        """Step 3: record a payout paid (with the provider's reference) or failed (with the
        reason);
        a payout settled meanwhile (by the job, or the request) is left as it is."""
        payout = await self.payments.payout(payout_id, for_update=True)
        assert payout is not None  # payouts are never deleted
        if payout.status == PayoutStatus.PENDING:
            now = utcnow()
            currency, amount = payout.currency, payout.amount_minor
            in_flight = ledger.Line(ledger.payouts_in_flight(currency), -amount)
            if reference is not None:
                payout.status = PayoutStatus.PAID.value
                payout.provider_reference = reference
                kind = ledger.PAYOUT_PAID
                back_to = ledger.Line(ledger.payouts_account(currency), amount)
            else:
                payout.status = PayoutStatus.FAILED.value
                payout.failure_reason = (reason or "refused")[:MAX_REASON_LENGTH]
                kind = ledger.PAYOUT_FAILED
                back_to = ledger.Line(ledger.user_available(payout.user_id, currency), amount)
            payout.processed_at = now
            await ledger.post(
                self.session,
                kind=kind,
                reference=str(payout.id),
                lines=[in_flight, back_to],
                memo=f"payout to {payout.user_id} {payout.status}",
            )
            log.info("payments.payout_settled", payout_id=str(payout.id), status=payout.status)
        return payout

    # --- returned by the bank ----------------------------------------------------------------

    async def returned(self, provider_reference: str, *, reason: str) -> Payout | None:
        """A payout the provider made that the bank returned later (Stripe's `payout.failed`):
        it is failed and its money available to the user again (`payout_returned`: payouts
        → available). None when no payout has that reference; one that is not `paid` (failed
        already, or returned before) is left as it is.

        The webhook's transaction holds it together with the record of the event, so the
        event is handled once."""
        payout = await self.payments.payout_by_reference(provider_reference, for_update=True)
        if payout is None or payout.status != PayoutStatus.PAID:
            return payout
        now = utcnow()
        currency, amount = payout.currency, payout.amount_minor
        await ledger.post(
            self.session,
            kind=ledger.PAYOUT_RETURNED,
            reference=str(payout.id),
            lines=[
                ledger.Line(ledger.payouts_account(currency), -amount),
                ledger.Line(ledger.user_available(payout.user_id, currency), amount),
            ],
            memo=f"payout to {payout.user_id} returned",
        )
        payout.status = PayoutStatus.FAILED.value
        payout.failure_reason = reason[:MAX_REASON_LENGTH]
        payout.processed_at = now
        await audit.record(
            self.session,
            actor_id=None,
            action="payout.returned",
            resource_type="payout",
            resource_id=payout.id,
            old_values={"status": PayoutStatus.PAID.value},
            new_values={"status": payout.status, "reason": payout.failure_reason},
        )
        log.warning("payments.payout_returned", payout_id=str(payout.id), reason=reason)
        await self.session.flush()
        return payout

    # --- the jobs -------------------------------------------------------------------------

    async def stale(self, *, now: datetime, limit: int) -> list[uuid.UUID]:
        """The pending payouts recorded before `now - RECONCILE_AFTER` (and within the
        provider's memory of their keys), oldest first, at most `limit`."""
        return await self.payments.stale_pending_payouts(
            now - RECONCILE_AFTER, created_after=now - PROVIDER_RETRY_WITHIN, limit=limit
        )

    async def balances_at_least(
        self, minimum_minor: int, *, after: uuid.UUID | None
    ) -> list[tuple[uuid.UUID, int]]:
        """The next users (after `after`, by id) whose available balance is at least
        `minimum_minor`, with that balance."""
        return await ledger.available_at_least(
            self.session, minimum_minor, after=after, limit=SCHEDULE_BATCH
        )
