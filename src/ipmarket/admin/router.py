"""Admin routes for users, platform settings, the audit trail and the review queues
(seed §3.2.7)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit
from ipmarket.admin.queries import admin_user_reads, pending_ip_assets, pending_licenses
from ipmarket.admin.schemas import AdminIPAssetRead, AdminLicenseRead, AdminUserRead
from ipmarket.admin.service import change_platform_settings
from ipmarket.identity import (
    Authorize,
    Permission,
    Principal,
    SuspendRequest,
    UnsuspendRequest,
    User,
    UserAdministration,
    UserStatusUpdate,
    UserVerificationUpdate,
)
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok, paged
from ipmarket.kit.pagination import Paging
from ipmarket.settings import PlatformSettings, PlatformSettingsPatch, get_platform_settings

router = APIRouter(prefix="/admin", tags=["admin"])
users_router = APIRouter(prefix="/admin/users", tags=["admin"])

_ERRORS = error_responses(400, 401, 403, 413, 422, 429, 500)
_USER_ERRORS = error_responses(400, 401, 403, 404, 413, 422, 429, 500)


async def _admin_user_read(session: AsyncSession, user: User) -> AdminUserRead:
    [read] = await admin_user_reads(session, [user])
    return read


@users_router.get("", responses=_USER_ERRORS, summary="Find users")
async def list_users(
    session: DbSession,
    paging: Paging,
    _: Annotated[Principal, Depends(Authorize(Permission.VIEW_USER_DETAILS))],
    user_type: Annotated[
        Literal["creator", "secondary_creator", "buyer", "admin"] | None, Query(alias="userType")
    ] = None,
    status: Literal["active", "suspended", "banned"] | None = None,
    verification_level: Annotated[
        Literal["unverified", "verified", "premium"] | None, Query(alias="verificationLevel")
    ] = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
    sort: Literal["newest", "oldest", "username"] = "newest",
) -> APIResponse[list[AdminUserRead]]:
    users, total = await UserAdministration(session).list(
        user_type=user_type,
        status=status,
        verification_level=verification_level,
        search=search,
        sort=sort,
        offset=paging.offset,
        limit=paging.limit,
    )
    return paged(
        await admin_user_reads(session, users),
        page=paging.page,
        limit=paging.limit,
        total=total,
    )


@users_router.put("/{user_id}/status", responses=_USER_ERRORS, summary="Set a user's status")
async def update_status(
    user_id: uuid.UUID,
    body: UserStatusUpdate,
    session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Permission.MANAGE_USERS))],
) -> APIResponse[AdminUserRead]:
    user = await UserAdministration(session).set_status(
        user_id, body.status, body.reason, actor=principal.user
    )
    return ok(await _admin_user_read(session, user))


@users_router.put(
    "/{user_id}/verify", responses=_USER_ERRORS, summary="Change a user's verification level"
)
async def update_verification(
    user_id: uuid.UUID,
    body: UserVerificationUpdate,
    session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Permission.VERIFY_USERS))],
) -> APIResponse[AdminUserRead]:
    user = await UserAdministration(session).set_verification(
        user_id, body.verification_level, actor=principal.user
    )
    return ok(await _admin_user_read(session, user))


@users_router.post("/{user_id}/suspend", responses=_USER_ERRORS, summary="Suspend a user")
async def suspend(
    user_id: uuid.UUID,
    body: SuspendRequest,
    session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Permission.SUSPEND_USERS))],
) -> APIResponse[AdminUserRead]:
    user = await UserAdministration(session).set_status(
        user_id, "suspended", body.reason, actor=principal.user
    )
    return ok(await _admin_user_read(session, user))


@users_router.post("/{user_id}/unsuspend", responses=_USER_ERRORS, summary="Lift a suspension")
async def unsuspend(
    user_id: uuid.UUID,
    session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Permission.SUSPEND_USERS))],
    body: UnsuspendRequest | None = None,
) -> APIResponse[AdminUserRead]:
    admin = UserAdministration(session)
    user = await admin.unsuspend(user_id, body.reason if body else None, actor=principal.user)
    return ok(await _admin_user_read(session, user))


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
