"""Who is looking at a page: the browser session, resolved on every request.

`Visitor` is the signed-in user or None; `SignedIn(...)` requires one (holding one of the
given permissions). Both read the database each time through the identity module, so a
logout, suspension or password reset ends the browser session at once.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Response

from ipmarket.identity import (
    IdentityService,
    IssuedTokens,
    Permission,
    Principal,
    browser_principal,
    require_permissions,
)
from ipmarket.kit.deps import DbSession
from ipmarket.kit.errors import AppError, Unauthorized
from ipmarket.web.cookies import SESSION_COOKIE, clear_cookie, set_cookie


@dataclass(frozen=True)
class VisitorView:
    """What pages show of the signed-in user, copied while the transaction is open: an
    error page is drawn after the rollback, when the ORM rows can no longer be read."""

    id: uuid.UUID
    username: str
    email: str
    user_type: str
    email_verified: bool
    created_at: datetime
    permissions: frozenset[Permission]

    @classmethod
    def of(cls, principal: Principal) -> VisitorView:
        user = principal.user
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            user_type=str(user.user_type),
            email_verified=user.email_verified_at is not None,
            created_at=user.created_at,
            permissions=frozenset(p for p in Permission if principal.can(p)),
        )

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


async def current_visitor(request: Request, session: DbSession) -> Principal | None:
    """The signed-in user, or None. A cookie that no longer admits anyone (ended, expired,
    suspended account) is remembered, to be cleared by the response and explained by
    `SignedIn` on pages that need a user."""
    request.state.visitor = None  # a VisitorView once known
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        principal = await browser_principal(session, token)
    except AppError as exc:
        request.state.visitor_refused = exc
        return None
    request.state.visitor = VisitorView.of(principal)
    return principal


Visitor = Annotated[Principal | None, Depends(current_visitor)]


class SignedIn:
    """Require a signed-in user holding one of `permissions` (none named: any user)."""

    def __init__(self, *permissions: Permission) -> None:
        self.permissions = permissions

    async def __call__(self, request: Request, session: DbSession, visitor: Visitor) -> Principal:
        if visitor is None:
            refused: AppError | None = getattr(request.state, "visitor_refused", None)
            raise refused or Unauthorized("Sign in to see this page")
        await require_permissions(session, visitor, self.permissions)
        return visitor


def start_browser_session(request: Request, response: Response, issued: IssuedTokens) -> None:
    """Give the browser the session that sign-in or sign-up just opened."""
    set_cookie(request, response, SESSION_COOKIE, issued.refresh_token)


async def end_browser_session(
    request: Request, response: Response, service: IdentityService
) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with contextlib.suppress(Unauthorized):  # already gone: forgotten all the same
            await service.logout(token)
    clear_cookie(request, response, SESSION_COOKIE)


def forget_refused_session(request: Request, response: Response) -> None:
    if getattr(request.state, "visitor_refused", None) is not None:
        clear_cookie(request, response, SESSION_COOKIE)
