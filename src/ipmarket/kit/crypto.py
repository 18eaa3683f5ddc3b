"""Random secrets and their stored digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def random_token(nbytes: int = 32) -> str:
    """A URL-safe secret from the CSPRNG."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """What we store for a bearer secret: its SHA-256, so a leaked table reveals no token."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
