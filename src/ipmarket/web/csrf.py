"""CSRF protection: every state-changing form carries `csrf_token`, the HMAC of the
browser's `ipm_csrf` cookie. A POST to a page without a matching token is refused (403)
before its handler runs; the check is a dependency of the whole web router."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from ipmarket.kit.errors import Forbidden, RateLimited
from ipmarket.kit.ratelimit import RATE_LIMITED_STATE
from ipmarket.web.cookies import CSRF_COOKIE, set_cookie, settings_of, sign

CSRF_FIELD = "csrf_token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CsrfRefused(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "This form has expired or did not come from this site. Reload the page and try again.",
            details={"reason": "csrf"},
        )


def csrf_token(request: Request) -> str:
    """The token for forms on this page; makes the browser's cookie value if it has none
    (the response sets it, see `persist_csrf_cookie`)."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if value is None:
        value = secrets.token_urlsafe(32)
        request.state.new_csrf = value
    return sign(settings_of(request), "csrf", value)


def persist_csrf_cookie(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new is not None:
        set_cookie(request, response, CSRF_COOKIE, new)


async def check_csrf(request: Request) -> None:
    """Router dependency: refuse an unsafe request whose form token does not match, and a
    form the rate limiter let through only to be refused here, as a page."""
    if request.method in _SAFE_METHODS:
        return
    retry_after = getattr(request.state, RATE_LIMITED_STATE, None)
    if retry_after is not None:
        raise RateLimited(
            f"Too many attempts; try again in {retry_after} seconds", retry_after=retry_after
        )
    cookie = request.cookies.get(CSRF_COOKIE)
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not cookie or not isinstance(sent, str):
        raise CsrfRefused
    if not hmac.compare_digest(sent, sign(settings_of(request), "csrf", cookie)):
        raise CsrfRefused
