"""Licensing use cases: publish terms, apply, approve, reject, withdraw, revoke, expire,
verify.

Services flush but never commit: the request (or job) owns the transaction.

A base fee is authorised on the applicant's card when the application is made, captured on
approval and released on rejection, withdrawal or when the card hold would lapse
(`FEE_HOLD_WINDOW`), by the payments module through in-transaction hooks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit, provenance, transparency
from ipmarket.eventbus import publish
from ipmarket.identity import Permission, Principal
from ipmarket.ip_assets import (
    AssetStatus,
    IPAsset,
    IPAssetRepository,
    licensable,
    lock_asset,
    suspend_derivatives,
)
from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import (
    Conflict,
    Forbidden,
    LicenseExpired,
    NotFound,
    PaymentFailed,
    ValidationFailed,
)
from ipmarket.kit.hooks import dispatch
from ipmarket.kit.ids import new_id
from ipmarket.kit.money import from_minor, to_minor
from ipmarket.licensing.events import (
    AuthorizationRevoked,
    AuthorizationWithdrawn,
    LicenseApplied,
    LicenseApproved,
    LicenseRejected,
    LicenseRevoked,
)
from ipmarket.licensing.fees import license_fees
from ipmarket.licensing.locks import (
    held_chain,
    lock_application,
    lock_due_to_expire,
    lock_lapsing_fee_holds,
    lock_terms,
)
from ipmarket.licensing.models import FeeStatus, LicenseApplication, LicenseStatus, LicenseTerms
from ipmarket.licensing.repository import ChainLink, LicenseRepository, TermsRepository
from ipmarket.licensing.rules import cap_problem, chain_problems, chain_share, exclusivity_problem
from ipmarket.licensing.schemas import ApplicationCreate, LicenseTermsCreate, LicenseTermsUpdate
from ipmarket.licensing.terms import parse_duration
from ipmarket.settings import get_platform_settings

# A card authorisation lapses after 7 days (Stripe's rule for online card payments): an
# application whose fee is held that long without a decision expires, its hold released,
# and an approval from then on is refused (409) rather than capturing a lapsed hold.
FEE_HOLD_WINDOW = timedelta(days=7)
WITHDRAWN_REASON = "Withdrawn by the applicant"
LAPSED_REASON = (
    f"Not decided within {FEE_HOLD_WINDOW.days} days: the hold on the applicant's card for "
    "the base fee was released; apply again to renew it"
)


def terms_snapshot(terms: LicenseTerms) -> dict[str, Any]:
    return {
        "termsId": str(terms.id),
        "version": terms.version,
        "licenseType": terms.license_type,
        # Two places always, whether the value came from the database or a request.
        "revenueSharePercentage": f"{Decimal(terms.revenue_share_percentage):.2f}",
        "baseFee": str(from_minor(terms.base_fee_minor)),
        "currency": terms.currency,
        "territory": terms.territory,
        "duration": terms.duration,
        "requirements": terms.requirements,
        "restrictions": terms.restrictions,
        "derivativesAllowed": terms.derivatives_allowed,
    }


def fee_hold_lapsed(application: LicenseApplication, now: datetime) -> bool:
    """Has the hold on the applicant's card been held for the whole window?"""
    return (
        application.fee_status == FeeStatus.AUTHORIZED
        and application.created_at <= now - FEE_HOLD_WINDOW
    )


def _check_limits(terms: LicenseTerms, data: ApplicationCreate) -> None:
    """The terms may ask no more than the applicant accepts."""
    problems: list[dict[str, str]] = []
    if data.max_base_fee is not None and terms.base_fee_minor > to_minor(data.max_base_fee):
        problems.append(
            {
                "field": "maxBaseFee",
                "message": f"the terms ask a fee of {from_minor(terms.base_fee_minor)}",
            }
        )
    if (
        data.max_revenue_share_percentage is not None
        and terms.revenue_share_percentage > data.max_revenue_share_percentage
    ):
        problems.append(
            {
                "field": "maxRevenueSharePercentage",
                "message": f"the terms ask {terms.revenue_share_percentage}%",
            }
        )
    if problems:
        raise ValidationFailed("The terms exceed what you accept", details={"errors": problems})


@dataclass(frozen=True)
class LicenseCheck:
    """`GET /licenses/{id}/verify`: does this license authorise anything right now?"""

    valid: bool
    status: str
    expires_at: datetime | None
    reasons: list[str]


class LicensingService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.terms = TermsRepository(session)
        self.licenses = LicenseRepository(session)
        self.assets = IPAssetRepository(session)

    # --- terms ----------------------------------------------------------------------------

    async def _own_asset(self, asset_id: uuid.UUID, principal: Principal) -> IPAsset:
        asset = await lock_asset(self.session, asset_id)
        if asset is None or asset.status == AssetStatus.DELETED:
            raise NotFound("IP asset not found")
        if asset.creator_id != principal.id:
            raise Forbidden("Only the asset's owner may publish its license terms")
        return asset

    async def list_terms(
        self, asset_id: uuid.UUID, viewer: Principal | None, *, history: bool
    ) -> list[LicenseTerms]:
        asset = await self.assets.get(asset_id)
        if asset is None or asset.status == AssetStatus.DELETED:
            raise NotFound("IP asset not found")
        is_owner = viewer is not None and viewer.id == asset.creator_id
        if not licensable(asset) and not is_owner:
            raise NotFound("IP asset not found")
        return await self.terms.of_asset(asset_id, current_only=not (history and is_owner))

    async def create_terms(
        self, principal: Principal, asset_id: uuid.UUID, data: LicenseTermsCreate
    ) -> LicenseTerms:
        asset = await self._own_asset(asset_id, principal)
        if asset.status != AssetStatus.ACTIVE:
            raise Conflict(f"IP asset is {asset.status}")
        await self._check_share_cap(asset, data.revenue_share_percentage)
        terms_id = new_id()
        terms = LicenseTerms(
            id=terms_id,
            ip_asset_id=asset.id,
            license_type=data.license_type,
            revenue_share_percentage=data.revenue_share_percentage,
            base_fee_minor=to_minor(data.base_fee),
            territory=data.territory,
            duration=data.duration,
            requirements=data.requirements,
            restrictions=data.restrictions,
            auto_approve=data.auto_approve,
            derivatives_allowed=data.derivatives_allowed,
            version=1,
            lineage_id=terms_id,
            is_current=True,
        )
        await self.terms.add(terms)
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="license_terms.created",
            resource_type="license_terms",
            resource_id=terms.id,
            new_values=terms_snapshot(terms),
        )
        return terms

    async def update_terms(
        self,
        principal: Principal,
        asset_id: uuid.UUID,
        terms_id: uuid.UUID,
        data: LicenseTermsUpdate,
    ) -> LicenseTerms:
        """Edit terms in place while nobody has applied; otherwise publish a new version and
        retire this one, so what applicants agreed to never changes under them."""
        asset = await self._own_asset(asset_id, principal)
        if asset.status != AssetStatus.ACTIVE:
            raise Conflict(f"IP asset is {asset.status}")
        terms = await lock_terms(self.session, terms_id)
        if terms is None or terms.ip_asset_id != asset.id:
            raise NotFound("License terms not found for this IP asset")
        if not terms.is_current:
            raise Conflict("These terms were replaced by a newer version; edit the current one")
        changes = data.model_dump(exclude_unset=True)
        if not changes:
            raise ValidationFailed("Nothing to update")
        if "base_fee" in changes:
            changes["base_fee_minor"] = to_minor(changes.pop("base_fee"))
        share = changes.get("revenue_share_percentage", terms.revenue_share_percentage)
        await self._check_share_cap(asset, share)
        before = terms_snapshot(terms)
        if await self.terms.referenced(terms.id):
            terms.is_current = False
            fresh = LicenseTerms(
                id=new_id(),
                ip_asset_id=terms.ip_asset_id,
                license_type=terms.license_type,
                revenue_share_percentage=terms.revenue_share_percentage,
                base_fee_minor=terms.base_fee_minor,
                currency=terms.currency,
                territory=terms.territory,
                duration=terms.duration,
                requirements=terms.requirements,
                restrictions=terms.restrictions,
                auto_approve=terms.auto_approve,
                derivatives_allowed=terms.derivatives_allowed,
                version=terms.version + 1,
                lineage_id=terms.lineage_id,
                is_current=True,
            )
            for key, value in changes.items():
                setattr(fresh, key, value)
            await self.terms.add(fresh)
            result = fresh
        else:
            for key, value in changes.items():
                setattr(terms, key, value)
            await self.session.flush()
            result = terms
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="license_terms.updated",
            resource_type="license_terms",
            resource_id=result.id,
            old_values=before,
            new_values=terms_snapshot(result),
        )
        return result

    async def _share_cap_problem(self, asset: IPAsset, share: Decimal) -> str | None:
        platform = await get_platform_settings(self.session)
        above = (
            chain_share(await self.licenses.chain(asset.parent_license_id))
            if asset.parent_license_id
            else Decimal(0)
        )
        return cap_problem(Decimal(platform.payments.platform_fee_percentage), above + share)

    async def _check_share_cap(self, asset: IPAsset, share: Decimal) -> None:
        """Terms whose share would pass the cap are bad input."""
        problem = await self._share_cap_problem(asset, share)
        if problem:
            raise ValidationFailed(problem, details={"field": "revenueSharePercentage"})

    # --- applications ---------------------------------------------------------------------

    async def application(self, license_id: uuid.UUID) -> LicenseApplication:
        application = await self.licenses.get(license_id)
        if application is None:
            raise NotFound("License not found")
        return application

    async def apply(
        self,
        principal: Principal,
        data: ApplicationCreate,
        *,
        application_id: uuid.UUID | None = None,
    ) -> LicenseApplication:
        """Apply for a license. `application_id` is derived from the request's
        Idempotency-Key, whose store (`ipmarket.kit.idempotency`) answers a retry with the
        application the first attempt made; the fee's transaction and provider keys derive
        from it, so a retry after an attempt whose outcome was lost reaches the provider
        under the same keys and never authorises twice."""
        if application_id is not None and await self.licenses.get(application_id) is not None:
            # Made under an earlier use of the key, which the store has since forgotten (it
            # answers for every use it remembers): this is a new application.
            application_id = None
        # The asset first, then its terms (`ipmarket.kit.locks`): an edit of the terms
        # (which holds the asset) and an auto-approval (which takes it) wait their turn.
        asset = await lock_asset(self.session, data.ip_asset_id)
        if asset is None or not licensable(asset):
            raise NotFound("IP asset not found or not open for licensing")
        if asset.creator_id == principal.id:
            raise Forbidden("You cannot license your own asset")
        # Locked: an edit of these terms waits for this application, then makes a new version.
        terms = await lock_terms(self.session, data.license_terms_id)
        if terms is None or terms.ip_asset_id != asset.id:
            raise ValidationFailed.for_field(
                "These license terms do not belong to this IP asset",
                field="licenseTermsId",
                problem="not terms of this asset",
            )
        if not terms.is_current:
            raise Conflict("These terms were replaced by a newer version")
        _check_limits(terms, data)
        if await self.licenses.pending_exists(terms.id, principal.id):
            raise Conflict("You already have a pending application for these terms")
        if terms.base_fee_minor > 0 and data.payment_method is None:
            raise ValidationFailed(
                "These terms ask a base fee: give the paymentMethod that pays it",
                details={
                    "errors": [
                        {
                            "field": "paymentMethod",
                            "message": f"required for a fee of {from_minor(terms.base_fee_minor)}",
                        }
                    ]
                },
            )
        application = LicenseApplication(
            id=application_id or new_id(),
            ip_asset_id=asset.id,
            applicant_id=principal.id,
            licensor_id=asset.creator_id,
            license_terms_id=terms.id,
            application_data=data.application_data,
            max_base_fee_minor=to_minor(data.max_base_fee)
            if data.max_base_fee is not None
            else None,
            max_revenue_share_percentage=data.max_revenue_share_percentage,
            status=LicenseStatus.PENDING.value,
            payment_method=data.payment_method,
        )
        # One application per key (the key's store serialises them) and one pending per
        # applicant and terms (the terms' lock does): the unique indexes back both.
        await self.licenses.add(application)
        if terms.base_fee_minor > 0:
            assert data.payment_method is not None
            await self._authorize_fee(application, terms, data.payment_method)
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="license.applied",
            resource_type="license",
            resource_id=application.id,
            new_values={"ipAssetId": str(asset.id), "licenseTermsId": str(terms.id)},
        )
        await publish(
            self.session,
            LicenseApplied(
                license_id=application.id,
                ip_asset_id=asset.id,
                applicant_id=principal.id,
                licensor_id=asset.creator_id,
                license_terms_id=terms.id,
            ),
        )
        if terms.auto_approve:
            try:
                async with self.session.begin_nested():
                    await self._approve(application, actor_id=None)
            except (Conflict, PaymentFailed):
                # A rule blocks it for now, or the fee could not be captured: it waits for
                # the licensor like any other, its fee still authorised.
                pass
        return application

    async def _authorize_fee(
        self, application: LicenseApplication, terms: LicenseTerms, payment_method: str
    ) -> None:
        """The base fee is authorised now, captured on approval and released on rejection,
        withdrawal or lapse, through the license-fee port (a decline raises)."""
        reference = await license_fees().authorize(
            self.session,
            license_id=application.id,
            applicant_id=application.applicant_id,
            licensor_id=application.licensor_id,
            fee_minor=terms.base_fee_minor,
            currency=terms.currency,
            payment_method=payment_method,
        )
        application.fee_minor = terms.base_fee_minor
        application.fee_status = FeeStatus.AUTHORIZED.value
        application.payment_method = payment_method
        application.payment_reference = reference
        await self.session.flush()

    async def _decidable(
        self, license_id: uuid.UUID, principal: Principal, admin_permission: Permission
    ) -> LicenseApplication:
        application = await lock_application(self.session, license_id)
        if application is None:
            raise NotFound("License not found")
        if application.applicant_id == principal.id:
            raise Forbidden("Nobody decides on their own license application")
        if application.licensor_id != principal.id and not principal.can(admin_permission):
            raise NotFound("License not found")
        return application

    async def received(self, principal: Principal, license_id: uuid.UUID) -> LicenseApplication:
        """An application made to `principal` (a license once approved), in any state, to
        look at before deciding; anyone else's is not found, so ids cannot be probed."""
        application = await self.licenses.get(license_id)
        if application is None or application.licensor_id != principal.id:
            raise NotFound("License not found")
        return application

    async def approve(self, principal: Principal, license_id: uuid.UUID) -> LicenseApplication:
        application = await self._decidable(license_id, principal, Permission.APPROVE_LICENSES)
        if application.status != LicenseStatus.PENDING:
            raise Conflict(f"License is {application.status}, not pending")
        await self._approve(application, actor_id=principal.id)
        return application

    async def _approve(
        self, application: LicenseApplication, *, actor_id: uuid.UUID | None
    ) -> None:
        now = utcnow()
        # Lock the asset: approvals of the same asset are decided one at a time.
        asset = await lock_asset(self.session, application.ip_asset_id)
        if asset is None or not licensable(asset):
            raise Conflict("The IP asset is not open for licensing")
        terms = await self.terms.get(application.license_terms_id)
        assert terms is not None
        live = await self.licenses.live_of_asset(asset.id, now=now)
        live_terms = await self.licenses.terms_of([lic.license_terms_id for lic in live])
        problem = exclusivity_problem(
            terms.license_type,
            terms.territory,
            [
                (
                    (lic.terms_snapshot or {}).get(
                        "licenseType", live_terms[lic.license_terms_id].license_type
                    ),
                    (lic.terms_snapshot or {}).get(
                        "territory", live_terms[lic.license_terms_id].territory
                    ),
                )
                for lic in live
            ],
        )
        if problem:
            raise Conflict(f"Exclusivity: {problem}", details={"rule": "exclusivity"})
        # The terms fitted when published; if the fee has risen since, approving now would
        # pass the cap: a conflict with the current state (and auto-approval waits).
        cap = await self._share_cap_problem(asset, terms.revenue_share_percentage)
        if cap:
            raise Conflict(f"Revenue share cap: {cap}", details={"rule": "share_cap"})
        if asset.parent_license_id is not None:
            problems = chain_problems(await self.licenses.chain(asset.parent_license_id), now)
            if problems:
                raise Conflict(
                    "The asset's own license no longer authorises it", details={"reasons": problems}
                )
        if fee_hold_lapsed(application, now):
            # The card hold has lapsed (or is about to): capturing it would fail or charge a
            # card whose hold the applicant believes released. The application expires.
            raise Conflict(
                "The application expired: the hold on the applicant's card for the base fee "
                f"lapsed after {FEE_HOLD_WINDOW.days} days; the applicant must apply again",
                details={"reason": "fee_authorization_lapsed"},
            )
        if application.fee_status == FeeStatus.AUTHORIZED:
            # Every rule passed: the fee is taken now (a failure refuses the approval).
            await license_fees().capture(self.session, application.id)
            application.fee_status = FeeStatus.CAPTURED.value
        application.status = LicenseStatus.APPROVED.value
        application.approved_at = now
        application.approved_by = actor_id
        application.decided_by = actor_id
        application.terms_snapshot = terms_snapshot(terms)
        application.expires_at = parse_duration(terms.duration).after(now)
        application.updated_at = now
        await self.session.flush()
        await audit.record(
            self.session,
            actor_id=actor_id,
            action="license.approved",
            resource_type="license",
            resource_id=application.id,
            old_values={"status": LicenseStatus.PENDING.value},
            new_values={
                "status": LicenseStatus.APPROVED.value,
                "expiresAt": application.expires_at.isoformat() if application.expires_at else None,
                "terms": application.terms_snapshot,
            },
        )
        await publish(
            self.session,
            LicenseApproved(
                license_id=application.id,
                ip_asset_id=application.ip_asset_id,
                applicant_id=application.applicant_id,
                licensor_id=application.licensor_id,
                approved_by=actor_id,
                expires_at=application.expires_at.isoformat() if application.expires_at else None,
                terms_hash=transparency.digest(application.terms_snapshot),
                parent_license_id=asset.parent_license_id,
            ),
        )

    async def reject(
        self, principal: Principal, license_id: uuid.UUID, reason: str
    ) -> LicenseApplication:
        application = await self._decidable(license_id, principal, Permission.APPROVE_LICENSES)
        if application.status != LicenseStatus.PENDING:
            raise Conflict(f"License is {application.status}, not pending")
        await _close_pending(
            self.session,
            application,
            status=LicenseStatus.REJECTED,
            reason=reason,
            decided_by=principal.id,
            action="license.rejected",
        )
        await publish(
            self.session,
            LicenseRejected(
                license_id=application.id,
                applicant_id=application.applicant_id,
                rejected_by=principal.id,
                reason=reason,
            ),
        )
        await release_fee(self.session, application, reason="rejected")
        await self.session.flush()
        return application

    async def withdraw(self, principal: Principal, license_id: uuid.UUID) -> LicenseApplication:
        """The applicant takes back a pending application; its fee is released. Recorded
        as rejected, with the reason `WITHDRAWN_REASON` and the applicant as the decider."""
        application = await lock_application(self.session, license_id)
        if application is None:
            raise NotFound("License not found")
        if application.applicant_id != principal.id:
            if application.licensor_id == principal.id:
                raise Forbidden("Only the applicant may withdraw an application; reject it")
            raise NotFound("License not found")
        if application.status != LicenseStatus.PENDING:
            raise Conflict(
                f"License is {application.status}; only a pending application can be withdrawn",
                details={"status": application.status},
            )
        await _close_pending(
            self.session,
            application,
            status=LicenseStatus.REJECTED,
            reason=WITHDRAWN_REASON,
            decided_by=principal.id,
            action="license.withdrawn",
        )
        await release_fee(self.session, application, reason="withdrawn")
        await self.session.flush()
        return application

    async def revoke(
        self, principal: Principal, license_id: uuid.UUID, reason: str
    ) -> LicenseApplication:
        application = await self._decidable(license_id, principal, Permission.REVOKE_LICENSES)
        if application.status != LicenseStatus.APPROVED:
            raise Conflict(
                f"License is {application.status}; only an approved license can be revoked"
            )
        now = utcnow()
        application.status = LicenseStatus.REVOKED.value
        application.revoked_at = now
        application.revocation_reason = reason
        application.decided_by = principal.id
        application.updated_at = now
        await self.session.flush()
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="license.revoked",
            resource_type="license",
            resource_id=application.id,
            old_values={"status": LicenseStatus.APPROVED.value},
            new_values={"status": LicenseStatus.REVOKED.value, "reason": reason},
        )
        await publish(
            self.session,
            LicenseRevoked(
                license_id=application.id,
                applicant_id=application.applicant_id,
                revoked_by=principal.id,
                reason=reason,
            ),
        )
        await withdraw_authorization(self.session, application.id, cause="revoked")
        return application

    async def list_applications(
        self, principal: Principal, **filters: Any
    ) -> tuple[list[LicenseApplication], int]:
        return await self.licenses.list_for(principal.id, **filters)

    async def terms_of(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, LicenseTerms]:
        """The terms each of `ids` names, in one query (for a page of applications)."""
        return await self.licenses.terms_of(ids)

    async def applied_by(self, principal: Principal, license_id: uuid.UUID) -> LicenseApplication:
        """An application `principal` made (a license once approved), in any state; anyone
        else's is not found, so ids cannot be probed."""
        application = await self.licenses.get(license_id)
        if application is None or application.applicant_id != principal.id:
            raise NotFound("License not found")
        return application

    async def check(self, license_id: uuid.UUID) -> LicenseCheck:
        application = await self.licenses.get(license_id)
        if application is None:
            raise NotFound("License not found")
        now = utcnow()
        chain = await self.licenses.chain(license_id)
        reasons = chain_problems(chain, now)
        status = application.status
        if (
            status == LicenseStatus.APPROVED
            and application.expires_at is not None
            and application.expires_at <= now
        ):
            status = LicenseStatus.EXPIRED.value
        return LicenseCheck(
            valid=not reasons, status=status, expires_at=application.expires_at, reasons=reasons
        )

    async def authorising_chain(
        self, license_id: uuid.UUID, holder_id: uuid.UUID, *, hold: bool = False
    ) -> list[ChainLink]:
        """The chain of a license `holder_id` holds, if it authorises now; raises otherwise.

        With `hold`, for something new made under the license (nothing a revocation could
        find yet), its licenses are held until the transaction ends (`held_chain`), so a
        revocation at the same moment comes wholly before or after; take it first. Without,
        for what exists already (a product published, bought), which the revocation finds
        and suspends anyway: its lock comes after the product's, which `hold` would invert.
        """
        application = await self.licenses.get(license_id)
        if application is None or application.applicant_id != holder_id:
            raise ValidationFailed.for_field(
                "This license is not yours", field="licenseId", problem="not a license you hold"
            )
        chain = (
            await held_chain(self.session, license_id)
            if hold
            else await self.licenses.chain(license_id)
        )
        problems = chain_problems(chain, utcnow())
        if problems:
            raise LicenseExpired(
                "The license does not authorise this now", details={"reasons": problems}
            )
        return chain


async def release_fee(
    session: AsyncSession, application: LicenseApplication, *, reason: str
) -> None:
    """An application with an authorised fee will not be approved: the payments module
    releases the fee (cancelled, or refunded if an approval that was rolled back had
    captured it). Called last in a decision, after everything that could still fail."""
    if application.fee_status != FeeStatus.AUTHORIZED:
        return
    await license_fees().release(session, application.id, reason=reason)
    application.fee_status = FeeStatus.RELEASED.value


async def expire_lapsed_fee_holds(session: AsyncSession, *, limit: int = 200) -> int:
    """Pending applications whose fee has been held on the card for `FEE_HOLD_WINDOW`
    expire: the hold is released, the applicant may apply again. Returns how many."""
    due = await lock_lapsing_fee_holds(session, utcnow() - FEE_HOLD_WINDOW, limit=limit)
    for application in due:
        await _close_pending(
            session,
            application,
            status=LicenseStatus.EXPIRED,
            reason=LAPSED_REASON,
            decided_by=None,
            action="license.application_expired",
        )
        await release_fee(session, application, reason="authorization lapsed")
    await session.flush()
    return len(due)


async def _close_pending(
    session: AsyncSession,
    application: LicenseApplication,
    *,
    status: LicenseStatus,
    reason: str,
    decided_by: uuid.UUID | None,
    action: str,
) -> None:
    """End a pending application without a license (rejected, withdrawn, expired), with
    its reason, and audit it. The caller announces it and releases its fee."""
    application.status = status.value
    application.rejection_reason = reason
    if decided_by is not None:
        application.decided_by = decided_by
    application.updated_at = utcnow()
    await audit.record(
        session,
        actor_id=decided_by,
        action=action,
        resource_type="license",
        resource_id=application.id,
        old_values={"status": LicenseStatus.PENDING.value},
        new_values={"status": status.value, "reason": reason},
    )


async def withdraw_authorization(
    session: AsyncSession, license_id: uuid.UUID, *, cause: str
) -> set[uuid.UUID]:
    """A license stopped authorising: so do the derivative assets made under it, their
    licenses, and everything under those, to any depth. Products react to the hook; the
    chain records turn inactive; cached verifications become stale once this commits."""
    licenses = LicenseRepository(session)
    affected = {license_id}
    frontier = [license_id]
    derived_assets: list[uuid.UUID] = []
    while frontier:
        derived = await suspend_derivatives(
            session, frontier, reason=f"license {license_id} was {cause}"
        )
        derived_assets += [a.id for a in derived]
        below = await licenses.approved_on_assets([a.id for a in derived])
        frontier = [lic for lic in below if lic not in affected]
        affected |= set(frontier)
    await provenance.deactivate(session, affected)
    await dispatch(
        session, AuthorizationWithdrawn(license_ids=frozenset(affected), reason=f"license {cause}")
    )
    await publish(
        session,
        AuthorizationRevoked(
            license_ids=sorted(affected),
            derivative_asset_ids=derived_assets,
            cause=cause,
            root_license_id=license_id,
        ),
    )
    provenance.invalidate_after_commit(session)
    return affected


async def expire_due(session: AsyncSession, *, limit: int = 500) -> int:
    """Mark approved licenses past their expiry as expired, with the same cascade as a
    revocation. Returns how many expired."""
    now = utcnow()
    due = await lock_due_to_expire(session, now, limit=limit)
    for application in due:
        application.status = LicenseStatus.EXPIRED.value
        application.updated_at = now
        await audit.record(
            session,
            actor_id=None,
            action="license.expired",
            resource_type="license",
            resource_id=application.id,
            old_values={"status": LicenseStatus.APPROVED.value},
            new_values={"status": LicenseStatus.EXPIRED.value},
        )
        await session.flush()
        await withdraw_authorization(session, application.id, cause="expired")
    return len(due)
