"""The secondary creator's license pages: apply for a license of an IP asset, follow and
withdraw applications, the licenses held with their expiry, and a derivative work
registered under one of them. The licensing and IP assets services' use cases as pages."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.config import Settings
from ipmarket.identity import AppSettings, Permission, Principal
from ipmarket.ip_assets import AssetFilters, IPAssetRepository, IPAssetService
from ipmarket.ip_assets.schemas import IPAssetCreate
from ipmarket.kit.clock import utcnow
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import Pagination
from ipmarket.kit.errors import PaymentFailed
from ipmarket.kit.pagination import Paging
from ipmarket.licensing import LicenseApplication, LicensingService
from ipmarket.licensing.schemas import ApplicationCreate
from ipmarket.payments import accepted_test_cards, payment_method_for_card
from ipmarket.web.forms import form_values, rejects_form
from ipmarket.web.licenses.views import ApplicationView, AssetView
from ipmarket.web.licenses.words import TermsView
from ipmarket.web.session import SignedIn
from ipmarket.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

# As the API: applying is for secondary creators (APPLY_LICENSE); a derivative asset may be
# registered by anyone the API lets register assets (CREATE_IP or APPLY_LICENSE), under a
# license they hold.
Applicant = Annotated[Principal, Depends(SignedIn(Permission.APPLY_LICENSE))]
AssetMaker = Annotated[Principal, Depends(SignedIn(Permission.CREATE_IP, Permission.APPLY_LICENSE))]

ApplicationStatus = Literal["pending", "approved", "rejected", "revoked", "expired"]
LicenseState = Literal["approved", "expired", "revoked"]


def _assets(session: AsyncSession, settings: Settings) -> IPAssetService:
    return IPAssetService(session, base_url=settings.public_base_url)


async def _views(
    session: AsyncSession, applications: list[LicenseApplication]
) -> list[ApplicationView]:
    """Applications with their asset's title and terms: two queries for the whole page."""
    assets = await IPAssetRepository(session).get_many([a.ip_asset_id for a in applications])
    pending_terms = [a.license_terms_id for a in applications if not a.terms_snapshot]
    terms = await LicensingService(session).terms_of(pending_terms)
    now = utcnow()
    views = []
    for a in applications:
        asset = assets.get(a.ip_asset_id)
        current = terms.get(a.license_terms_id)
        views.append(
            ApplicationView.of(
                a,
                asset_title=asset.title if asset else "(asset removed)",
                terms=TermsView.of(current) if current else None,
                now=now,
            )
        )
    return views


# --- apply -----------------------------------------------------------------------------------


async def _apply_page(
    session: AsyncSession, settings: Settings, principal: Principal, asset_id: uuid.UUID
) -> dict[str, Any]:
    asset = await _assets(session, settings).visible(asset_id, principal)
    terms = await LicensingService(session).list_terms(asset_id, principal, history=False)
    views = [TermsView.of(t) for t in terms]
    return {
        "asset": AssetView.of(asset),
        "terms": views,
        "any_fee": any(t.has_fee for t in views),
        "cards": accepted_test_cards(),
    }


def _application_body(asset_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any]:
    """The API's apply body from the form: the optional boxes only when filled in."""
    body: dict[str, Any] = {"ipAssetId": str(asset_id)}
    for name in ("licenseTermsId", "maxBaseFee", "maxRevenueSharePercentage"):
        if name in values:
            body[name] = values[name]
    if "cardNumber" in values:
        body["paymentMethod"] = payment_method_for_card(values["cardNumber"])
    if values.get("plan"):
        body["applicationData"] = {"plan": values["plan"]}
    return body


@router.get("/ip/{asset_id}/apply", response_class=HTMLResponse)
async def apply_form(
    request: Request,
    asset_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Applicant,
    terms: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    page = await _apply_page(session, settings, principal, asset_id)
    chosen = terms or (page["terms"][0].id if len(page["terms"]) == 1 else None)
    return render(
        request, "licenses/apply.html", page | {"form": {"licenseTermsId": str(chosen or "")}}
    )


@router.post("/ip/{asset_id}/apply", response_class=HTMLResponse)
async def apply(
    request: Request,
    asset_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Applicant,
) -> Response:
    values = form_values(await request.form())
    page = await _apply_page(session, settings, principal, asset_id)
    async with rejects_form(
        "licenses/apply.html", page, values, field_names={"paymentMethod": "cardNumber"}
    ):
        data = ApplicationCreate.model_validate(_application_body(asset_id, values))
        try:
            await LicensingService(session).apply(principal, data)
        except PaymentFailed as exc:
            # A declined card: said beside the card box, and nothing is kept.
            raise PaymentFailed(
                exc.message, details={**exc.details, "fields": ["paymentMethod"]}
            ) from exc
    return redirect(
        request,
        "/licenses/applications",
        flash=f"Your application for “{page['asset'].title}” is made. Its status is below.",
    )


# --- applications ----------------------------------------------------------------------------


@router.get("/licenses/applications", response_class=HTMLResponse)
async def applications(
    request: Request,
    session: DbSession,
    principal: Applicant,
    paging: Paging,
    status: Annotated[ApplicationStatus | None, Query()] = None,
) -> Response:
    items, total = await LicensingService(session).list_applications(
        principal,
        role="applicant",
        status=status,
        ip_asset_id=None,
        offset=paging.offset,
        limit=paging.limit,
    )
    base_url = "/licenses/applications" + (f"?status={status}" if status else "")
    return render(
        request,
        "licenses/applications.html",
        {
            "applications": await _views(session, items),
            "page": Pagination.of(page=paging.page, limit=paging.limit, total=total),
            "base_url": base_url,
            "chosen_status": status,
            "statuses": [
                ("pending", "Pending"),
                ("approved", "Approved"),
                ("rejected", "Rejected or withdrawn"),
                ("revoked", "Revoked"),
                ("expired", "Expired"),
            ],
        },
    )


async def _own_application(
    session: AsyncSession, principal: Principal, license_id: uuid.UUID
) -> ApplicationView:
    application = await LicensingService(session).applied_by(principal, license_id)
    return (await _views(session, [application]))[0]


@router.get("/licenses/applications/{license_id}/withdraw", response_class=HTMLResponse)
async def withdraw_confirm(
    request: Request, license_id: uuid.UUID, session: DbSession, principal: Applicant
) -> Response:
    view = await _own_application(session, principal, license_id)
    return render(request, "licenses/withdraw.html", {"application": view})


@router.post("/licenses/applications/{license_id}/withdraw", response_class=HTMLResponse)
async def withdraw(
    request: Request, license_id: uuid.UUID, session: DbSession, principal: Applicant
) -> Response:
    application = await LicensingService(session).withdraw(principal, license_id)
    released = " The hold on your card is released." if application.fee_minor else ""
    return redirect(
        request, "/licenses/applications", flash=f"Your application is withdrawn.{released}"
    )


# --- licenses held ---------------------------------------------------------------------------


@router.get("/licenses", response_class=HTMLResponse)
async def licenses(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Applicant,
    paging: Paging,
    status: Annotated[LicenseState, Query()] = "approved",
) -> Response:
    items, total = await LicensingService(session).list_applications(
        principal,
        role="applicant",
        status=status,
        ip_asset_id=None,
        offset=paging.offset,
        limit=paging.limit,
    )
    derivatives, _ = await _assets(session, settings).search(
        AssetFilters(mine_of=principal.id), sort="newest", offset=0, limit=20
    )
    return render(
        request,
        "licenses/licenses.html",
        {
            "licenses": await _views(session, items),
            "page": Pagination.of(page=paging.page, limit=paging.limit, total=total),
            "base_url": f"/licenses?status={status}",
            "chosen_status": status,
            "statuses": [("approved", "Held"), ("expired", "Expired"), ("revoked", "Revoked")],
            "derivatives": [
                AssetView.of(a) for a in derivatives if a.parent_license_id is not None
            ],
        },
    )


# --- a derivative work under a license ------------------------------------------------------------


@router.get("/licenses/{license_id}/derivative", response_class=HTMLResponse)
async def derivative_form(
    request: Request, license_id: uuid.UUID, session: DbSession, principal: AssetMaker
) -> Response:
    view = await _own_application(session, principal, license_id)
    return render(
        request,
        "licenses/derivative.html",
        {"license": view, "form": {"submitForReview": "true"}},
    )


@router.post("/licenses/{license_id}/derivative", response_class=HTMLResponse)
async def register_derivative(
    request: Request,
    license_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: AssetMaker,
) -> Response:
    values = form_values(await request.form())
    view = await _own_application(session, principal, license_id)
    fields = ("title", "description", "category", "contentType")
    async with rejects_form("licenses/derivative.html", {"license": view}, values):
        data = IPAssetCreate.model_validate(
            {k: values[k] for k in fields if k in values} | {"parentLicenseId": str(license_id)}
        )
        service = _assets(session, settings)
        asset = await service.create(principal, data)
        if values.get("submitForReview"):
            await service.submit(principal, asset.id)
    sent = " and sent for review" if values.get("submitForReview") else ""
    return redirect(
        request, "/licenses", flash=f"Your derivative work “{data.title}” is registered{sent}."
    )
