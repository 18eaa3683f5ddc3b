"""GET and PUT /v1/users/me."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.audit.models import AuditLog
from ipmarket.identity.models import User
from tests.support import login, register, unique


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
