"""The license-fee port: what licensing needs done with an application's base fee.

Licensing decides when a fee is authorised (on applying), captured (on approval) and
released (on rejection, withdrawal or lapse); the payments module, which sits above
licensing, does it. It is wired once at startup with `configure_license_fees`, and
`license_fees()` raises if it never was, so a process that forgot fails at boot
(`ipmarket.bootstrap` asks for it) rather than skipping a capture.

Each call runs inside the caller's transaction; a failure raises and the decision does not
happen.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class LicenseFees(Protocol):
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
        """Authorise the fee on the applicant's card (manual capture); returns the
        provider's reference. A decline raises PaymentFailed."""
        ...

    async def capture(self, session: AsyncSession, license_id: uuid.UUID) -> None:
        """Take the authorised fee of a license being approved; a failure raises."""
        ...

    async def release(self, session: AsyncSession, license_id: uuid.UUID, *, reason: str) -> None:
        """Let go of the fee of an application that will not be approved: cancel the
        authorisation, or refund it if a rolled-back approval had captured it. A provider
        that cannot be reached does not stop the decision (it is reconciled later)."""
        ...


_license_fees: LicenseFees | None = None


def configure_license_fees(port: LicenseFees | None) -> None:
    global _license_fees  # noqa: PLW0603 - the process's one wiring, set at startup
    _license_fees = port


def license_fees() -> LicenseFees:
    if _license_fees is None:
        raise RuntimeError("No license-fee port is wired: call configure_license_fees() at startup")
    return _license_fees
