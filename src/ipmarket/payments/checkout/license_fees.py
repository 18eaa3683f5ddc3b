"""A license's base fee: authorised when the application is made, captured when it is
approved, released when it is rejected, withdrawn or left undecided past the card hold.

Services flush but never commit: the request (or job) owns the transaction.

The provider is called inside the licensing decision's database transaction, so the two can
disagree when that transaction rolls back after the provider acted. Every provider key is
derived from the fee transaction's id (itself derived from the application's id), so
repeating a step never repeats its effect, and each step asks the provider where the money
stands instead of trusting our rows:

- a capture whose approval was rolled back is taken again under the same key by a retried
  approval (a replay: one capture), and completes then;
- a release asks the provider first: an authorisation is cancelled; a payment that was
  captured already (its approval rolled back) is left pending, not refunded inside the
  rejection (were the rejection rolled back in turn, a later approval would replay the
  capture of money already given back);
- `reconcile_license_fees` (a periodic job, after the decision committed) settles every
  pending fee of a decided license with the provider: completed when the license was
  approved; released otherwise, a captured payment refunded in full, so an applicant is
  never charged for a license they did not get. A release the provider could not be reached
  for is settled the same way.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import PaymentFailed, ValidationFailed
from ipmarket.kit.idempotency import HEADER
from ipmarket.licensing import LicenseStatus
from ipmarket.payments.checkout.repository import TransactionRepository
from ipmarket.payments.checkout.settlement import Settlement
from ipmarket.payments.errors import ProviderUnavailable
from ipmarket.payments.ledger.splits import split_sale
from ipmarket.payments.models import Transaction, TransactionStatus, TransactionType
from ipmarket.payments.providers import (
    IntentStatus,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    call_provider,
    get_provider,
)
from ipmarket.settings import get_platform_settings

log = structlog.get_logger(__name__)

_FEE_NAMESPACE = uuid.UUID("2b0e6a53-1f6c-4a5e-9a8e-3c1d7e5b9f40")


def fee_transaction_id(license_id: uuid.UUID) -> uuid.UUID:
    """The id of a license's fee transaction: one per application, the same on every
    attempt, so a retried application reaches the provider under the same keys."""
    return uuid.uuid5(_FEE_NAMESPACE, f"license-fee/{license_id}")


class LicenseFeeService:
    """The fee side of licensing; completes and fails like any payment (`Settlement`)."""

    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider or get_provider()
        self.transactions = TransactionRepository(session)
        self.settlement = Settlement(session, self.provider)

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
        raises PaymentFailed and nothing is kept (the intent is cancelled)."""
        platform = await get_platform_settings(self.session)
        split = split_sale(
            fee_minor,
            platform_fee_percentage=Decimal(platform.payments.platform_fee_percentage),
            shares=[],
        )
        now = utcnow()
        tx = Transaction(
            id=fee_transaction_id(license_id),
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
        await self.transactions.add(tx)
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
            await self.settlement.void(tx)
            raise PaymentFailed(
                f"The license fee could not be authorised: {exc}",
                details={"declineCode": exc.decline_code or exc.code or "card_declined"},
            ) from exc
        except ProviderError as exc:
            if await self._authorised_already(intent.id, payment_method):
                await self.session.flush()
                return intent.id
            raise ProviderUnavailable(
                "The payment provider could not complete the request; try again",
                details={"operation": "confirm_intent"},
            ) from exc
        await self.session.flush()
        return intent.id

    async def _authorised_already(self, intent_id: str, payment_method: str) -> bool:
        """After a confirmation under this application's key failed at the provider: True
        when the intent is authorised with this very payment method (the confirmation went
        through and only its answer was lost). Refuses the request (422) when an earlier
        attempt under the same Idempotency-Key authorised another payment method: the key was
        reused for another request. False when the outcome is unknown (the caller answers
        5xx and the client retries under the same key)."""
        try:
            intent = await self.provider.retrieve_intent(intent_id)
        except ProviderError:
            return False
        if intent.status == IntentStatus.REQUIRES_PAYMENT_METHOD:
            return False
        if intent.status == IntentStatus.REQUIRES_CAPTURE and intent.payment_method in (
            None,
            payment_method,
        ):
            return True
        raise ValidationFailed(
            f"This {HEADER} was already used to pay with another payment "
            "method; use a new key for a new attempt",
            details={"reason": "idempotency_key_reused", "header": HEADER},
        )

    async def capture_license_fee(self, license_id: uuid.UUID) -> Transaction | None:
        """Take the authorised fee of an approved license: the platform's fee and the
        licensor's earnings go to the ledger. A failure raises PaymentFailed (402) and the
        approval does not happen. The capture key is the same on every attempt, so a retry
        after an approval that was rolled back replays the capture, never repeats it."""
        tx = await self.transactions.pending_license_fee(license_id, for_update=True)
        if tx is None:
            return None
        assert tx.payment_reference is not None
        try:
            await self.provider.capture(tx.payment_reference, idempotency_key=f"{tx.id}:capture")
        except PaymentDeclined as exc:
            raise PaymentFailed(
                f"The license fee could not be captured: {exc}",
                details={
                    "transactionId": str(tx.id),
                    "declineCode": exc.decline_code or exc.code or "card_declined",
                },
            ) from exc
        except ProviderError as exc:
            log.warning("payments.license_fee_capture_failed", transaction_id=str(tx.id))
            raise PaymentFailed(
                f"The license fee could not be captured: {exc}",
                details={"transactionId": str(tx.id), "reason": "capture_failed"},
            ) from exc
        await self.settlement.complete(tx)
        await self.session.flush()
        return tx

    async def release_license_fee(self, license_id: uuid.UUID, *, reason: str) -> None:
        """Let go of a license's fee (the application was rejected, withdrawn or lapsed)."""
        tx = await self.transactions.pending_license_fee(license_id, for_update=True)
        if tx is None:
            return
        # Inside the decision's own transaction a captured fee is not refunded: were the
        # decision rolled back after the refund, a later approval would replay the capture
        # and grant the license for money already given back. The reconciliation job refunds
        # it once the decision has committed.
        await self.release(tx, reason=reason, refund_captured=False)

    async def release(self, tx: Transaction, *, reason: str, refund_captured: bool = True) -> bool:
        """Give a pending fee back, whatever the provider did with it: an authorisation is
        cancelled; a payment captured by an approval that was then rolled back is refunded
        in full (nothing is kept, nothing reaches the ledger) when `refund_captured`. False
        when nothing was settled (the provider could not be reached, or a captured payment is
        left for later): the transaction stays pending for `reconcile_license_fees`."""
        assert tx.payment_reference is not None
        refund_reference: str | None = None
        try:
            intent = await self.provider.retrieve_intent(tx.payment_reference)
            if intent.status == IntentStatus.SUCCEEDED:
                if not refund_captured:
                    log.info("payments.license_fee_refund_after_commit", transaction_id=str(tx.id))
                    return False
                refund_reference = await self.provider.refund(
                    tx.payment_reference,
                    amount_minor=tx.amount_minor,
                    idempotency_key=f"{tx.id}:release-refund",
                )
            elif intent.status != IntentStatus.CANCELED:
                await self.provider.cancel(tx.payment_reference, idempotency_key=f"{tx.id}:cancel")
        except ProviderError as exc:
            log.warning(
                "payments.license_fee_release_deferred", transaction_id=str(tx.id), error=str(exc)
            )
            return False
        if refund_reference is None:
            await self.settlement.fail(tx, reason=f"released: {reason}")
            return True
        log.warning(
            "payments.license_fee_refunded_on_release",
            transaction_id=str(tx.id),
            refund=refund_reference,
        )
        tx.refunded_minor = tx.amount_minor
        await self.settlement.fail(
            tx, reason=f"released: {reason}; the captured fee was refunded ({refund_reference})"
        )
        return True

    async def reconcile_license_fees(self, *, limit: int = 100) -> int:
        """Settle the pending fees of licenses that were decided: a fee left pending by an
        approval that was rolled back, or by a release the provider could not be reached
        for. Completed when the license is approved and the provider captured the payment;
        released (cancelled, or refunded when captured) when it was rejected, withdrawn or
        lapsed. Returns how many were settled."""
        settled = 0
        for tx, license_status in await self.transactions.pending_fees_of_decided_licenses(limit):
            if license_status == LicenseStatus.APPROVED:
                settled += await self._complete_if_captured(tx)
            else:
                settled += await self.release(tx, reason=f"license {license_status}")
        return settled

    async def _complete_if_captured(self, tx: Transaction) -> bool:
        assert tx.payment_reference is not None
        try:
            intent = await self.provider.retrieve_intent(tx.payment_reference)
        except ProviderError as exc:
            log.warning("payments.license_fee_reconcile_deferred", transaction_id=str(tx.id))
            log.debug("payments.provider_error", error=str(exc))
            return False
        if intent.status != IntentStatus.SUCCEEDED:
            # An approval always captures before it commits: this needs a person.
            log.error(
                "payments.license_fee_uncaptured_on_approved_license",
                transaction_id=str(tx.id),
                intent_status=intent.status.value,
            )
            return False
        await self.settlement.complete(tx)
        return True


class LicenseFeePort:
    """The payments side of licensing's license-fee port (`ipmarket.licensing.LicenseFees`),
    wired at startup."""

    async def authorize(
        self,
        session: AsyncSession,
        *,
        license_id: uuid.UUID,
        applicant_id: uuid.UUID,
        licensor_id: uuid.UUID,
        fee_minor: int,
        currency: str,
        payment_method: str,
    ) -> str:
        return await LicenseFeeService(session).authorize_license_fee(
            license_id=license_id,
            applicant_id=applicant_id,
            licensor_id=licensor_id,
            fee_minor=fee_minor,
            currency=currency,
            payment_method=payment_method,
        )

    async def capture(self, session: AsyncSession, license_id: uuid.UUID) -> None:
        await LicenseFeeService(session).capture_license_fee(license_id)

    async def release(self, session: AsyncSession, license_id: uuid.UUID, *, reason: str) -> None:
        await LicenseFeeService(session).release_license_fee(license_id, reason=reason)
