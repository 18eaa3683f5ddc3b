"""Balances and payouts: what a user has earned, and paying available earnings out to them.

Services flush but never commit: the request (or job) owns the transaction."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit
from ipmarket.identity import Principal
from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import ValidationFailed
from ipmarket.kit.money import CURRENCY, from_minor, to_minor
from ipmarket.payments import ledger
from ipmarket.payments.models import Payout, PayoutStatus
from ipmarket.payments.providers import PaymentProvider
from ipmarket.payments.repository import PaymentRepository
from ipmarket.payments.service import PAYOUT, call_provider, fresh_id, get_provider
from ipmarket.settings import get_platform_settings


def connected_account(user_id: uuid.UUID) -> str:
    """The provider account that receives a user's money.

    Until users connect their own provider accounts (Stripe Connect onboarding), the account
    is named after the user."""
    return f"user_{user_id.hex}"


class PayoutService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider or get_provider()
        self.payments = PaymentRepository(session)

    async def balance(self, user_id: uuid.UUID) -> ledger.Balance:
        return await ledger.balance(self.session, user_id)

    async def payout(
        self, user: Principal, amount: Decimal | None, *, payout_id: uuid.UUID | None = None
    ) -> Payout:
        """Pay available earnings out: at least the minimum payout, at most what is
        available (everything available when `amount` is omitted)."""
        await self.payments.lock_user_funds(user.id)
        available = (await ledger.balance(self.session, user.id, CURRENCY)).available_minor
        platform = await get_platform_settings(self.session)
        minimum = to_minor(Decimal(platform.payments.minimum_payout))
        requested = to_minor(amount) if amount is not None else available
        details: dict[str, Any] = {
            "available": float(from_minor(available)),
            "minimumPayout": float(from_minor(minimum)),
        }
        if requested <= 0:
            raise ValidationFailed("Nothing is available to pay out", details=details)
        if requested > available:
            raise ValidationFailed(
                f"The payout exceeds your available balance ({from_minor(available)})",
                details={**details, "errors": [{"field": "amount", "message": "above available"}]},
            )
        if requested < minimum:
            raise ValidationFailed(
                f"The minimum payout is {from_minor(minimum)}",
                details={**details, "errors": [{"field": "amount", "message": "below minimum"}]},
            )
        payout_id = await fresh_id(payout_id, self.payments.payout_exists)
        currency = CURRENCY
        account = connected_account(user.id)
        # Separate charges and transfers: the platform sends the money to the user's account,
        # which pays it out to their bank.
        await call_provider(
            self.provider.transfer(
                destination=account,
                amount_minor=requested,
                currency=currency,
                transfer_group=f"payout_{payout_id}",
                idempotency_key=f"payout:{payout_id}:transfer",
            ),
            "transfer",
        )
        reference = await call_provider(
            self.provider.payout(
                destination=account,
                amount_minor=requested,
                currency=currency,
                idempotency_key=f"payout:{payout_id}",
            ),
            "payout",
        )
        now = utcnow()
        payout = Payout(
            id=payout_id,
            user_id=user.id,
            amount_minor=requested,
            currency=currency,
            status=PayoutStatus.PAID.value,
            provider_reference=reference,
            created_at=now,
            processed_at=now,
        )
        await self.payments.add(payout)
        await ledger.post(
            self.session,
            kind=PAYOUT,
            reference=str(payout.id),
            lines=[
                ledger.Line(ledger.user_available(user.id, currency), -requested),
                ledger.Line(ledger.payouts_account(currency), requested),
            ],
            memo=f"payout to {user.id}",
        )
        await audit.record(
            self.session,
            actor_id=user.id,
            action="payout.requested",
            resource_type="payout",
            resource_id=payout.id,
            new_values={"amount": str(from_minor(requested)), "currency": currency},
        )
        return payout
