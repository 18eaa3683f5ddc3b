"""The cookies of the web application and the key that signs them.

- `ipm_session`: the browser session, the refresh token of an identity session.
- `ipm_csrf`: a random value; forms carry its HMAC (the signed double-submit pattern).
- `ipm_flash`: a signed one-time message shown on the next page.

All are HttpOnly and SameSite=Lax, and Secure outside development.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request, Response

from ipmarket.config import Settings
from ipmarket.files import url_key

SESSION_COOKIE = "ipm_session"
CSRF_COOKIE = "ipm_csrf"
FLASH_COOKIE = "ipm_flash"


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def signing_key(settings: Settings, purpose: str) -> bytes:
    """A key of its own per purpose, derived from the deployment's URL secret."""
    return hmac.new(url_key(settings), f"web:{purpose}".encode(), hashlib.sha256).digest()


def sign(settings: Settings, purpose: str, value: str) -> str:
    return hmac.new(signing_key(settings, purpose), value.encode(), hashlib.sha256).hexdigest()


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings_of(request).is_production,
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=settings_of(request).is_production
    )
