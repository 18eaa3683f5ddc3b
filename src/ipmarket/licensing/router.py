"""HTTP routes: license terms under /v1/ip-assets/{id}/licenses, /v1/licenses and the
admin license decisions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.responses import Response

from ipmarket.identity import OPTIONAL_AUTH, Authorize, MaybePrincipal, Permission, Principal
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok, paged
from ipmarket.kit.errors import ValidationFailed
from ipmarket.kit.idempotency import (
    HEADER,
    KEY_MAX_LENGTH,
    KEY_PATTERN,
    RETENTION,
    idempotent_request,
)
from ipmarket.kit.money import from_minor
from ipmarket.kit.pagination import Paging
from ipmarket.licensing.models import LicenseApplication, LicenseTerms
from ipmarket.licensing.schemas import (
    ApplicationCreate,
    DecisionReason,
    LicenseApplicationRead,
    LicenseCheckRead,
    LicenseTermsCreate,
    LicenseTermsRead,
    LicenseTermsUpdate,
)
from ipmarket.licensing.service import FEE_HOLD_WINDOW, LicensingService

terms_router = APIRouter(prefix="/ip-assets/{asset_id}/licenses", tags=["licenses"])
router = APIRouter(prefix="/licenses", tags=["licenses"])
admin_router = APIRouter(prefix="/admin/licenses", tags=["admin"])

_ERRORS = error_responses(400, 401, 402, 403, 404, 409, 413, 422, 429, 500)
# Licensors are creators, or secondary creators licensing their own derivatives.
Licensor = Annotated[
    Principal,
    Depends(
        Authorize(Permission.MANAGE_LICENSES, Permission.APPLY_LICENSE, Permission.APPROVE_LICENSES)
    ),
]
Revoker = Annotated[
    Principal,
    Depends(
        Authorize(Permission.MANAGE_LICENSES, Permission.APPLY_LICENSE, Permission.REVOKE_LICENSES)
    ),
]
Applicant = Annotated[Principal, Depends(Authorize(Permission.APPLY_LICENSE))]
Party = Annotated[
    Principal,
    Depends(Authorize(Permission.MANAGE_LICENSES, Permission.APPLY_LICENSE)),
]
AdminApprover = Annotated[Principal, Depends(Authorize(Permission.APPROVE_LICENSES))]
AdminRevoker = Annotated[Principal, Depends(Authorize(Permission.REVOKE_LICENSES))]

# Application ids derived from (applicant, Idempotency-Key).
_APPLICATION_NAMESPACE = uuid.UUID("8d7c1e2a-4b7f-4f0e-b1a3-6e9d2c5f7a18")

ApplyKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        pattern=KEY_PATTERN,
        description=(
            "Required when the body has a `paymentMethod` (the base fee is authorised on it): "
            "a unique key per application, e.g. a UUID v4. A retry with the same key and body "
            "answers with the application the first request made (header "
            "`Idempotent-Replayed: true`) and never authorises the fee twice; the same key "
            "with another body is a 422. Keys are honoured for 24 hours."
        ),
    ),
]

_APPLY_DOC = f"""\
Apply for a license under an asset's current terms.

**Base fee.** When the terms ask a base fee, `paymentMethod` is required: the fee is
*authorised* (held on the card, not taken) now, captured when the application is approved,
and released when it is rejected, withdrawn (`PUT /licenses/{{id}}/withdraw`) or left
undecided for {FEE_HOLD_WINDOW.days} days (the card hold would lapse: the application then
expires, and approving it is a 409). A declined card is a 402 PAYMENT_FAILED and no
application is made.

**Idempotency.** A request with a `paymentMethod` moves money, so it requires an
`Idempotency-Key` header (422 without it). The application's id is derived from the caller
and the key, and the fee's payment and every provider call derive from the application's
id: a retry under the same key answers with the application already made (201, header
`Idempotent-Replayed: true`), or, if the first attempt's outcome was lost, reaches the
provider under the same keys, so the fee is never authorised twice. The same key with another
body is a 422 (`details.reason = idempotency_key_reused`); two requests racing under one key
make one application. A key is honoured for {
    int(RETENTION.total_seconds() // 3600)
} hours. After a 402, use a new key to try another card.
"""


def terms_read(terms: LicenseTerms) -> LicenseTermsRead:
    return LicenseTermsRead(
        id=terms.id,
        ip_asset_id=terms.ip_asset_id,
        license_type=terms.license_type,
        revenue_share_percentage=terms.revenue_share_percentage,
        base_fee=from_minor(terms.base_fee_minor),
        currency=terms.currency,
        territory=terms.territory,
        duration=terms.duration,
        requirements=terms.requirements,
        restrictions=terms.restrictions,
        auto_approve=terms.auto_approve,
        derivatives_allowed=terms.derivatives_allowed,
        version=terms.version,
        lineage_id=terms.lineage_id,
        is_current=terms.is_current,
        created_at=terms.created_at,
    )


def application_read(a: LicenseApplication) -> LicenseApplicationRead:
    return LicenseApplicationRead(
        id=a.id,
        ip_asset_id=a.ip_asset_id,
        applicant_id=a.applicant_id,
        licensor_id=a.licensor_id,
        license_terms_id=a.license_terms_id,
        application_data=a.application_data,
        max_base_fee=from_minor(a.max_base_fee_minor) if a.max_base_fee_minor is not None else None,
        max_revenue_share_percentage=a.max_revenue_share_percentage,
        status=a.status,
        approved_at=a.approved_at,
        approved_by=a.approved_by,
        expires_at=a.expires_at,
        rejection_reason=a.rejection_reason,
        revoked_at=a.revoked_at,
        revocation_reason=a.revocation_reason,
        terms=a.terms_snapshot,
        fee=from_minor(a.fee_minor),
        fee_status=a.fee_status,
        created_at=a.created_at,
        updated_at=a.updated_at,
    )


# --- terms -------------------------------------------------------------------------------


@terms_router.get(
    "",
    responses=_ERRORS,
    summary="License terms offered for an IP asset",
    openapi_extra=OPTIONAL_AUTH,
)
async def list_terms(
    asset_id: uuid.UUID,
    session: DbSession,
    viewer: MaybePrincipal,
    history: Annotated[bool, Query(description="Owner only: include retired versions")] = False,
) -> APIResponse[list[LicenseTermsRead]]:
    terms = await LicensingService(session).list_terms(asset_id, viewer, history=history)
    return ok([terms_read(t) for t in terms])


@terms_router.post(
    "", status_code=status.HTTP_201_CREATED, responses=_ERRORS, summary="Publish license terms"
)
async def create_terms(
    asset_id: uuid.UUID, body: LicenseTermsCreate, session: DbSession, principal: Party
) -> APIResponse[LicenseTermsRead]:
    terms = await LicensingService(session).create_terms(principal, asset_id, body)
    return ok(terms_read(terms))


@terms_router.put(
    "/{terms_id}",
    responses=_ERRORS,
    summary="Change license terms (a new version once anyone has applied)",
)
async def update_terms(
    asset_id: uuid.UUID,
    terms_id: uuid.UUID,
    body: LicenseTermsUpdate,
    session: DbSession,
    principal: Party,
) -> APIResponse[LicenseTermsRead]:
    terms = await LicensingService(session).update_terms(principal, asset_id, terms_id, body)
    return ok(terms_read(terms))


# --- applications ------------------------------------------------------------------------


@router.post(
    "/apply",
    status_code=status.HTTP_201_CREATED,
    response_model=APIResponse[LicenseApplicationRead],
    responses=_ERRORS,
    summary="Apply for a license (with a base fee: authorised on paymentMethod)",
    description=_APPLY_DOC,
)
async def apply(
    body: ApplicationCreate,
    request: Request,
    session: DbSession,
    principal: Applicant,
    idempotency_key: ApplyKeyHeader = None,
) -> APIResponse[LicenseApplicationRead] | Response:
    if body.payment_method is not None and idempotency_key is None:
        raise ValidationFailed.for_field(
            f"An {HEADER} header is required with a paymentMethod",
            field=HEADER,
            problem="required with paymentMethod",
            reason="idempotency_key_required",
            header=HEADER,
        )
    service = LicensingService(session)

    async def work() -> APIResponse[LicenseApplicationRead]:
        application_id = (
            uuid.uuid5(_APPLICATION_NAMESPACE, f"{principal.id}/{idempotency_key}")
            if idempotency_key is not None
            else None
        )
        return ok(
            application_read(await service.apply(principal, body, application_id=application_id))
        )

    if idempotency_key is None:
        return await work()

    async def as_it_now_stands(first: dict[str, Any]) -> APIResponse[LicenseApplicationRead]:
        return ok(application_read(await service.application(uuid.UUID(first["data"]["id"]))))

    idempotency = await idempotent_request(request, session, idempotency_key)
    return await idempotency.run_in_transaction(
        principal.id, work, status_code=201, replay=as_it_now_stands
    )


@router.get("/applications", responses=_ERRORS, summary="Applications you made or received")
async def list_applications(
    session: DbSession,
    paging: Paging,
    principal: Party,
    status_filter: Annotated[
        Literal["pending", "approved", "rejected", "revoked", "expired"] | None,
        Query(alias="status"),
    ] = None,
    ip_asset_id: Annotated[uuid.UUID | None, Query(alias="ipAssetId")] = None,
    role: Literal["applicant", "licensor"] | None = None,
) -> APIResponse[list[LicenseApplicationRead]]:
    items, total = await LicensingService(session).list_applications(
        principal,
        role=role,
        status=status_filter,
        ip_asset_id=ip_asset_id,
        offset=paging.offset,
        limit=paging.limit,
    )
    return paged(
        [application_read(a) for a in items], page=paging.page, limit=paging.limit, total=total
    )


@router.put(
    "/{license_id}/approve", responses=_ERRORS, summary="Approve an application (licensor or admin)"
)
async def approve(
    license_id: uuid.UUID,
    session: DbSession,
    principal: Licensor,
) -> APIResponse[LicenseApplicationRead]:
    return ok(application_read(await LicensingService(session).approve(principal, license_id)))


@router.put(
    "/{license_id}/reject", responses=_ERRORS, summary="Reject an application, with a reason"
)
async def reject(
    license_id: uuid.UUID, body: DecisionReason, session: DbSession, principal: Licensor
) -> APIResponse[LicenseApplicationRead]:
    return ok(
        application_read(await LicensingService(session).reject(principal, license_id, body.reason))
    )


@router.put(
    "/{license_id}/withdraw",
    responses=_ERRORS,
    summary="Withdraw your pending application (its fee is released)",
    description=(
        "The applicant takes back a pending application (409 once it is decided). The "
        "authorised base fee is released. The application is then `rejected`, with the "
        "reason `Withdrawn by the applicant`, decided by the applicant."
    ),
)
async def withdraw(
    license_id: uuid.UUID, session: DbSession, principal: Applicant
) -> APIResponse[LicenseApplicationRead]:
    return ok(application_read(await LicensingService(session).withdraw(principal, license_id)))


@router.put("/{license_id}/revoke", responses=_ERRORS, summary="Revoke a license, with a reason")
async def revoke(
    license_id: uuid.UUID, body: DecisionReason, session: DbSession, principal: Revoker
) -> APIResponse[LicenseApplicationRead]:
    return ok(
        application_read(await LicensingService(session).revoke(principal, license_id, body.reason))
    )


@router.get(
    "/{license_id}/verify", responses=_ERRORS, summary="Does this license authorise anything now?"
)
async def verify(license_id: uuid.UUID, session: DbSession) -> APIResponse[LicenseCheckRead]:
    check = await LicensingService(session).check(license_id)
    return ok(
        LicenseCheckRead(
            valid=check.valid,
            status=check.status,
            expires_at=check.expires_at,
            reasons=check.reasons,
        )
    )


# --- administrators ----------------------------------------------------------------------


@admin_router.put("/{license_id}/approve", responses=_ERRORS, summary="Approve an application")
async def admin_approve(
    license_id: uuid.UUID,
    session: DbSession,
    principal: AdminApprover,
) -> APIResponse[LicenseApplicationRead]:
    return ok(application_read(await LicensingService(session).approve(principal, license_id)))


@admin_router.put("/{license_id}/reject", responses=_ERRORS, summary="Reject an application")
async def admin_reject(
    license_id: uuid.UUID, body: DecisionReason, session: DbSession, principal: AdminApprover
) -> APIResponse[LicenseApplicationRead]:
    return ok(
        application_read(await LicensingService(session).reject(principal, license_id, body.reason))
    )


@admin_router.put("/{license_id}/revoke", responses=_ERRORS, summary="Revoke a license")
async def admin_revoke(
    license_id: uuid.UUID, body: DecisionReason, session: DbSession, principal: AdminRevoker
) -> APIResponse[LicenseApplicationRead]:
    return ok(
        application_read(await LicensingService(session).revoke(principal, license_id, body.reason))
    )
