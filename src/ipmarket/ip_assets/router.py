"""HTTP routes: /v1/ip-assets and /v1/admin/ip-assets."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status

from ipmarket import content_credentials
from ipmarket.config import Settings
from ipmarket.files import signed_url
from ipmarket.identity import (
    OPTIONAL_AUTH,
    AppSettings,
    Authorize,
    MaybePrincipal,
    Permission,
    Principal,
)
from ipmarket.ip_assets.models import IPAsset
from ipmarket.ip_assets.repository import AssetFilters
from ipmarket.ip_assets.schemas import (
    ContentCredentialsRead,
    IPAssetCreate,
    IPAssetRead,
    IPAssetUpdate,
    ReviewDecision,
)
from ipmarket.ip_assets.service import IPAssetService
from ipmarket.kit.clock import utcnow
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok, paged
from ipmarket.kit.errors import Unauthorized
from ipmarket.kit.pagination import Paging

router = APIRouter(prefix="/ip-assets", tags=["ip-assets"])
admin_router = APIRouter(prefix="/admin/ip-assets", tags=["admin"])

_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422, 429, 500)
Owner = Annotated[Principal, Depends(Authorize(Permission.CREATE_IP, Permission.APPLY_LICENSE))]
Reviewer = Annotated[Principal, Depends(Authorize(Permission.VERIFY_IP))]


async def asset_reads(
    session: DbSession, assets: list[IPAsset], settings: Settings
) -> list[IPAssetRead]:
    """API views of assets; file URLs are signed afresh for each answer, and the content
    credentials their images carried come along (one query for the whole page)."""
    now = utcnow()
    urls = {f: signed_url(f, settings=settings, now=now) for a in assets for f in a.file_ids}
    found = await content_credentials.credentials_of(session, list(urls))
    return [
        IPAssetRead(
            id=a.id,
            creator_id=a.creator_id,
            title=a.title,
            description=a.description,
            category=a.category,
            content_type=a.content_type,
            file_urls=[urls[f] for f in a.file_ids],
            content_credentials=[
                ContentCredentialsRead.of(urls[f], credentials)
                for f in a.file_ids
                if (credentials := found.get(f)) is not None
            ],
            metadata=a.metadata_,
            verification_status=a.verification_status,
            blockchain_hash=a.blockchain_hash,
            status=a.status,
            created_at=a.created_at,
            updated_at=a.updated_at,
            parent_license_id=a.parent_license_id,
            content_hash=a.content_hash,
            submitted_at=a.submitted_at,
            rejection_reason=a.rejection_reason,
        )
        for a in assets
    ]


def _service(session: DbSession, settings: Settings) -> IPAssetService:
    return IPAssetService(session, base_url=settings.public_base_url)


@router.get(
    "",
    responses=_ERRORS,
    summary="Browse approved IP assets (or your own with mine=true)",
    openapi_extra=OPTIONAL_AUTH,
)
async def list_assets(
    session: DbSession,
    settings: AppSettings,
    paging: Paging,
    viewer: MaybePrincipal,
    q: Annotated[str | None, Query(max_length=200, description="Full-text search")] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    content_type: Annotated[str | None, Query(alias="contentType", max_length=50)] = None,
    creator_id: Annotated[uuid.UUID | None, Query(alias="creatorId")] = None,
    mine: bool = False,
    sort: Literal["relevance", "newest", "oldest", "title"] | None = None,
) -> APIResponse[list[IPAssetRead]]:
    if mine and viewer is None:
        raise Unauthorized("Log in to list your own assets")
    filters = AssetFilters(
        q=q.strip() if q and q.strip() else None,
        category=category,
        content_type=content_type,
        creator_id=creator_id,
        mine_of=viewer.id if mine and viewer else None,
    )
    chosen = sort or ("relevance" if filters.q else "newest")
    assets, total = await _service(session, settings).search(
        filters, sort=chosen, offset=paging.offset, limit=paging.limit
    )
    return paged(
        await asset_reads(session, assets, settings),
        page=paging.page,
        limit=paging.limit,
        total=total,
    )


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses=_ERRORS, summary="Register an IP asset"
)
async def create_asset(
    body: IPAssetCreate, session: DbSession, settings: AppSettings, principal: Owner
) -> APIResponse[IPAssetRead]:
    asset = await _service(session, settings).create(principal, body)
    return ok((await asset_reads(session, [asset], settings))[0])


@router.get("/{asset_id}", responses=_ERRORS, summary="An IP asset", openapi_extra=OPTIONAL_AUTH)
async def get_asset(
    asset_id: uuid.UUID, session: DbSession, settings: AppSettings, viewer: MaybePrincipal
) -> APIResponse[IPAssetRead]:
    asset = await _service(session, settings).visible(asset_id, viewer)
    return ok((await asset_reads(session, [asset], settings))[0])


@router.put("/{asset_id}", responses=_ERRORS, summary="Edit your IP asset")
async def update_asset(
    asset_id: uuid.UUID,
    body: IPAssetUpdate,
    session: DbSession,
    settings: AppSettings,
    principal: Owner,
) -> APIResponse[IPAssetRead]:
    asset = await _service(session, settings).update(principal, asset_id, body)
    return ok((await asset_reads(session, [asset], settings))[0])


@router.delete("/{asset_id}", responses=_ERRORS, summary="Delete your IP asset (soft)")
async def delete_asset(
    asset_id: uuid.UUID, session: DbSession, settings: AppSettings, principal: Owner
) -> APIResponse[None]:
    await _service(session, settings).delete(principal, asset_id)
    return APIResponse[None](data=None)


@router.post("/{asset_id}/verify", responses=_ERRORS, summary="Submit your IP asset for review")
async def submit_asset(
    asset_id: uuid.UUID, session: DbSession, settings: AppSettings, principal: Owner
) -> APIResponse[IPAssetRead]:
    asset = await _service(session, settings).submit(principal, asset_id)
    return ok((await asset_reads(session, [asset], settings))[0])


@admin_router.put("/{asset_id}/verify", responses=_ERRORS, summary="Approve or reject an IP asset")
async def review_asset(
    asset_id: uuid.UUID,
    body: ReviewDecision,
    session: DbSession,
    settings: AppSettings,
    reviewer: Reviewer,
) -> APIResponse[IPAssetRead]:
    asset = await _service(session, settings).review(reviewer, asset_id, body.decision, body.reason)
    return ok((await asset_reads(session, [asset], settings))[0])
