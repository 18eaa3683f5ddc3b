"""GET and PUT /v1/users/me."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.audit.models import AuditLog
from ipmarket.identity.models import User
from tests.support import Account, login, register, unique


async def test_me_returns_the_caller(client: httpx.AsyncClient) -> None:
    account = await register(client, "creator")
    response = await client.get("/v1/users/me", headers=account.auth)
    assert response.status_code == 200
    assert response.json()["data"]["id"] == str(account.id)
    assert "passwordHash" not in response.json()["data"]


async def test_update_profile_and_username_is_audited(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await register(client, "creator")
    new_name = unique("renamed")
    response = await client.put(
        "/v1/users/me",
        headers=account.auth,
        json={"username": new_name, "profileData": {"site": "https://x.test"}},
    )
    assert response.status_code == 200
    assert response.json()["data"]["username"] == new_name
    assert response.json()["data"]["profileData"] == {"site": "https://x.test"}
    row = (
        await session.execute(
            select(AuditLog).where(
                AuditLog.resource_id == account.id, AuditLog.action == "user.profile_updated"
            )
        )
    ).scalar_one()
    assert row.old_values == {"username": account.username, "profileData": {}}
    assert row.new_values == {"username": new_name, "profileData": {"site": "https://x.test"}}
    assert row.ip_address == "203.0.113.7"


async def test_update_refuses_privileged_fields_and_taken_usernames(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await register(client, "buyer")
    other = await register(client, "buyer")
    for body in (
        {"userType": "admin"},
        {"status": "active"},
        {"verificationLevel": "premium"},
        {"email": "x@example.com"},
    ):
        response = await client.put("/v1/users/me", headers=account.auth, json=body)
        assert response.status_code == 422, body
    taken = await client.put(
        "/v1/users/me", headers=account.auth, json={"username": other.username}
    )
    assert taken.status_code == 409
    user = (await session.execute(select(User).where(User.id == account.id))).scalar_one()
    assert user.username == account.username and user.user_type == "buyer"


async def test_password_change_needs_the_current_password(client: httpx.AsyncClient) -> None:
    account = await register(client, "buyer")
    other_session = (await login(client, account.email, account.password)).json()["data"]
    new_password = "Saffron-Meadow-19#"
    missing = await client.put(
        "/v1/users/me", headers=account.auth, json={"newPassword": new_password}
    )
    assert missing.status_code == 422
    wrong = await client.put(
        "/v1/users/me",
        headers=account.auth,
        json={"newPassword": new_password, "currentPassword": "Nope-nope-1!"},
    )
    assert wrong.status_code == 403
    assert (await login(client, account.email, account.password)).status_code == 200
    changed = await client.put(
        "/v1/users/me",
        headers=account.auth,
        json={"newPassword": new_password, "currentPassword": account.password},
    )
    assert changed.status_code == 200
    assert (await login(client, account.email, new_password)).status_code == 200
    assert (await login(client, account.email, account.password)).status_code == 401
    # the session that changed it survives, the others end
    assert (await client.get("/v1/users/me", headers=account.auth)).status_code == 200
    other = await client.get(
        "/v1/users/me", headers={"Authorization": f"Bearer {other_session['token']}"}
    )
    assert other.status_code == 401


async def _wrong_current_password(client: httpx.AsyncClient, account: Account, n: int) -> int:
    response = await client.put(
        "/v1/users/me",
        headers=account.auth,
        json={"newPassword": "Saffron-Meadow-19#", "currentPassword": f"Guess-{n}-wrong!"},
    )
    return response.status_code


async def test_guessing_the_current_password_locks_the_account(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # given a signed-in user and the default maxLoginAttempts of 5
    account = await register(client, "buyer")
    # when someone holding their session guesses the current password five times
    statuses = [await _wrong_current_password(client, account, n) for n in range(5)]
    # then the fifth guess locks the account, as five failed logins would
    assert statuses == [403, 403, 403, 403, 429]
    locked = await login(client, account.email, account.password)
    assert locked.status_code == 429
    assert "locked" in locked.json()["error"]["message"].lower()
    # and even the right current password is refused while the lock lasts
    right = await client.put(
        "/v1/users/me",
        headers=account.auth,
        json={"newPassword": "Saffron-Meadow-19#", "currentPassword": account.password},
    )
    assert right.status_code == 429
    # and every guess left an audit row
    failures = (
        (
            await session.execute(
                select(AuditLog.new_values).where(
                    AuditLog.resource_id == account.id, AuditLog.action == "user.login_failed"
                )
            )
        )
        .scalars()
        .all()
    )
    assert len(failures) == 5
    assert all(values["via"] == "password_change" for values in failures)


async def test_failed_logins_and_password_guesses_count_together(
    client: httpx.AsyncClient,
) -> None:
    # given a user with three failed logins
    account = await register(client, "buyer")
    for n in range(3):
        assert (await login(client, account.email, f"Login-{n}-wrong!")).status_code == 401
    # when the current password is then guessed wrong twice
    statuses = [await _wrong_current_password(client, account, n) for n in range(2)]
    # then the fifth failure in all locks the account
    assert statuses == [403, 429]
    assert (await login(client, account.email, account.password)).status_code == 429


async def test_a_right_current_password_clears_the_failure_count(
    client: httpx.AsyncClient,
) -> None:
    # given a user with four failed logins
    account = await register(client, "buyer")
    for n in range(4):
        await login(client, account.email, f"Login-{n}-wrong!")
    # when they change their password with the right current password
    new_password = "Saffron-Meadow-19#"
    changed = await client.put(
        "/v1/users/me",
        headers=account.auth,
        json={"newPassword": new_password, "currentPassword": account.password},
    )
    assert changed.status_code == 200
    # then one more wrong login does not lock them out
    assert (await login(client, account.email, "Login-9-wrong!")).status_code == 401
    assert (await login(client, account.email, new_password)).status_code == 200
