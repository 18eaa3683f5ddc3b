"""Authentication and authorization dependencies for routes.

Every /v1 route either depends on `Authorize(...)` or is on the public list in `ipmarket.api`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ipmarket.config import Settings
from ipmarket.identity.models import User, UserStatus
from ipmarket.identity.permissions import ACTING_PERMISSIONS, Permission, holds, permissions_for
from ipmarket.identity.repository import UserRepository
from ipmarket.identity.tokens import InvalidToken, TokenSigner
from ipmarket.kit.clock import utcnow
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
        # The account's state comes first: a suspended user is told so, not "session ended".
        if user.status != UserStatus.ACTIVE:
            raise Forbidden(f"Account is {user.status}", details={"status": user.status})
        if auth_session.revoked_at is not None:
            raise Unauthorized("Session has ended")
        # Permissions come from the current row, not the token, so a change applies at once.
        permissions = permissions_for(user.user_type, user.admin_level, user.departments)
        if self.permissions:
            granted = [p for p in self.permissions if holds(permissions, p)]
            if not granted:
                raise Forbidden(
                    "You do not have permission to do this",
                    details={"requiredPermission": [p.value for p in self.permissions]},
                )
            if all(p in ACTING_PERMISSIONS for p in granted) and user.email_verified_at is None:
                platform = await get_platform_settings(session)
                if platform.general.require_email_verification:
                    raise Forbidden(
                        "Verify your email address before you create or buy",
                        details={"reason": "email_not_verified"},
                    )
        if user.last_active_at is None or now - user.last_active_at > _ACTIVITY_RESOLUTION:
            user.last_active_at = now
        return Principal(user=user, session_id=auth_session.id, permissions=permissions)


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
