"""The studio's license terms pages: the terms an asset offers, every version of them, and
publishing or changing them. The licensing service's use cases, as POST and PUT
/v1/ip-assets/{id}/licenses call them: a change to terms someone applied under makes a new
version, and what they agreed to stays as it was."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.config import Settings
from ipmarket.identity import AppSettings, Principal
from ipmarket.kit.deps import DbSession
from ipmarket.kit.errors import NotFound
from ipmarket.licensing import LicensingService
from ipmarket.licensing.schemas import LicenseTermsCreate, LicenseTermsUpdate
from ipmarket.web.forms import form_values, rejects_form
from ipmarket.web.studio.common import Creator, asset_service
from ipmarket.web.studio.views import AssetView, TermsView
from ipmarket.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

LICENSE_TYPES = [
    ("standard", "Standard"),
    ("premium", "Premium"),
    ("exclusive", "Exclusive"),
]
_TEXT = (
    "licenseType",
    "revenueSharePercentage",
    "baseFee",
    "territory",
    "duration",
    "requirements",
    "restrictions",
)
_FREE_TEXT = ("requirements", "restrictions")
_CHECKS = ("autoApprove", "derivativesAllowed")
# What the page compares to tell what an edit changes: each field of the terms, and where
# the page's copy of the terms keeps its value now.
_CURRENT = {
    "license_type": "license_type",
    "revenue_share_percentage": "share",
    "base_fee": "fee",
    "territory": "territory",
    "duration": "duration",
    "requirements": "requirements",
    "restrictions": "restrictions",
    "auto_approve": "auto_approve",
    "derivatives_allowed": "derivatives_allowed",
}
NEW_TERMS = {
    "licenseType": "standard",
    "revenueSharePercentage": "10.00",
    "baseFee": "0.00",
    "territory": "WORLDWIDE",
    "duration": "P1Y",
    "derivativesAllowed": "true",
}


def _terms_body(values: dict[str, Any]) -> dict[str, Any]:
    """The API's terms body from the form: a box left empty is not sent; a checkbox is
    true when ticked and false when not (a browser sends nothing for an unticked box)."""
    body: dict[str, Any] = {name: values[name] for name in _TEXT if name in values}
    for name in _FREE_TEXT:  # an emptied box clears the text
        body.setdefault(name, "")
    for name in _CHECKS:
        body[name] = values.get(name) == "true"
    return body


def _versions(terms: list[TermsView]) -> list[list[TermsView]]:
    """The versions of each set of terms, newest first; current sets first."""
    lines: dict[uuid.UUID | None, list[TermsView]] = {}
    for t in terms:
        lines.setdefault(t.lineage_id, []).append(t)
    ordered = [sorted(v, key=lambda t: t.version, reverse=True) for v in lines.values()]
    return sorted(ordered, key=lambda v: (not v[0].is_current, -(v[0].version)))


async def _terms_page(
    session: AsyncSession, settings: Settings, principal: Principal, asset_id: uuid.UUID
) -> dict[str, Any]:
    asset = await asset_service(session, settings).owned(asset_id, principal, for_update=False)
    terms = await LicensingService(session).list_terms(asset_id, principal, history=True)
    views = [TermsView.of(t) for t in terms]
    return {
        "asset": AssetView.of(asset, settings),
        "lines": _versions(views),
        "license_types": LICENSE_TYPES,
    }


@router.get("/studio/assets/{asset_id}/terms", response_class=HTMLResponse)
async def terms_page(
    request: Request,
    asset_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Creator,
) -> Response:
    page = await _terms_page(session, settings, principal, asset_id)
    return render(request, "studio/terms.html", page | {"form": NEW_TERMS})


@router.post("/studio/assets/{asset_id}/terms", response_class=HTMLResponse)
async def publish_terms(
    request: Request,
    asset_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Creator,
) -> Response:
    values = form_values(await request.form())
    page = await _terms_page(session, settings, principal, asset_id)
    async with rejects_form("studio/terms.html", page, values):
        data = LicenseTermsCreate.model_validate(_terms_body(values))
        terms = await LicensingService(session).create_terms(principal, asset_id, data)
    return redirect(
        request,
        f"/studio/assets/{asset_id}/terms",
        flash=f"Published: {terms.license_type} terms, version {terms.version}.",
    )


async def _edit_terms_page(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    asset_id: uuid.UUID,
    terms_id: uuid.UUID,
) -> dict[str, Any]:
    page = await _terms_page(session, settings, principal, asset_id)
    found = [t for line in page["lines"] for t in line if t.id == terms_id]
    if not found:
        raise NotFound("License terms not found for this IP asset")
    return page | {"terms": found[0]}


@router.get("/studio/assets/{asset_id}/terms/{terms_id}", response_class=HTMLResponse)
async def edit_terms_form(
    request: Request,
    asset_id: uuid.UUID,
    terms_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Creator,
) -> Response:
    page = await _edit_terms_page(session, settings, principal, asset_id, terms_id)
    return render(request, "studio/terms_edit.html", page | {"form": page["terms"].form()})


@router.post("/studio/assets/{asset_id}/terms/{terms_id}", response_class=HTMLResponse)
async def edit_terms(
    request: Request,
    asset_id: uuid.UUID,
    terms_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Creator,
) -> Response:
    values = form_values(await request.form())
    page = await _edit_terms_page(session, settings, principal, asset_id, terms_id)
    current: TermsView = page["terms"]
    async with rejects_form("studio/terms_edit.html", page, values):
        # The whole form is read as new terms would be (an emptied box is a missing value),
        # and only what it changed is sent: saving it unchanged makes no new version.
        full = LicenseTermsCreate.model_validate(_terms_body(values))
        changed = {
            name: getattr(full, name)
            for name, now in _CURRENT.items()
            if getattr(full, name) != getattr(current, now)
        }
        terms = await LicensingService(session).update_terms(
            principal, asset_id, terms_id, LicenseTermsUpdate(**changed)
        )
    message = (
        f"Saved as version {terms.version}. Those who applied under version "
        f"{current.version} keep the terms they agreed to."
        if terms.id != terms_id
        else "Saved."
    )
    return redirect(request, f"/studio/assets/{asset_id}/terms", flash=message)
