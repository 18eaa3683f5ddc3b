"""Admin routes for platform settings and the audit trail (seed §3.2.7)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from ipmarket import audit
from ipmarket.admin.queries import pending_ip_assets, pending_licenses
from ipmarket.admin.schemas import AdminIPAssetRead, AdminLicenseRead
from ipmarket.admin.service import change_platform_settings
from ipmarket.identity import Authorize, Permission, Principal
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok, paged
from ipmarket.kit.pagination import Paging
from ipmarket.settings import PlatformSettings, PlatformSettingsPatch, get_platform_settings

router = APIRouter(prefix="/admin", tags=["admin"])

_ERRORS = error_responses(400, 401, 403, 413, 422, 429, 500)


@router.get("/settings", responses=_ERRORS, summary="Platform settings")
async def get_settings(
    session: DbSession,
    _: Annotated[Principal, Depends(Authorize(Permission.PLATFORM_SETTINGS))],
) -> APIResponse[PlatformSettings]:
    return ok(await get_platform_settings(session))


@router.put(
    "/settings", responses=_ERRORS, summary="Change platform settings (partial, deep-merged)"
)
async def put_settings(
    body: PlatformSettingsPatch,
    session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Permission.PLATFORM_SETTINGS))],
) -> APIResponse[PlatformSettings]:
    return ok(await change_platform_settings(session, body, actor_id=principal.id))


@router.get(
    "/audit-logs", responses=_ERRORS, summary="The audit trail, newest first unless sort=oldest"
)
async def get_audit_logs(
    session: DbSession,
    paging: Paging,
    _: Annotated[Principal, Depends(Authorize(Permission.AUDIT_LOGS))],
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    resource_type: Annotated[str | None, Query(alias="resourceType", max_length=50)] = None,
    resource_id: Annotated[uuid.UUID | None, Query(alias="resourceId")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: Literal["newest", "oldest"] = "newest",
) -> APIResponse[list[audit.AuditLogRead]]:
    rows, total = await audit.list_audit_logs(
        session,
        user_id=user_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        since=since,
        until=until,
        offset=paging.offset,
        limit=paging.limit,
        sort=sort,
    )
    items = [audit.AuditLogRead.model_validate(r) for r in rows]
    return paged(items, page=paging.page, limit=paging.limit, total=total)


@router.get("/ip-assets/pending", responses=_ERRORS, summary="IP assets waiting for review")
async def get_pending_ip_assets(
    session: DbSession,
    paging: Paging,
    _: Annotated[Principal, Depends(Authorize(Permission.VERIFY_IP))],
) -> APIResponse[list[AdminIPAssetRead]]:
    items, total = await pending_ip_assets(session, offset=paging.offset, limit=paging.limit)
    reads = [AdminIPAssetRead.model_validate(item) for item in items]
    return paged(reads, page=paging.page, limit=paging.limit, total=total)


@router.get(
    "/licenses/pending", responses=_ERRORS, summary="License applications waiting for a decision"
)
async def get_pending_licenses(
    session: DbSession,
    paging: Paging,
    _: Annotated[Principal, Depends(Authorize(Permission.APPROVE_LICENSES))],
) -> APIResponse[list[AdminLicenseRead]]:
    items, total = await pending_licenses(session, offset=paging.offset, limit=paging.limit)
    reads = [AdminLicenseRead.model_validate(item) for item in items]
    return paged(reads, page=paging.page, limit=paging.limit, total=total)
