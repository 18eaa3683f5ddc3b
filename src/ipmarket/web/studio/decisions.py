"""The studio's license pages: the applications a creator received, with approve and reject
(with a reason), and the licenses they granted, with revoke (with a reason, after a page
that states everything the revocation suspends below the license). The licensing
service's use cases, as PUT /v1/licenses/{id}/approve, /reject and /revoke call them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import Principal, usernames_of
from ipmarket.ip_assets import IPAssetRepository
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import Pagination
from ipmarket.kit.pagination import Paging
from ipmarket.licensing import LicenseApplication, LicensingService, terms_by_ids
from ipmarket.licensing.schemas import DecisionReason
from ipmarket.provenance import resting_on
from ipmarket.web.forms import form_values, rejects_form
from ipmarket.web.studio.common import Creator
from ipmarket.web.studio.views import ApplicationView
from ipmarket.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

ApplicationStatus = Literal["pending", "approved", "rejected", "revoked", "expired", "all"]
LicenseState = Literal["approved", "expired", "revoked"]
APPLICATION_FILTERS = [
    ("pending", "Waiting for you"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("all", "All"),
]
LICENSE_FILTERS = [("approved", "In force"), ("expired", "Expired"), ("revoked", "Revoked")]


async def _views(
    session: AsyncSession, applications: list[LicenseApplication]
) -> list[ApplicationView]:
    """Applications with their asset's title, the applicant's name and the terms applied
    under: three queries for the whole page, whatever its size."""
    assets = await IPAssetRepository(session).get_many([a.ip_asset_id for a in applications])
    names = await usernames_of(session, {a.applicant_id for a in applications})
    terms = await terms_by_ids(
        session, {a.license_terms_id for a in applications if not a.terms_snapshot}
    )
    return [
        ApplicationView.of(
            a,
            asset_title=assets[a.ip_asset_id].title if a.ip_asset_id in assets else "",
            applicant=names.get(a.applicant_id, ""),
            terms=terms.get(a.license_terms_id),
        )
        for a in applications
    ]


async def _received(
    session: AsyncSession, principal: Principal, license_id: uuid.UUID
) -> ApplicationView:
    """An application made to the visitor (404 for anyone else's), copied for the page."""
    application = await LicensingService(session).received(principal, license_id)
    [view] = await _views(session, [application])
    return view


def _reason(values: dict[str, Any]) -> dict[str, Any]:
    return {"reason": values["reason"]} if "reason" in values else {}


# --- applications ----------------------------------------------------------------------------


@router.get("/studio/applications", response_class=HTMLResponse)
async def applications(
    request: Request,
    session: DbSession,
    principal: Creator,
    paging: Paging,
    status: Annotated[ApplicationStatus, Query()] = "pending",
    asset: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    items, total = await LicensingService(session).list_applications(
        principal,
        role="licensor",
        status=None if status == "all" else status,
        ip_asset_id=asset,
        offset=paging.offset,
        limit=paging.limit,
    )
    base = f"/studio/applications?status={status}" + (f"&asset={asset}" if asset else "")
    return render(
        request,
        "studio/applications.html",
        {
            "applications": await _views(session, items),
            "page": Pagination.of(page=paging.page, limit=paging.limit, total=total),
            "base_url": base,
            "status": status,
            "asset_filter": asset,
            "filters": APPLICATION_FILTERS,
        },
    )


@router.get("/studio/applications/{license_id}", response_class=HTMLResponse)
async def application_page(
    request: Request, license_id: uuid.UUID, session: DbSession, principal: Creator
) -> Response:
    view = await _received(session, principal, license_id)
    return render(request, "studio/application.html", {"application": view, "form": {}})


@router.post("/studio/applications/{license_id}/approve", response_class=HTMLResponse)
async def approve(
    request: Request, license_id: uuid.UUID, session: DbSession, principal: Creator
) -> Response:
    view = await _received(session, principal, license_id)
    async with rejects_form("studio/application.html", {"application": view}, {}):
        await LicensingService(session).approve(principal, license_id)
    return redirect(
        request,
        f"/studio/applications/{license_id}",
        flash=f"Approved: {view.applicant} now holds a license of “{view.asset_title}”.",
    )


@router.post("/studio/applications/{license_id}/reject", response_class=HTMLResponse)
async def reject(
    request: Request, license_id: uuid.UUID, session: DbSession, principal: Creator
) -> Response:
    values = form_values(await request.form())
    view = await _received(session, principal, license_id)
    async with rejects_form("studio/application.html", {"application": view}, values):
        data = DecisionReason.model_validate(_reason(values))
        await LicensingService(session).reject(principal, license_id, data.reason)
    return redirect(
        request,
        "/studio/applications",
        flash=f"Rejected {view.applicant}'s application for “{view.asset_title}”.",
    )


# --- licenses --------------------------------------------------------------------------------


@router.get("/studio/licenses", response_class=HTMLResponse)
async def licenses(
    request: Request,
    session: DbSession,
    principal: Creator,
    paging: Paging,
    status: Annotated[LicenseState, Query()] = "approved",
) -> Response:
    items, total = await LicensingService(session).list_applications(
        principal,
        role="licensor",
        status=status,
        ip_asset_id=None,
        offset=paging.offset,
        limit=paging.limit,
    )
    return render(
        request,
        "studio/licenses.html",
        {
            "licenses": await _views(session, items),
            "page": Pagination.of(page=paging.page, limit=paging.limit, total=total),
            "base_url": f"/studio/licenses?status={status}",
            "status": status,
            "filters": LICENSE_FILTERS,
        },
    )


async def _revoke_page(
    session: AsyncSession, principal: Principal, license_id: uuid.UUID
) -> dict[str, Any]:
    view = await _received(session, principal, license_id)
    reach = await resting_on(session, license_id) if view.status == "approved" else None
    return {"license": view, "reach": reach}


@router.get("/studio/licenses/{license_id}/revoke", response_class=HTMLResponse)
async def revoke_form(
    request: Request, license_id: uuid.UUID, session: DbSession, principal: Creator
) -> Response:
    page = await _revoke_page(session, principal, license_id)
    return render(request, "studio/revoke.html", page | {"form": {}})


@router.post("/studio/licenses/{license_id}/revoke", response_class=HTMLResponse)
async def revoke(
    request: Request, license_id: uuid.UUID, session: DbSession, principal: Creator
) -> Response:
    values = form_values(await request.form())
    page = await _revoke_page(session, principal, license_id)
    async with rejects_form("studio/revoke.html", page, values):
        data = DecisionReason.model_validate(_reason(values))
        await LicensingService(session).revoke(principal, license_id, data.reason)
    view: ApplicationView = page["license"]
    reach = page["reach"]
    suspended = (
        f" {len(reach.products)} products and {len(reach.assets)} derivative works were "
        f"suspended with it; {len(reach.licenses)} licenses under them no longer authorise "
        "anything."
        if reach is not None and not reach.empty
        else ""
    )
    return redirect(
        request,
        "/studio/licenses?status=revoked",
        flash=f"Revoked {view.applicant}'s license of “{view.asset_title}”.{suspended}",
    )
