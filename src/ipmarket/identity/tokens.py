"""Access tokens: short-lived JWTs signed with Ed25519 (EdDSA), published as a JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ipmarket.config import Settings

ALGORITHM = "EdDSA"
DEV_KEY_FILE = "jwt-ed25519.pem"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class AccessClaims:
    """The verified claims of an access token (seed JWTPayload / AdminJWTPayload)."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    issued_at: datetime
    raw: dict[str, Any]


class InvalidToken(Exception):
    pass


class TokenSigner:
    def __init__(self, private_key: Ed25519PrivateKey, *, issuer: str, ttl_seconds: int) -> None:
        self._private = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()
        self.issuer = issuer
        self.ttl_seconds = ttl_seconds
        raw_public = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._x = _b64url(raw_public)
        # RFC 7638 thumbprint as the key id.
        canonical = json.dumps(
            {"crv": "Ed25519", "kty": "OKP", "x": self._x}, separators=(",", ":")
        )
        self.kid = _b64url(hashlib.sha256(canonical.encode()).digest())

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenSigner:
        if settings.jwt_private_key is not None and settings.jwt_private_key.get_secret_value():
            pem = settings.jwt_private_key.get_secret_value().encode()
        else:
            pem = _development_key(settings.var_dir)
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError("JWT_PRIVATE_KEY must be an Ed25519 private key in PEM (PKCS#8)")
        return cls(key, issuer=settings.jwt_issuer, ttl_seconds=settings.access_token_ttl_seconds)

    def issue(self, claims: dict[str, Any], *, now: datetime) -> str:
        body = {
            **claims,
            "iss": self.issuer,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()) - 5,
            "exp": int((now + timedelta(seconds=self.ttl_seconds)).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(body, self._private, algorithm=ALGORITHM, headers={"kid": self.kid})

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM or header.get("kid") != self.kid:
                raise InvalidToken("unexpected algorithm or key")
            raw = jwt.decode(
                token,
                self.public_key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                # Times are checked below against the application's clock (which tests freeze).
                options={
                    "require": ["exp", "iat", "sub", "sid", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            moment = int(now.timestamp())
            if int(raw["exp"]) <= moment:
                raise InvalidToken("token expired")
            if int(raw.get("nbf", raw["iat"])) > moment:
                raise InvalidToken("token not valid yet")
            return AccessClaims(
                user_id=uuid.UUID(raw["sub"]),
                session_id=uuid.UUID(raw["sid"]),
                issued_at=datetime.fromtimestamp(int(raw["iat"]), tz=now.tzinfo),
                raw=raw,
            )
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
            raise InvalidToken(str(exc)) from exc

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": self._x,
                    "kid": self.kid,
                    "alg": ALGORITHM,
                    "use": "sig",
                }
            ]
        }


def _development_key(var_dir: Path) -> bytes:
    """A signing key kept under VAR_DIR for development; production must configure one."""
    path = var_dir / DEV_KEY_FILE
    if path.exists():
        return path.read_bytes()
    var_dir.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return pem
