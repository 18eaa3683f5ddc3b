"""Authentication and authorization dependencies for routes.

Every /v1 route either depends on `Authorize(...)` or is on the public list in `ipmarket.api`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.config import Settings
from ipmarket.identity.models import AuthSession, User, UserStatus
from ipmarket.identity.permissions import ACTING_PERMISSIONS, Permission, holds, permissions_for
from ipmarket.identity.repository import UserRepository
from ipmarket.identity.tokens import InvalidToken, TokenSigner
from ipmarket.kit.clock import utcnow
from ipmarket.kit.crypto import token_digest
from ipmarket.kit.deps import DbSession
from ipmarket.kit.errors import Forbidden, Unauthorized
from ipmarket.settings import get_platform_settings

_bearer = HTTPBearer(auto_error=False, description="Access token from /v1/auth/login")
_ACTIVITY_RESOLUTION = timedelta(minutes=5)


def get_signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.signer
    return signer


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Signer = Annotated[TokenSigner, Depends(get_signer)]
AppSettings = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user: User
    session_id: uuid.UUID
    permissions: list[str]

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    def can(self, permission: Permission) -> bool:
        return holds(self.permissions, permission)


class Authorize:
    """Require an authenticated, active caller holding one of `permissions` (none named:
    any user).

    The user and their session are read from the database on every request, so a
    suspension, ban, logout or password reset takes effect at once, even for a token
    issued before it. Object ownership is checked by the services, not here.
    """

    def __init__(self, *permissions: Permission) -> None:
        self.permissions = permissions

    async def __call__(
        self,
        session: DbSession,
        signer: Signer,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("Authentication required")
        now = utcnow()
        try:
            claims = signer.verify(credentials.credentials, now=now)
        except InvalidToken as exc:
            raise Unauthorized("Invalid or expired access token") from exc
        found = await UserRepository(session).with_session(claims.user_id, claims.session_id)
        if found is None:
            raise Unauthorized("Invalid or expired access token")
        user, auth_session = found
        return await admit(session, user, auth_session, self.permissions, now=now)


async def admit(
    session: AsyncSession,
    user: User,
    auth_session: AuthSession,
    required: tuple[Permission, ...],
    *,
    now: datetime,
) -> Principal:
    """The checks every authenticated request passes, by bearer token or browser cookie:
    an active account, a live session, then `require_permissions`."""
    # The account's state comes first: a suspended user is told so, not "session ended".
    if user.status != UserStatus.ACTIVE:
        raise Forbidden(f"Account is {user.status}", details={"status": user.status})
    if auth_session.revoked_at is not None:
        raise Unauthorized("Session has ended")
    # Permissions come from the current row, not the token, so a change applies at once.
    permissions = permissions_for(user.user_type, user.admin_level, user.departments)
    principal = Principal(user=user, session_id=auth_session.id, permissions=permissions)
    await require_permissions(session, principal, required)
    if user.last_active_at is None or now - user.last_active_at > _ACTIVITY_RESOLUTION:
        user.last_active_at = now
    return principal


async def require_permissions(
    session: AsyncSession, principal: Principal, required: tuple[Permission, ...]
) -> None:
    """Refuse a caller who holds none of `required` (none named: anyone passes), or who
    acts (creates, buys) before verifying their email when the platform asks for it."""
    if not required:
        return
    granted = [p for p in required if principal.can(p)]
    if not granted:
        raise Forbidden(
            "You do not have permission to do this",
            details={"requiredPermission": [p.value for p in required]},
        )
    if all(p in ACTING_PERMISSIONS for p in granted) and principal.user.email_verified_at is None:
        platform = await get_platform_settings(session)
        if platform.general.require_email_verification:
            raise Forbidden(
                "Verify your email address before you create or buy",
                details={"reason": "email_not_verified"},
            )


async def browser_principal(
    session: AsyncSession, session_token: str, *required: Permission
) -> Principal:
    """The caller of a web page, from the browser session cookie.

    The cookie holds the session's refresh token (only its digest is stored), so the
    session is the same server-side row as an API login's: a logout, a suspension or a
    password reset ends it at once. The browser never rotates it; instead its expiry
    slides forward while the user is active, by the platform's session timeout.
    """
    now = utcnow()
    found = await UserRepository(session).with_refresh_token(token_digest(session_token))
    if found is None:
        raise Unauthorized("Your session has ended; sign in again")
    user, auth_session, token = found
    if token.used_at is not None or token.expires_at <= now:
        raise Unauthorized("Your session has ended; sign in again")
    principal = await admit(session, user, auth_session, required, now=now)
    if now - auth_session.last_used_at > _ACTIVITY_RESOLUTION:
        platform = await get_platform_settings(session)
        auth_session.last_used_at = now
        token.expires_at = now + timedelta(minutes=platform.security.session_timeout)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(Authorize())]


def bearer_subject(signer: TokenSigner, authorization: str | None) -> str | None:
    """The user id of a valid bearer token, for rate limiting; None if absent or invalid."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    try:
        return str(signer.verify(authorization[7:].strip(), now=utcnow()).user_id)
    except InvalidToken:
        return None


async def optional_principal(
    session: DbSession,
    signer: Signer,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller on a public route: None when anonymous. A token that is sent but invalid
    is still refused, so a client never mistakes a broken login for the public view."""
    if credentials is None:
        return None
    return await Authorize()(session, signer, credentials)


MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]

# OpenAPI for routes that use MaybePrincipal: anonymous callers are welcome too.
OPTIONAL_AUTH: dict[str, object] = {"security": [{}, {"HTTPBearer": []}]}
