"""Every audited action writes exactly one audit row: who did what to which resource, the
values before and after where they mean something, and where the request came from."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.audit.models import AuditLog
from ipmarket.config import Settings
from ipmarket.identity.models import AuthSession
from ipmarket.kit.db import Database
from tests.support import (
    STRONG_PASSWORD,
    Account,
    create_admin,
    deliver_events,
    login,
    mailbox,
    register,
    token_in,
    unique,
)

CLIENT_IP = "203.0.113.7"  # the address of the `client` fixture
USER_AGENT = "audit-check/1.0"


@dataclass(frozen=True)
class Expected:
    """The audit row an action should leave."""

    actor: uuid.UUID | None
    resource_type: str
    resource_id: uuid.UUID | None
    old_values: dict[str, Any] | None = None
    new_values: dict[str, Any] | None = None
    # False for actions taken outside any HTTP request (the CLI's create-admin)
    from_request: bool = True


@dataclass
class Harness:
    client: httpx.AsyncClient
    db: Database
    settings: Settings
    before: frozenset[uuid.UUID] = frozenset()

    async def audit_ids(self) -> frozenset[uuid.UUID]:
        async with self.db.sessionmaker() as session:
            return frozenset((await session.execute(select(AuditLog.id))).scalars())

    @contextlib.asynccontextmanager
    async def trigger(self) -> AsyncIterator[None]:
        """The action under test happens inside this block, sent with USER_AGENT; audit rows
        written before it do not count."""
        self.before = await self.audit_ids()
        self.client.headers["User-Agent"] = USER_AGENT
        try:
            yield
        finally:
            del self.client.headers["User-Agent"]

    async def session_of(self, account: Account) -> uuid.UUID:
        async with self.db.sessionmaker() as session:
            ids = (
                await session.execute(
                    select(AuthSession.id).where(AuthSession.user_id == account.id)
                )
            ).scalars()
            [session_id] = list(ids)
        return session_id

    async def mailed_token(self, subject_word: str) -> str:
        await deliver_events(self.db)
        [message] = [m for m in mailbox(self.settings) if subject_word in m["Subject"].lower()]
        return token_in(message)


def _snapshot(**changes: Any) -> dict[str, Any]:
    """What the trail records of a newly registered buyer, with `changes`."""
    return {
        "status": "active",
        "userType": "buyer",
        "adminLevel": None,
        "departments": [],
        "profileData": {},
        "statusReason": None,
        "emailVerified": False,
        "verificationLevel": "unverified",
        **changes,
    }


# --- one scenario per audited action: arrange, then trigger the action -------------------


async def user_registered(h: Harness) -> Expected:
    name = unique("reg")
    async with h.trigger():
        account = await register(h.client, "buyer", username=name, profileData={"bio": "hi"})
    return Expected(
        actor=account.id,
        resource_type="user",
        resource_id=account.id,
        new_values=_snapshot(username=name, email=f"{name}@example.com", profileData={"bio": "hi"}),
    )


async def user_login(h: Harness) -> Expected:
    account = await register(h.client, "buyer")
    async with h.trigger():
        assert (await login(h.client, account.email, account.password)).status_code == 200
    return Expected(actor=account.id, resource_type="user", resource_id=account.id)


async def user_login_failed(h: Harness) -> Expected:
    account = await register(h.client, "buyer")
    async with h.trigger():
        assert (await login(h.client, account.email, "Wrong-guess-1!")).status_code == 401
    return Expected(
        actor=account.id,
        resource_type="user",
        resource_id=account.id,
        new_values={"locked": False},
    )


async def session_refreshed(h: Harness) -> Expected:
    account = await register(h.client, "buyer")
    async with h.trigger():
        response = await h.client.post(
            "/v1/auth/refresh", json={"refreshToken": account.refresh_token}
        )
        assert response.status_code == 200
    return Expected(
        actor=account.id, resource_type="auth_session", resource_id=await h.session_of(account)
    )


async def session_revoked_on_reuse(h: Harness) -> Expected:
    account = await register(h.client, "buyer")
    body = {"refreshToken": account.refresh_token}
    assert (await h.client.post("/v1/auth/refresh", json=body)).status_code == 200
    async with h.trigger():
        assert (await h.client.post("/v1/auth/refresh", json=body)).status_code == 401
    return Expected(
        actor=account.id, resource_type="auth_session", resource_id=await h.session_of(account)
    )


async def session_ended(h: Harness) -> Expected:
    account = await register(h.client, "buyer")
    async with h.trigger():
        response = await h.client.post(
            "/v1/auth/logout", json={"refreshToken": account.refresh_token}
        )
        assert response.status_code == 200
    return Expected(
        actor=account.id, resource_type="auth_session", resource_id=await h.session_of(account)
    )


async def user_password_reset_requested(h: Harness) -> Expected:
    account = await register(h.client, "buyer")
    async with h.trigger():
        response = await h.client.post(
            "/v1/auth/forgot-password", json={"email": account.email.upper()}
        )
        assert response.status_code == 200
    # Recorded without a user, so the request does the same work for any address.
    return Expected(
        actor=None,
        resource_type="user",
        resource_id=None,
        new_values={"email": account.email},
    )


async def user_password_reset(h: Harness) -> Expected:
    account = await register(h.client, "buyer")
    await h.client.post("/v1/auth/forgot-password", json={"email": account.email})
    token = await h.mailed_token("reset")
    async with h.trigger():
        response = await h.client.post(
            "/v1/auth/reset-password", json={"token": token, "password": "Copper-Lantern-77?"}
        )
        assert response.status_code == 200
    return Expected(
        actor=account.id,
        resource_type="user",
        resource_id=account.id,
        new_values={"sessionsEnded": 1},
    )


async def user_email_verified(h: Harness) -> Expected:
    account = await register(h.client, "buyer")
    token = await h.mailed_token("confirm")
    async with h.trigger():
        assert (await h.client.get(f"/v1/auth/verify-email/{token}")).status_code == 200
    return Expected(
        actor=account.id,
        resource_type="user",
        resource_id=account.id,
        old_values={"emailVerified": False},
        new_values={"emailVerified": True},
    )


async def user_profile_updated(h: Harness) -> Expected:
    account = await register(h.client, "buyer")
    new_name = unique("renamed")
    async with h.trigger():
        response = await h.client.put(
            "/v1/users/me",
            headers=account.auth,
            json={"username": new_name, "profileData": {"site": "https://x.test"}},
        )
        assert response.status_code == 200
    return Expected(
        actor=account.id,
        resource_type="user",
        resource_id=account.id,
        old_values={"username": account.username, "profileData": {}},
        new_values={"username": new_name, "profileData": {"site": "https://x.test"}},
    )


async def admin_created(h: Harness) -> Expected:
    from ipmarket.identity import create_admin as make_admin

    name = unique("root")

    async def create() -> uuid.UUID:
        async with h.db.transaction() as session:
            admin = await make_admin(
                session,
                username=name,
                email=f"{name}@example.com",
                password=STRONG_PASSWORD,
                level="moderator",
                departments=["content"],
            )
        return admin.id

    async with h.trigger():
        # as the CLI does it: outside any HTTP request
        admin_id = await create()
    return Expected(
        actor=None,
        resource_type="user",
        resource_id=admin_id,
        new_values=_snapshot(
            username=name,
            email=f"{name}@example.com",
            userType="admin",
            adminLevel="moderator",
            departments=["content"],
            emailVerified=True,
            verificationLevel="verified",
        ),
        from_request=False,
    )


async def admin_user_status_changed(h: Harness) -> Expected:
    admin = await create_admin(h.client, h.db)
    target = await register(h.client, "buyer")
    async with h.trigger():
        response = await h.client.put(
            f"/v1/admin/users/{target.id}/status",
            headers=admin.auth,
            json={"status": "banned", "reason": "Fraud"},
        )
        assert response.status_code == 200
    return Expected(
        actor=admin.id,
        resource_type="user",
        resource_id=target.id,
        old_values={"status": "active", "statusReason": None},
        new_values={"status": "banned", "statusReason": "Fraud"},
    )


async def admin_user_verification_changed(h: Harness) -> Expected:
    admin = await create_admin(h.client, h.db)
    target = await register(h.client, "creator")
    async with h.trigger():
        response = await h.client.put(
            f"/v1/admin/users/{target.id}/verify",
            headers=admin.auth,
            json={"verificationLevel": "premium"},
        )
        assert response.status_code == 200
    return Expected(
        actor=admin.id,
        resource_type="user",
        resource_id=target.id,
        old_values={"verificationLevel": "unverified"},
        new_values={"verificationLevel": "premium"},
    )


async def admin_settings_updated(h: Harness) -> Expected:
    admin = await create_admin(h.client, h.db)
    async with h.trigger():
        response = await h.client.put(
            "/v1/admin/settings",
            headers=admin.auth,
            json={"payments": {"payoutSchedule": "monthly"}, "security": {"maxLoginAttempts": 7}},
        )
        assert response.status_code == 200
    return Expected(
        actor=admin.id,
        resource_type="platform_settings",
        resource_id=None,
        old_values={"payments": {"payoutSchedule": "weekly"}, "security": {"maxLoginAttempts": 5}},
        new_values={"payments": {"payoutSchedule": "monthly"}, "security": {"maxLoginAttempts": 7}},
    )


SCENARIOS: dict[str, Callable[[Harness], Awaitable[Expected]]] = {
    "user.registered": user_registered,
    "user.login": user_login,
    "user.login_failed": user_login_failed,
    "session.refreshed": session_refreshed,
    "session.revoked_on_reuse": session_revoked_on_reuse,
    "session.ended": session_ended,
    "user.password_reset_requested": user_password_reset_requested,
    "user.password_reset": user_password_reset,
    "user.email_verified": user_email_verified,
    "user.profile_updated": user_profile_updated,
    "admin.created": admin_created,
    "admin.user_status_changed": admin_user_status_changed,
    "admin.user_verification_changed": admin_user_verification_changed,
    "admin.settings_updated": admin_settings_updated,
}


@pytest.mark.parametrize("action", list(SCENARIOS))
async def test_an_action_writes_exactly_one_audit_row(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    session: AsyncSession,
    action: str,
) -> None:
    # given the arrangement the action needs, when the action is taken
    harness = Harness(client=client, db=db, settings=settings)
    expected = await SCENARIOS[action](harness)
    # then exactly one audit row was written for it, and no other
    rows = [
        row
        for row in (await session.execute(select(AuditLog))).scalars()
        if row.id not in harness.before
    ]
    assert [row.action for row in rows] == [action]
    [row] = rows
    # naming the actor, the resource, and the values before and after
    assert row.user_id == expected.actor
    assert (row.resource_type, row.resource_id) == (
        expected.resource_type,
        expected.resource_id,
    )
    assert row.old_values == expected.old_values
    assert row.new_values == expected.new_values
    # and where the request came from
    if expected.from_request:
        assert (row.ip_address, row.user_agent) == (CLIENT_IP, USER_AGENT)
        assert row.request_id
    else:
        assert (row.ip_address, row.user_agent, row.request_id) == (None, None, None)
