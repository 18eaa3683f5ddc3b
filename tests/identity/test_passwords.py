"""Password storage and policy."""

from __future__ import annotations

import pytest
from argon2 import Type

from ipmarket.identity import passwords
from ipmarket.kit.errors import ValidationFailed


@pytest.mark.real_password_hashing
def test_hashes_are_argon2id_with_at_least_owasp_parameters() -> None:
    # OWASP's minimum for argon2id: 19 MiB of memory, 2 iterations, 1 lane.
    hasher = passwords._hasher
    assert hasher.type is Type.ID
    assert hasher.memory_cost >= 19_456
    assert hasher.time_cost >= 2
    assert hasher.parallelism >= 1
    stored = passwords.hash_password("Violet-Harbor-42!")
    assert stored.startswith(f"$argon2id$v=19$m={hasher.memory_cost},t={hasher.time_cost},p=")
    assert passwords.verify_password(stored, "Violet-Harbor-42!")
    assert not passwords.verify_password(stored, "violet-harbor-42!")
    assert not passwords.needs_rehash(stored)


def test_policy_names_every_broken_rule() -> None:
    with pytest.raises(ValidationFailed) as refused:
        passwords.check_password_policy("abc", min_length=8, require_special=True)
    messages = [e["message"] for e in refused.value.details["errors"]]
    assert "must be at least 8 characters" in messages
    assert "must contain a special character" in messages


@pytest.mark.parametrize(
    "common", ["password", "Password123!", "qwerty123", "Letmein1!!", "iloveyou"]
)
def test_common_passwords_are_refused(common: str) -> None:
    with pytest.raises(ValidationFailed, match="policy"):
        passwords.check_password_policy(common, min_length=6, require_special=False)


def test_password_may_not_contain_the_username() -> None:
    with pytest.raises(ValidationFailed):
        passwords.check_password_policy(
            "adalovelace-2024!", min_length=8, require_special=True, username="adalovelace"
        )
    passwords.check_password_policy(
        "Violet-Harbor-42!", min_length=8, require_special=True, username="ada"
    )
