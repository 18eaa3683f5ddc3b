"""Signed, expiring file URLs: ``{PUBLIC_BASE_URL}/v1/files/{id}/content?expires=&signature=``.

The signature is HMAC-SHA256 over the file id and the expiry time, hex-encoded, keyed by
FILE_URL_SECRET (in development, a key generated once under VAR_DIR). Expiry times are rounded
up to a whole `EXPIRY_STEP`, so a file listed many times within a few minutes gets the same
URL and browsers reuse their cached copy; a URL is valid at least `FILE_URL_TTL_SECONDS`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import uuid
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from ipmarket.config import Settings
from ipmarket.kit.crypto import constant_time_equals

# The path of the files API, as mounted under /v1 (see ipmarket.api and files.router).
FILES_PATH = "/v1/files"
EXPIRY_STEP = 300
DEV_SECRET_FILE = "file-url-secret"
_CONTEXT = b"ipmarket file url v1"
_MAX_EXPIRES_DIGITS = 12


class InvalidSignature(Exception):
    """The URL's signature is missing, malformed, wrong or expired."""


def url_key(settings: Settings) -> bytes:
    """The HMAC key of file URLs: FILE_URL_SECRET, or the development key under VAR_DIR."""
    if settings.file_url_secret is not None and settings.file_url_secret.get_secret_value():
        return settings.file_url_secret.get_secret_value().encode()
    return _development_secret(Path(settings.var_dir))


@lru_cache(maxsize=64)
def _development_secret(var_dir: Path) -> bytes:
    """A random key kept under VAR_DIR so that URLs survive restarts; production sets one.

    Created atomically (written aside, then linked into place), so processes starting
    together agree on one key.
    """
    path = var_dir / DEV_SECRET_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        aside = var_dir / f".{DEV_SECRET_FILE}.{secrets.token_hex(8)}"
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return path.read_text().strip().encode()


def _signature(key: bytes, file_id: uuid.UUID, expires: int) -> str:
    message = b"\n".join((_CONTEXT, str(file_id).encode(), str(expires).encode()))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def expiry(now: datetime, ttl_seconds: int) -> int:
    """The unix time a URL made at `now` expires: at least `ttl_seconds` later, rounded up
    to a whole `EXPIRY_STEP`."""
    return math.ceil((now.timestamp() + ttl_seconds) / EXPIRY_STEP) * EXPIRY_STEP


def content_path(file_id: uuid.UUID) -> str:
    return f"{FILES_PATH}/{file_id}/content"


def signed_url(
    file_id: uuid.UUID, *, settings: Settings, now: datetime, ttl_seconds: int | None = None
) -> str:
    """The signed URL that serves the file's bytes until it expires.

    `ttl_seconds` defaults to FILE_URL_TTL_SECONDS (one hour).
    """
    ttl = settings.file_url_ttl_seconds if ttl_seconds is None else ttl_seconds
    expires = expiry(now, ttl)
    query = urlencode(
        {"expires": expires, "signature": _signature(url_key(settings), file_id, expires)}
    )
    return f"{settings.public_base_url.rstrip('/')}{content_path(file_id)}?{query}"


def verify_signature(
    file_id: uuid.UUID,
    expires: str | None,
    signature: str | None,
    *,
    settings: Settings,
    now: datetime,
) -> int:
    """The expiry time of a valid, unexpired URL for `file_id`; else InvalidSignature.

    The signature is compared in constant time, and before the expiry, so a response reveals
    nothing about which part was wrong.
    """
    if not expires or not signature:
        raise InvalidSignature("missing")
    if len(expires) > _MAX_EXPIRES_DIGITS or not expires.isascii() or not expires.isdigit():
        raise InvalidSignature("malformed")
    expires_at = int(expires)
    expected = _signature(url_key(settings), file_id, expires_at)
    if not constant_time_equals(expected, signature):
        raise InvalidSignature("wrong")
    if now.timestamp() > expires_at:
        raise InvalidSignature("expired")
    return expires_at
