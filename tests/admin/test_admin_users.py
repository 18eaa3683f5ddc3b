"""User administration: list, status, verification, suspend and unsuspend."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.audit.models import AuditLog
from ipmarket.eventbus.models import OutboxEvent
from ipmarket.identity.models import User
from ipmarket.kit.db import Database
from tests.support import create_admin, login, register


async def test_list_users_filters_and_paginates(client: httpx.AsyncClient, db: Database) -> None:
    admin = await create_admin(client, db)
    creators = [await register(client, "creator") for _ in range(3)]
    buyer = await register(client, "buyer")
    response = await client.get(
        "/v1/admin/users", headers=admin.auth, params={"userType": "creator", "limit": 2}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2}
    assert {u["userType"] for u in body["data"]} == {"creator"}
    item = body["data"][0]
    assert set(item) >= {
        "id",
        "username",
        "email",
        "userType",
        "status",
        "verificationLevel",
        "joinDate",
        "lastActive",
        "totalRevenue",
        "totalIPs",
        "totalProducts",
        "profileData",
    }
    page2 = await client.get(
        "/v1/admin/users", headers=admin.auth, params={"userType": "creator", "limit": 2, "page": 2}
    )
    assert len(page2.json()["data"]) == 1
    ids = {u["id"] for u in body["data"]} | {u["id"] for u in page2.json()["data"]}
    assert ids == {str(c.id) for c in creators}
    search = await client.get(
        "/v1/admin/users", headers=admin.auth, params={"search": buyer.username[2:9]}
    )
    assert [u["id"] for u in search.json()["data"]] == [str(buyer.id)]
    bad = await client.get(
        "/v1/admin/users", headers=admin.auth, params={"status": "weird", "limit": 500}
    )
    assert bad.status_code == 422


async def test_suspension_refuses_the_user_at_once(
    client: httpx.AsyncClient, db: Database, session: AsyncSession
) -> None:
    admin = await create_admin(client, db)
    user = await register(client, "creator")
    assert (await client.get("/v1/users/me", headers=user.auth)).status_code == 200
    # reason required
    missing = await client.post(f"/v1/admin/users/{user.id}/suspend", headers=admin.auth, json={})
    assert missing.status_code == 422
    response = await client.post(
        f"/v1/admin/users/{user.id}/suspend", headers=admin.auth, json={"reason": "Spam listings"}
    )
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "suspended"
    # the token issued before is refused now, and login too
    refused = await client.get("/v1/users/me", headers=user.auth)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Account is suspended"
    assert (await login(client, user.email, user.password)).status_code == 403
    # audit and event
    audit_row = (
        await session.execute(
            select(AuditLog).where(
                AuditLog.resource_id == user.id, AuditLog.action == "admin.user_status_changed"
            )
        )
    ).scalar_one()
    assert audit_row.user_id == admin.id
    assert audit_row.old_values == {"status": "active", "statusReason": None}
    assert audit_row.new_values == {"status": "suspended", "statusReason": "Spam listings"}
    events = (
        (
            await session.execute(
                select(OutboxEvent).where(OutboxEvent.event_type == "user.suspended")
            )
        )
        .scalars()
        .all()
    )
    assert len(events) == 1 and events[0].payload["user_id"] == str(user.id)
    # unsuspend restores login
    back = await client.post(f"/v1/admin/users/{user.id}/unsuspend", headers=admin.auth)
    assert back.status_code == 200 and back.json()["data"]["status"] == "active"
    assert (await login(client, user.email, user.password)).status_code == 200


async def test_ban_through_status_and_verification_level(
    client: httpx.AsyncClient, db: Database, session: AsyncSession
) -> None:
    admin = await create_admin(client, db)
    user = await register(client, "buyer")
    banned = await client.put(
        f"/v1/admin/users/{user.id}/status",
        headers=admin.auth,
        json={"status": "banned", "reason": "Fraud"},
    )
    assert banned.status_code == 200 and banned.json()["data"]["status"] == "banned"
    assert (await client.get("/v1/users/me", headers=user.auth)).status_code == 403
    verified = await client.put(
        f"/v1/admin/users/{user.id}/verify",
        headers=admin.auth,
        json={"verificationLevel": "premium"},
    )
    assert verified.status_code == 200 and verified.json()["data"]["verificationLevel"] == "premium"
    row = (await session.execute(select(User).where(User.id == user.id))).scalar_one()
    assert row.verification_level == "premium" and row.status == "banned"
    events = (await session.execute(select(OutboxEvent.event_type))).scalars().all()
    assert "user.verified" in events
    bad = await client.put(
        f"/v1/admin/users/{user.id}/verify", headers=admin.auth, json={"verificationLevel": "gold"}
    )
    assert bad.status_code == 422


async def test_unknown_user_is_404_and_self_change_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await create_admin(client, db)
    response = await client.post(
        "/v1/admin/users/00000000-0000-0000-0000-000000000000/suspend",
        headers=admin.auth,
        json={"reason": "nobody"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    own = await client.post(
        f"/v1/admin/users/{admin.id}/suspend", headers=admin.auth, json={"reason": "oops"}
    )
    assert own.status_code == 403
    bad_id = await client.post(
        "/v1/admin/users/not-a-uuid/suspend", headers=admin.auth, json={"reason": "x y z"}
    )
    assert bad_id.status_code == 422


async def test_only_a_super_admin_changes_a_super_admin(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await create_admin(client, db)
    boss = await create_admin(client, db, level="super_admin")
    response = await client.post(
        f"/v1/admin/users/{boss.id}/suspend", headers=admin.auth, json={"reason": "coup attempt"}
    )
    assert response.status_code == 403
    other = await create_admin(client, db)
    assert (
        await client.post(
            f"/v1/admin/users/{other.id}/suspend", headers=boss.auth, json={"reason": "policy"}
        )
    ).status_code == 200


# (method, path, body) of every change an administrator can make to a user, in an order
# that can be applied to one user in turn
CHANGES: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "suspend": ("POST", "/v1/admin/users/{id}/suspend", {"reason": "policy breach"}),
    "unsuspend": ("POST", "/v1/admin/users/{id}/unsuspend", None),
    "verify": ("PUT", "/v1/admin/users/{id}/verify", {"verificationLevel": "premium"}),
    "ban": ("PUT", "/v1/admin/users/{id}/status", {"status": "banned", "reason": "fraud"}),
}


@pytest.mark.parametrize("target_level", ["admin", "moderator"])
@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_only_a_super_admin_changes_another_administrator(
    client: httpx.AsyncClient, db: Database, session: AsyncSession, change: str, target_level: str
) -> None:
    # given an administrator of the users department, a super admin, and another administrator
    users_admin = await create_admin(client, db, departments=["users"])
    boss = await create_admin(client, db, level="super_admin")
    target = await create_admin(client, db, level=target_level)
    if change == "unsuspend":
        suspended = await client.post(
            f"/v1/admin/users/{target.id}/suspend", headers=boss.auth, json={"reason": "review"}
        )
        assert suspended.status_code == 200
    before = (await session.execute(select(User).where(User.id == target.id))).scalar_one()
    state = (before.status, before.verification_level)
    method, path, body = CHANGES[change]
    # when the users-department administrator tries the change
    refused = await client.request(
        method, path.format(id=target.id), headers=users_admin.auth, json=body
    )
    # then it is refused and the target is unchanged
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "FORBIDDEN"
    session.expire_all()
    after = (await session.execute(select(User).where(User.id == target.id))).scalar_one()
    assert (after.status, after.verification_level) == state
    # and the super admin may make it
    allowed = await client.request(method, path.format(id=target.id), headers=boss.auth, json=body)
    assert allowed.status_code == 200, allowed.text


async def test_a_users_admin_still_changes_ordinary_users(
    client: httpx.AsyncClient, db: Database
) -> None:
    users_admin = await create_admin(client, db, departments=["users"])
    user = await register(client, "creator")
    for method, path, body in CHANGES.values():
        response = await client.request(
            method, path.format(id=user.id), headers=users_admin.auth, json=body
        )
        assert response.status_code == 200, (path, response.text)


async def test_unsuspending_a_user_who_is_not_suspended_is_a_conflict(
    client: httpx.AsyncClient, db: Database, session: AsyncSession
) -> None:
    # given an active user and a banned one
    admin = await create_admin(client, db)
    active = await register(client, "buyer")
    banned = await register(client, "buyer")
    response = await client.put(
        f"/v1/admin/users/{banned.id}/status",
        headers=admin.auth,
        json={"status": "banned", "reason": "Fraud"},
    )
    assert response.status_code == 200
    for user, status in ((active, "active"), (banned, "banned")):
        # when an administrator lifts a suspension they do not have
        response = await client.post(f"/v1/admin/users/{user.id}/unsuspend", headers=admin.auth)
        # then it is a conflict that names their status, and nothing changes
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "CONFLICT"
        assert response.json()["error"]["details"] == {"status": status}
        row = (await session.execute(select(User).where(User.id == user.id))).scalar_one()
        assert row.status == status
        session.expire_all()


@pytest.mark.parametrize("status", ["suspended", "banned"])
async def test_suspending_or_banning_through_status_needs_a_reason(
    client: httpx.AsyncClient, db: Database, session: AsyncSession, status: str
) -> None:
    # given an active user
    admin = await create_admin(client, db)
    user = await register(client, "creator")
    # when an administrator sets their status without a reason
    response = await client.put(
        f"/v1/admin/users/{user.id}/status", headers=admin.auth, json={"status": status}
    )
    # then it is a validation error on the reason, and the user stays active and signed in
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["details"]["errors"] == [
        {"field": "reason", "message": "required"}
    ]
    row = (await session.execute(select(User).where(User.id == user.id))).scalar_one()
    assert row.status == "active"
    assert (await client.get("/v1/users/me", headers=user.auth)).status_code == 200
