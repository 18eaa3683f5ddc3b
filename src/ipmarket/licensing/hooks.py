"""Licensing's answers to the hooks the IP assets module dispatches (in the same
transaction)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import provenance
from ipmarket.ip_assets import (
    AssetDeleting,
    AssetLeftReview,
    DerivativeApproving,
    DerivativeProposed,
)
from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import Conflict, ValidationFailed
from ipmarket.kit.hooks import on
from ipmarket.licensing.locks import held_chain
from ipmarket.licensing.models import LicenseStatus
from ipmarket.licensing.repository import LicenseRepository
from ipmarket.licensing.rules import cap_problem, chain_problems, chain_share
from ipmarket.settings import get_platform_settings

# How many licenses a chain may hold, from a product's license up to the original work. The
# chain queries stop at 64 levels, well above this.
MAX_CHAIN_DEPTH = 32


@on(DerivativeProposed)
async def check_derivative_license(session: AsyncSession, event: DerivativeProposed) -> None:
    """A derivative is made under a license its creator holds, that authorises now, and
    whose terms allow derivatives. Dispatched before the new asset takes any lock, so its
    licenses are held (`held_chain`): a revocation at the same moment comes wholly before
    (and refuses it) or after (and finds it)."""
    await _check_parent_license(session, event.creator_id, event.parent_license_id, hold=True)


async def _check_parent_license(
    session: AsyncSession, creator_id: uuid.UUID, license_id: uuid.UUID, *, hold: bool
) -> None:
    licenses = LicenseRepository(session)
    held = await held_chain(session, license_id) if hold else None
    application = await licenses.get(license_id)
    if application is None or application.applicant_id != creator_id:
        raise ValidationFailed.for_field(
            "parentLicenseId must be a license you hold",
            field="parentLicenseId",
            problem="not a license you hold",
        )
    if application.status != LicenseStatus.APPROVED:
        raise ValidationFailed.for_field(
            f"The license is {application.status}",
            field="parentLicenseId",
            problem=f"license is {application.status}",
        )
    if not (application.terms_snapshot or {}).get("derivativesAllowed", True):
        raise Conflict("The license's terms do not allow derivatives")
    chain = held if held is not None else await licenses.chain(application.id)
    if len(chain) >= MAX_CHAIN_DEPTH:
        raise Conflict(
            f"Derivative chains are limited to {MAX_CHAIN_DEPTH} licenses",
            details={"rule": "chain_depth"},
        )
    problems = chain_problems(chain, utcnow())
    if problems:
        raise Conflict("The license does not authorise this now", details={"reasons": problems})


@on(DerivativeApproving)
async def approve_derivative(session: AsyncSession, event: DerivativeApproving) -> None:
    """Before a derivative is approved: its license still authorises, the shares along
    its chain leave room under 100%, and the derivation is recorded in the chain."""
    # Not held: the derivative is locked already (a license lock after it would invert the
    # house order), and a revocation suspends its derivatives, this one included, under the
    # same lock, so the two come one after the other anyway.
    await _check_parent_license(session, event.creator_id, event.parent_license_id, hold=False)
    licenses = LicenseRepository(session)
    chain = await licenses.chain(event.parent_license_id)
    platform = await get_platform_settings(session)
    problem = cap_problem(Decimal(platform.payments.platform_fee_percentage), chain_share(chain))
    if problem:
        raise Conflict(f"Revenue share cap: {problem}", details={"rule": "share_cap"})
    await provenance.record_derivation(
        session,
        derived_asset_id=event.ip_asset_id,
        parent_asset_id=chain[0].ip_asset_id,
        license_id=event.parent_license_id,
    )


@on(AssetDeleting)
async def refuse_delete_while_licensed(session: AsyncSession, event: AssetDeleting) -> None:
    if await LicenseRepository(session).approved_exist(event.ip_asset_id, now=utcnow()):
        raise Conflict("The IP asset has approved licenses; it cannot be deleted while they last")


@on(AssetLeftReview)
async def refuse_material_edit_while_licensed(
    session: AsyncSession, event: AssetLeftReview
) -> None:
    """Licensees licensed the asset as it was reviewed: while their licenses last, its
    content may not change (that would break every product below it at once)."""
    if await LicenseRepository(session).approved_exist(event.ip_asset_id, now=utcnow()):
        raise Conflict(
            "The IP asset has approved licenses: its title, description, files and content "
            "type cannot change while they last; publish a new asset instead",
            details={"rule": "licensed_content_is_fixed"},
        )
    provenance.invalidate_after_commit(session)
