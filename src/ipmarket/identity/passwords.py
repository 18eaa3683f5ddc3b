"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ipmarket.kit.errors import ValidationFailed

# OWASP's minimum for argon2id is m=19 MiB, t=2, p=1; we use more memory and passes.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456 * 2, parallelism=1, type=Type.ID)

_SPECIAL = re.compile(r"[^A-Za-z0-9]")
MAX_PASSWORD_LENGTH = 128


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# A valid hash of a random password: verifying against it when the account does not exist
# makes a failed login take the same time whether or not the email is known.
DUMMY_HASH = hash_password("not-a-real-password-ipmarket")


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    text = files("ipmarket.identity").joinpath("common_passwords.txt").read_text()
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def check_password_policy(
    password: str,
    *,
    min_length: int,
    require_special: bool,
    username: str | None = None,
    email: str | None = None,
) -> None:
    """Raise ValidationFailed naming every rule `password` breaks."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if require_special and not _SPECIAL.search(password):
        problems.append("must contain a special character")
    lowered = password.lower()
    stripped = re.sub(r"[^a-z]+$", "", lowered)
    if lowered in _common_passwords() or stripped in _common_passwords():
        problems.append("is too common")
    for identity_part in (username, (email or "").split("@")[0]):
        if identity_part and len(identity_part) >= 3 and identity_part.lower() in lowered:
            problems.append("must not contain your username or email")
            break
    if problems:
        raise ValidationFailed(
            "Password does not meet the policy",
            details={"errors": [{"field": "password", "message": p} for p in problems]},
        )
