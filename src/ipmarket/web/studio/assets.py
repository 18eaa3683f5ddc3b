"""The studio's IP asset pages: the overview, registering an asset with its files, its
page, editing it (and adding files), and submitting it for review. The IP assets service's
use cases, as POST /v1/ip-assets, PUT /v1/ip-assets/{id} and POST /v1/ip-assets/{id}/verify
call them."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import content_credentials
from ipmarket.config import Settings
from ipmarket.files import accepted_upload
from ipmarket.identity import AppSettings, Principal
from ipmarket.ip_assets import AssetFilters, IPAsset
from ipmarket.ip_assets.schemas import IPAssetCreate, IPAssetUpdate
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import Pagination
from ipmarket.kit.money import CURRENCY, from_minor
from ipmarket.kit.pagination import Paging
from ipmarket.licensing import LicensingService, pending_applications_per_asset
from ipmarket.payments import revenue_per_user
from ipmarket.settings import get_platform_settings
from ipmarket.web.forms import field_problem, form_values, rejects_form
from ipmarket.web.studio.common import (
    CREATOR,
    FILE_FIELD,
    Creator,
    FileStorage,
    asset_service,
    chosen_files,
)
from ipmarket.web.studio.views import AssetView, TermsView, file_path, review_of
from ipmarket.web.templating import redirect, render
from ipmarket.web.uploads import file_bytes, upload_form_router

router = APIRouter(include_in_schema=False)

# Forms that carry files. Their POST paths get the upload body limit (app.py), and the
# visitor is checked before the body is read: a stranger's upload is refused unread.
REGISTER_PATH = "/studio/assets/new"
ADD_FILES_PATH = "/studio/uploads"
UPLOAD_FORM_PATHS = (REGISTER_PATH, ADD_FILES_PATH)
uploads = upload_form_router(CREATOR)

_TEXT_FIELDS = ("title", "description", "category", "contentType")


async def _upload_hint(session: AsyncSession) -> dict[str, Any]:
    content = (await get_platform_settings(session)).content
    return {
        "size_limit": _size_words(content.max_file_size),
        "allowed_file_types": sorted(content.allowed_file_types),
    }


def _size_words(size: int) -> str:
    """'50 MB', '512 KB', '900 bytes'."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


async def _owned_view(
    session: AsyncSession, settings: Settings, principal: Principal, asset_id: uuid.UUID
) -> AssetView:
    """The visitor's own asset (403 for another's, 404 for none), copied for the page."""
    asset = await asset_service(session, settings).owned(asset_id, principal, for_update=False)
    pending = await pending_applications_per_asset(session, [asset.id])
    return AssetView.of(asset, settings, pending_applications=pending.get(asset.id, 0))


def _after_edit(before: AssetView, after: IPAsset) -> str:
    """What an edit did to the asset's review, in words."""
    review = review_of(after)
    if before.review == "approved" and review != "approved":
        return (
            f"Saved. The changes send “{after.title}” back to review: it is not open for "
            "licensing until it is approved again."
        )
    return "Saved."


# --- overview --------------------------------------------------------------------------------


@router.get("/studio", response_class=HTMLResponse)
async def overview(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Creator,
    paging: Paging,
) -> Response:
    assets, total = await asset_service(session, settings).search(
        AssetFilters(mine_of=principal.id), sort="newest", offset=paging.offset, limit=paging.limit
    )
    pending = await pending_applications_per_asset(session, [a.id for a in assets])
    licensing = LicensingService(session)
    _, pending_total = await licensing.list_applications(
        principal, role="licensor", status="pending", ip_asset_id=None, offset=0, limit=1
    )
    _, granted_total = await licensing.list_applications(
        principal, role="licensor", status="approved", ip_asset_id=None, offset=0, limit=1
    )
    earned = (await revenue_per_user(session, [principal.id])).get(principal.id, 0)
    return render(
        request,
        "studio/overview.html",
        {
            "assets": [
                AssetView.of(a, settings, pending_applications=pending.get(a.id, 0)) for a in assets
            ],
            "page": Pagination.of(page=paging.page, limit=paging.limit, total=total),
            "pending_total": pending_total,
            "granted_total": granted_total,
            "earned": from_minor(earned),
            "currency": CURRENCY,
        },
    )


# --- register --------------------------------------------------------------------------------


@router.get(REGISTER_PATH, response_class=HTMLResponse, dependencies=[Depends(CREATOR)])
async def new_asset_form(request: Request, session: DbSession) -> Response:
    return render(request, "studio/asset_new.html", await _upload_hint(session) | {"form": {}})


@uploads.post(REGISTER_PATH, response_class=HTMLResponse)
async def register_asset(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    storage: FileStorage,
    principal: Creator,
) -> Response:
    form = await request.form()
    values = form_values(form, lists=(FILE_FIELD,))
    body = {name: values[name] for name in _TEXT_FIELDS if name in values}
    files = chosen_files(form)
    async with rejects_form("studio/asset_new.html", await _upload_hint(session), values):
        IPAssetCreate.model_validate(body)  # the boxes first: nothing is stored for a typo
        async with AsyncExitStack() as stored:
            kept = [
                await stored.enter_async_context(
                    accepted_upload(session, storage, principal.id, file_bytes(f), f.filename)
                )
                for f in files
            ]
            data = IPAssetCreate.model_validate(
                body | {"fileUrls": [file_path(f.id) for f in kept]}
            )
            asset = await asset_service(session, settings).create(principal, data)
    return redirect(
        request,
        f"/studio/assets/{asset.id}",
        flash=f"“{asset.title}” is registered as a draft. Submit it for review when it is ready.",
    )


# --- one asset -------------------------------------------------------------------------------


@router.get("/studio/assets/{asset_id}", response_class=HTMLResponse)
async def asset_page(
    request: Request,
    asset_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Creator,
) -> Response:
    return render(
        request, "studio/asset.html", await _asset_page(session, settings, principal, asset_id)
    )


async def _asset_page(
    session: AsyncSession, settings: Settings, principal: Principal, asset_id: uuid.UUID
) -> dict[str, Any]:
    asset = await _owned_view(session, settings, principal, asset_id)
    terms = await LicensingService(session).list_terms(asset_id, principal, history=False)
    found = await content_credentials.credentials_of(session, [f.id for f in asset.files])
    credentials = [
        f"{f.label}: {content_credentials.describe(c)}"
        for f in asset.files
        if (c := found.get(f.id)) is not None
    ]
    return {"asset": asset, "terms": [TermsView.of(t) for t in terms], "credentials": credentials}


@router.post("/studio/assets/{asset_id}/submit", response_class=HTMLResponse)
async def submit_asset(
    request: Request,
    asset_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Creator,
) -> Response:
    page = await _asset_page(session, settings, principal, asset_id)
    async with rejects_form("studio/asset.html", page, {}):
        asset = await asset_service(session, settings).submit(principal, asset_id)
    review = review_of(asset)
    message = (
        f"“{asset.title}” is approved and open for licensing."
        if review == "approved"
        else f"“{asset.title}” is submitted: an administrator will review it."
    )
    return redirect(request, f"/studio/assets/{asset_id}", flash=message)


# --- edit ------------------------------------------------------------------------------------


async def _edit_page(
    session: AsyncSession, settings: Settings, principal: Principal, asset_id: uuid.UUID
) -> dict[str, Any]:
    asset = await _owned_view(session, settings, principal, asset_id)
    return {"asset": asset} | await _upload_hint(session)


@router.get("/studio/assets/{asset_id}/edit", response_class=HTMLResponse)
async def edit_form(
    request: Request,
    asset_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Creator,
) -> Response:
    page = await _edit_page(session, settings, principal, asset_id)
    return render(request, "studio/asset_edit.html", page | {"form": page["asset"].form()})


@router.post("/studio/assets/{asset_id}/edit", response_class=HTMLResponse)
async def edit_asset(
    request: Request,
    asset_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Creator,
) -> Response:
    values = form_values(await request.form(), lists=("keepFiles",))
    page = await _edit_page(session, settings, principal, asset_id)
    before: AssetView = page["asset"]
    body: dict[str, Any] = {name: values.get(name, "") for name in _TEXT_FIELDS}
    kept = values.get("keepFiles", [])
    if kept != [str(f.id) for f in before.files]:
        body["fileUrls"] = [file_path(uuid.UUID(k)) if _is_uuid(k) else k for k in kept]
    async with rejects_form("studio/asset_edit.html", page, values):
        data = IPAssetUpdate.model_validate(body)
        asset = await asset_service(session, settings).update(principal, asset_id, data)
    return redirect(request, f"/studio/assets/{asset_id}", flash=_after_edit(before, asset))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@uploads.post(ADD_FILES_PATH + "/{asset_id}", response_class=HTMLResponse)
async def add_files(
    request: Request,
    asset_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    storage: FileStorage,
    principal: Creator,
) -> Response:
    form = await request.form()
    page = await _edit_page(session, settings, principal, asset_id)
    before: AssetView = page["asset"]
    files = chosen_files(form)
    async with rejects_form("studio/asset_edit.html", page | {"form": before.form()}, {}):
        if not files:
            raise field_problem("Choose at least one file to add", field_name=FILE_FIELD)
        async with AsyncExitStack() as stored:
            added = [
                await stored.enter_async_context(
                    accepted_upload(session, storage, principal.id, file_bytes(f), f.filename)
                )
                for f in files
            ]
            data = IPAssetUpdate.model_validate(
                {
                    "fileUrls": [file_path(f.id) for f in before.files]
                    + [file_path(f.id) for f in added]
                }
            )
            asset = await asset_service(session, settings).update(principal, asset_id, data)
    return redirect(request, f"/studio/assets/{asset_id}", flash=_after_edit(before, asset))
