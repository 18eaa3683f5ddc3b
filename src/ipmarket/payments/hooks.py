"""What the payments module answers, inside the caller's transaction, to the hooks other
modules declare (`@on`): a license's fee is authorised, captured or released."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.hooks import on
from ipmarket.licensing import LicenseFeeAuthorizing, LicenseFeeCapturing, LicenseFeeReleasing
from ipmarket.payments.checkout.license_fees import LicenseFeeService


@on(LicenseFeeAuthorizing)
async def authorize_license_fee(session: AsyncSession, event: LicenseFeeAuthorizing) -> None:
    event.payment_reference = await LicenseFeeService(session).authorize_license_fee(
        license_id=event.license_id,
        applicant_id=event.applicant_id,
        licensor_id=event.licensor_id,
        fee_minor=event.fee_minor,
        currency=event.currency,
        payment_method=event.payment_method,
    )


@on(LicenseFeeCapturing)
async def capture_license_fee(session: AsyncSession, event: LicenseFeeCapturing) -> None:
    await LicenseFeeService(session).capture_license_fee(event.license_id)


@on(LicenseFeeReleasing)
async def release_license_fee(session: AsyncSession, event: LicenseFeeReleasing) -> None:
    await LicenseFeeService(session).release_license_fee(event.license_id, reason=event.reason)
