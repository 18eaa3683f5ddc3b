"""HTTP routes: /v1/auth/*, /v1/users/me, and the JWKS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, status

from ipmarket.identity.deps import AppSettings, CurrentPrincipal, Signer
from ipmarket.identity.models import User
from ipmarket.identity.schemas import (
    AuthResult,
    ForgotPasswordRequest,
    LoginRequest,
    MessageRead,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    UpdateMeRequest,
    UserRead,
)
from ipmarket.identity.service import (
    AccountLocked,
    IdentityService,
    IssuedTokens,
    WrongCurrentPassword,
)
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok
from ipmarket.kit.errors import AppError

router = APIRouter(tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"])
wellknown_router = APIRouter(tags=["auth"])

_AUTH_ERRORS = error_responses(400, 401, 403, 413, 422, 429, 500)


def user_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        email=user.email,
        user_type=user.user_type,
        verification_level=user.verification_level,
        status=user.status,
        email_verified=user.email_verified_at is not None,
        profile_data=user.profile_data,
        admin_level=user.admin_level,
        departments=list(user.departments) if user.admin_level else None,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def _auth_result(issued: IssuedTokens) -> APIResponse[AuthResult]:
    return ok(
        AuthResult(
            user=user_read(issued.user),
            token=issued.access_token,
            refresh_token=issued.refresh_token,
            expires_in=issued.expires_in,
        )
    )


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 403, 409, 413, 422, 429, 500),
    summary="Register a creator, secondary creator or buyer",
)
async def register(
    body: RegisterRequest, session: DbSession, signer: Signer, settings: AppSettings
) -> APIResponse[AuthResult]:
    service = IdentityService(session, signer=signer, settings=settings)
    return _auth_result(await service.register(body))


@router.post("/auth/login", responses=_AUTH_ERRORS, summary="Log in with email and password")
async def login(
    body: LoginRequest, session: DbSession, signer: Signer, settings: AppSettings
) -> APIResponse[AuthResult]:
    service = IdentityService(session, signer=signer, settings=settings)
    try:
        issued = await service.login(body.email, body.password)
    except AppError:
        # The failure itself is recorded (attempt counter, lockout, audit row).
        await session.commit()
        raise
    return _auth_result(issued)


@router.post("/auth/refresh", responses=_AUTH_ERRORS, summary="Rotate a refresh token")
async def refresh(
    body: RefreshRequest, session: DbSession, signer: Signer, settings: AppSettings
) -> APIResponse[AuthResult]:
    service = IdentityService(session, signer=signer, settings=settings)
    try:
        issued = await service.refresh(body.refresh_token)
    except AppError:
        # Reuse of a spent token revokes its session; that must stick.
        await session.commit()
        raise
    return _auth_result(issued)


@router.post("/auth/logout", responses=_AUTH_ERRORS, summary="End the session of a refresh token")
async def logout(
    body: RefreshRequest, session: DbSession, signer: Signer, settings: AppSettings
) -> APIResponse[MessageRead]:
    await IdentityService(session, signer=signer, settings=settings).logout(body.refresh_token)
    return ok(MessageRead(message="Logged out"))


@router.post(
    "/auth/forgot-password",
    responses=_AUTH_ERRORS,
    summary="Email a password reset token (answers the same whether or not the address exists)",
)
async def forgot_password(
    body: ForgotPasswordRequest, session: DbSession, signer: Signer, settings: AppSettings
) -> APIResponse[MessageRead]:
    await IdentityService(session, signer=signer, settings=settings).forgot_password(body.email)
    return ok(MessageRead(message="If the address is registered, a reset email is on its way"))


@router.post(
    "/auth/reset-password",
    responses=_AUTH_ERRORS,
    summary="Set a new password with a reset token; ends every session",
)
async def reset_password(
    body: ResetPasswordRequest, session: DbSession, signer: Signer, settings: AppSettings
) -> APIResponse[MessageRead]:
    await IdentityService(session, signer=signer, settings=settings).reset_password(
        body.token, body.password
    )
    return ok(MessageRead(message="Password changed; log in again"))


@router.get(
    "/auth/verify-email/{token}",
    responses=error_responses(404, 422, 429, 500),
    summary="Confirm an email address",
)
async def verify_email(
    session: DbSession,
    signer: Signer,
    settings: AppSettings,
    token: str = Path(min_length=16, max_length=256),
) -> APIResponse[UserRead]:
    user = await IdentityService(session, signer=signer, settings=settings).verify_email(token)
    return ok(user_read(user))


@users_router.get("/me", responses=error_responses(401, 403, 429, 500), summary="Your account")
async def get_me(principal: CurrentPrincipal) -> APIResponse[UserRead]:
    return ok(user_read(principal.user))


@users_router.put(
    "/me",
    responses=error_responses(400, 401, 403, 409, 413, 422, 429, 500),
    summary="Change your username, profile or password",
    description=(
        "A password change needs `currentPassword`. A wrong one is 403 and counts toward the "
        "account lockout like a failed login; while the account is locked it is 429."
    ),
)
async def update_me(
    body: UpdateMeRequest,
    principal: CurrentPrincipal,
    session: DbSession,
    signer: Signer,
    settings: AppSettings,
) -> APIResponse[UserRead]:
    service = IdentityService(session, signer=signer, settings=settings)
    try:
        user = await service.update_me(principal.user, body, current_session=principal.session_id)
    except (WrongCurrentPassword, AccountLocked):
        # A wrong current password counts toward the lockout, like a failed login; the
        # service raises it before changing anything else, so the commit keeps only that.
        await session.commit()
        raise
    return ok(user_read(user))


@wellknown_router.get(
    "/.well-known/jwks.json", summary="Public keys that verify access tokens", response_model=None
)
async def jwks(signer: Signer) -> dict[str, Any]:
    return signer.jwks()
