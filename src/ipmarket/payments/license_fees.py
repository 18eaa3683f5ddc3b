"""A license's base fee: authorised when the application is made, captured when it is
approved, released when it is rejected.

Services flush but never commit: the request owns the transaction."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import PaymentFailed
from ipmarket.kit.ids import new_id
from ipmarket.payments.models import Transaction, TransactionStatus, TransactionType
from ipmarket.payments.providers import PaymentDeclined, PaymentProvider, ProviderError
from ipmarket.payments.service import PaymentService, ProviderUnavailable, call_provider
from ipmarket.payments.splits import split_sale
from ipmarket.settings import get_platform_settings


class LicenseFeeService(PaymentService):
    """The fee side of licensing; completes and fails like any payment."""

    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        super().__init__(session, provider)

    async def authorize_license_fee(
        self,
        *,
        license_id: uuid.UUID,
        applicant_id: uuid.UUID,
        licensor_id: uuid.UUID,
        fee_minor: int,
        currency: str,
        payment_method: str,
    ) -> str:
        """Authorise (not capture) a license's base fee; returns the intent's id. A decline
        raises PaymentFailed and nothing is kept."""
        platform = await get_platform_settings(self.session)
        split = split_sale(
            fee_minor,
            platform_fee_percentage=Decimal(platform.payments.platform_fee_percentage),
            shares=[],
        )
        now = utcnow()
        tx = Transaction(
            id=new_id(),
            created_at=now,
            transaction_type=TransactionType.LICENSE_FEE.value,
            buyer_id=applicant_id,
            seller_id=licensor_id,
            product_id=None,
            license_id=license_id,
            quantity=1,
            amount_minor=fee_minor,
            platform_fee_minor=split.platform_fee_minor,
            seller_amount_minor=split.seller_amount_minor,
            currency=currency,
            revenue_shares=[],
            payment_method=payment_method,
            status=TransactionStatus.PENDING.value,
            refunded_minor=0,
            updated_at=now,
        )
        await self.payments.add(tx)
        intent = await call_provider(
            self.provider.create_intent(
                amount_minor=fee_minor,
                currency=currency,
                capture="manual",
                metadata={"transaction_id": str(tx.id), "license_id": str(license_id)},
                transfer_group=str(tx.id),
                idempotency_key=f"{tx.id}:intent",
            ),
            "create_intent",
        )
        tx.payment_reference = intent.id
        try:
            await self.provider.confirm_intent(
                intent.id, payment_method=payment_method, idempotency_key=f"{tx.id}:confirm"
            )
        except PaymentDeclined as exc:
            await self._void(tx)
            raise PaymentFailed(
                f"The license fee could not be authorised: {exc}",
                details={"declineCode": exc.decline_code or exc.code or "card_declined"},
            ) from exc
        except ProviderError as exc:
            raise ProviderUnavailable(
                "The payment provider could not complete the request; try again",
                details={"operation": "confirm_intent"},
            ) from exc
        await self.session.flush()
        return intent.id

    async def capture_license_fee(self, license_id: uuid.UUID) -> Transaction | None:
        """Take the authorised fee of an approved license: the platform's fee and the
        licensor's earnings go to the ledger."""
        tx = await self.payments.pending_license_fee(license_id, for_update=True)
        if tx is None:
            return None
        assert tx.payment_reference is not None
        try:
            await self.provider.capture(tx.payment_reference, idempotency_key=f"{tx.id}:capture")
        except (PaymentDeclined, ProviderError) as exc:
            raise PaymentFailed(
                f"The license fee could not be captured: {exc}",
                details={"transactionId": str(tx.id)},
            ) from exc
        await self.complete(tx)
        await self.session.flush()
        return tx

    async def release_license_fee(self, license_id: uuid.UUID, *, reason: str) -> None:
        """Let go of an authorised fee (the application was rejected)."""
        tx = await self.payments.pending_license_fee(license_id, for_update=True)
        if tx is None:
            return
        await self._void(tx)
        await self.fail(tx, reason=f"released: {reason}")
