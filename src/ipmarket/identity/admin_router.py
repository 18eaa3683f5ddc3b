"""User administration routes (seed §3.2.7): /v1/admin/users."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity.deps import Authorize, Principal
from ipmarket.identity.events import UserTotalsWanted
from ipmarket.identity.models import User
from ipmarket.identity.permissions import Permission
from ipmarket.identity.schemas import (
    AdminUserRead,
    SuspendRequest,
    UnsuspendRequest,
    UserStatusUpdate,
    UserVerificationUpdate,
)
from ipmarket.identity.service import UserAdministration
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok, paged
from ipmarket.kit.hooks import dispatch
from ipmarket.kit.money import from_minor
from ipmarket.kit.pagination import Paging

router = APIRouter(prefix="/admin/users", tags=["admin"])

_ERRORS = error_responses(400, 401, 403, 404, 413, 422, 429, 500)


async def admin_user_reads(session: AsyncSession, users: list[User]) -> list[AdminUserRead]:
    """Users as administrators see them, with the totals the modules that own IP assets,
    products and money report (one query each, however many users)."""
    totals = UserTotalsWanted(user_ids=[user.id for user in users])
    if users:
        await dispatch(session, totals)
    return [
        AdminUserRead(
            id=user.id,
            username=user.username,
            email=user.email,
            user_type=user.user_type,
            status=user.status,
            verification_level=user.verification_level,
            join_date=user.created_at,
            last_active=user.last_active_at,
            total_revenue=float(from_minor(totals.revenue_minor.get(user.id, 0))),
            total_ips=totals.ips.get(user.id, 0),
            total_products=totals.products.get(user.id, 0),
            profile_data=user.profile_data,
            email_verified=user.email_verified_at is not None,
            status_reason=user.status_reason,
        )
        for user in users
    ]


async def admin_user_read(session: AsyncSession, user: User) -> AdminUserRead:
    [read] = await admin_user_reads(session, [user])
    return read


@router.get("", responses=_ERRORS, summary="Find users")
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
        await admin_user_reads(session, list(users)),
        page=paging.page,
        limit=paging.limit,
        total=total,
    )


@router.put("/{user_id}/status", responses=_ERRORS, summary="Set a user's status")
async def update_status(
    user_id: uuid.UUID,
    body: UserStatusUpdate,
    session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Permission.MANAGE_USERS))],
) -> APIResponse[AdminUserRead]:
    user = await UserAdministration(session).set_status(
        user_id, body.status, body.reason, actor=principal.user
    )
    return ok(await admin_user_read(session, user))


@router.put("/{user_id}/verify", responses=_ERRORS, summary="Change a user's verification level")
async def update_verification(
    user_id: uuid.UUID,
    body: UserVerificationUpdate,
    session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Permission.VERIFY_USERS))],
) -> APIResponse[AdminUserRead]:
    user = await UserAdministration(session).set_verification(
        user_id, body.verification_level, actor=principal.user
    )
    return ok(await admin_user_read(session, user))


@router.post("/{user_id}/suspend", responses=_ERRORS, summary="Suspend a user")
async def suspend(
    user_id: uuid.UUID,
    body: SuspendRequest,
    session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Permission.SUSPEND_USERS))],
) -> APIResponse[AdminUserRead]:
    user = await UserAdministration(session).set_status(
        user_id, "suspended", body.reason, actor=principal.user
    )
    return ok(await admin_user_read(session, user))


@router.post("/{user_id}/unsuspend", responses=_ERRORS, summary="Lift a suspension")
async def unsuspend(
    user_id: uuid.UUID,
    session: DbSession,
    principal: Annotated[Principal, Depends(Authorize(Permission.SUSPEND_USERS))],
    body: UnsuspendRequest | None = None,
) -> APIResponse[AdminUserRead]:
    admin = UserAdministration(session)
    user = await admin.unsuspend(user_id, body.reason if body else None, actor=principal.user)
    return ok(await admin_user_read(session, user))
