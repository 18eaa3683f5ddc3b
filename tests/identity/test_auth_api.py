"""Authentication API: register, login, refresh, logout, password reset, email verification."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.audit.models import AuditLog
from ipmarket.config import Settings
from ipmarket.eventbus.models import OutboxEvent
from ipmarket.identity.models import AuthSession, User
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from tests.support import (
    STRONG_PASSWORD,
    body_of,
    deliver_events,
    login,
    mailbox,
    register,
    token_in,
    unique,
)


async def _count(session: AsyncSession, model: type[object]) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


# --- register -------------------------------------------------------------------------------


async def test_register_creates_user_and_returns_tokens(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # given a new creator
    name = unique("alice")
    # when they register
    response = await client.post(
        "/v1/auth/register",
        json={
            "username": name,
            "email": f"{name.upper()}@Example.com",
            "password": STRONG_PASSWORD,
            "userType": "creator",
            "profileData": {"bio": "I draw dragons"},
        },
    )
    # then they get 201, the envelope, and a user without secrets
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["error"] is None
    user = body["data"]["user"]
    assert user["username"] == name
    assert user["email"] == f"{name}@example.com"
    assert user["userType"] == "creator"
    assert user["verificationLevel"] == "unverified"
    assert user["emailVerified"] is False
    assert user["profileData"] == {"bio": "I draw dragons"}
    assert "passwordHash" not in user and "password" not in user
    assert body["data"]["token"] and body["data"]["refreshToken"]
    assert response.headers["x-request-id"]
    # and the row, its audit entry and the user.registered event exist
    row = (await session.execute(select(User).where(User.username == name))).scalar_one()
    assert row.password_hash.startswith("$argon2id$")
    actions = (
        (await session.execute(select(AuditLog.action).where(AuditLog.resource_id == row.id)))
        .scalars()
        .all()
    )
    assert "user.registered" in actions
    events = (
        (
            await session.execute(
                select(OutboxEvent).where(OutboxEvent.event_type == "user.registered")
            )
        )
        .scalars()
        .all()
    )
    assert [e.payload["user_id"] for e in events] == [str(row.id)]


async def test_register_sends_verification_email_and_link_verifies(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    # given a registered user and the relay delivering events
    account = await register(client, "buyer")
    await deliver_events(db)
    # then one email holds the plain token and the link
    [message] = mailbox(settings)
    assert message["To"] == account.email
    token = token_in(message)
    assert f"/verify-email/{token}" in body_of(message)
    # when the link is followed
    response = await client.get(f"/v1/auth/verify-email/{token}")
    # then the email is verified, and the token cannot be used again
    assert response.status_code == 200
    assert response.json()["data"]["emailVerified"] is True
    me = await client.get("/v1/users/me", headers=account.auth)
    assert me.json()["data"]["emailVerified"] is True
    again = await client.get(f"/v1/auth/verify-email/{token}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "NOT_FOUND"


async def test_verify_email_with_unknown_token_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/auth/verify-email/" + "x" * 43)
    assert response.status_code == 404
    assert response.json()["success"] is False


async def test_duplicate_username_or_email_is_conflict(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # given an existing user
    first = await register(client, "buyer")
    before = await _count(session, User)
    # when someone registers with the same email, or the same username in other case
    same_email = await client.post(
        "/v1/auth/register",
        json={
            "username": unique(),
            "email": first.email.upper(),
            "password": STRONG_PASSWORD,
            "userType": "buyer",
        },
    )
    same_name = await client.post(
        "/v1/auth/register",
        json={
            "username": first.username.upper(),
            "email": f"{unique()}@example.com",
            "password": STRONG_PASSWORD,
            "userType": "buyer",
        },
    )
    # then both get 409 CONFLICT and nothing is written
    for response, field in ((same_email, "email"), (same_name, "username")):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "CONFLICT"
        assert field in response.json()["error"]["details"]["fields"]
    assert await _count(session, User) == before


async def test_register_refuses_admin_and_privileged_fields(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    base = {"username": unique(), "email": f"{unique()}@example.com", "password": STRONG_PASSWORD}
    cases = [
        {**base, "userType": "admin"},
        {**base, "userType": "buyer", "status": "active"},
        {**base, "userType": "buyer", "verificationLevel": "premium"},
        {**base, "userType": "buyer", "adminLevel": "super_admin"},
    ]
    for body in cases:
        response = await client.post("/v1/auth/register", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert response.json()["error"]["details"]["errors"]
    assert await _count(session, User) == 0


async def test_register_validation_errors(client: httpx.AsyncClient, session: AsyncSession) -> None:
    def body(**kw: object) -> dict[str, object]:
        return {
            "username": unique(),
            "email": f"{unique()}@example.com",
            "password": STRONG_PASSWORD,
            "userType": "buyer",
            **kw,
        }

    bad = [
        body(email="not-an-email"),
        body(username="a"),
        body(username="has spaces"),
        body(password="short1!"),
        body(password="nospecialcharacters123"),
        body(password="password123!"),
        body(userType=3),
        body(profileData="not an object"),
    ]
    for payload in bad:
        response = await client.post("/v1/auth/register", json=payload)
        assert response.status_code == 422, (payload, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await _count(session, User) == 0


async def test_malformed_json_is_400_and_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/register", content=b'{"username": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    huge = {
        "username": unique(),
        "email": "a@example.com",
        "password": "x",
        "userType": "buyer",
        "profileData": {"x": "y" * 2_000_000},
    }
    response = await client.post("/v1/auth/register", json=huge)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.headers["x-request-id"]


async def test_registration_can_be_closed(client: httpx.AsyncClient, db: Database) -> None:
    from ipmarket.settings import update_platform_settings

    async with db.transaction() as s:
        await update_platform_settings(
            s, {"general": {"allowNewRegistrations": False}}, updated_by=None
        )
    response = await client.post(
        "/v1/auth/register",
        json={
            "username": unique(),
            "email": f"{unique()}@example.com",
            "password": STRONG_PASSWORD,
            "userType": "buyer",
        },
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


# --- login and lockout --------------------------------------------------------------------


async def test_login_returns_tokens_and_wrong_password_is_401(client: httpx.AsyncClient) -> None:
    account = await register(client, "creator")
    ok = await login(client, account.email.upper(), account.password)
    assert ok.status_code == 200
    assert ok.json()["data"]["user"]["id"] == str(account.id)
    wrong = await login(client, account.email, "Wrong-password-1!")
    unknown = await login(client, "nobody@example.com", account.password)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        assert response.json()["error"]["message"] == "Invalid email or password"


async def test_repeated_failures_lock_the_account(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # given a user and the default maxLoginAttempts of 5
    account = await register(client, "buyer")
    # when the password is guessed wrong five times
    statuses = [
        (await login(client, account.email, f"Guess-{i}-wrong!")).status_code for i in range(5)
    ]
    # then the fifth failure locks the account and says so
    assert statuses == [401, 401, 401, 401, 429]
    locked = await login(client, account.email, account.password)
    assert locked.status_code == 429
    assert "locked" in locked.json()["error"]["message"].lower()
    assert int(locked.headers["retry-after"]) > 0
    assert locked.json()["error"]["details"]["lockedUntil"]
    # and every failure left an audit row
    failures = (
        await session.execute(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.resource_id == account.id, AuditLog.action == "user.login_failed")
        )
    ).scalar_one()
    assert failures == 5
    # when the lock has passed, the right password works again
    clock.freeze(clock.now() + timedelta(minutes=16))
    assert (await login(client, account.email, account.password)).status_code == 200


async def test_a_locked_account_costs_a_password_check_like_any_login(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ipmarket.identity import passwords

    # given an account locked after five wrong passwords
    account = await register(client, "buyer")
    for i in range(5):
        await login(client, account.email, f"Guess-{i}-wrong!")
    checked: list[str] = []
    real_verify = passwords.verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr("ipmarket.identity.service.verify_password", counting_verify)
    # when someone tries again while it is locked
    response = await login(client, account.email, account.password)
    # then they are refused, after one password check as costly as a real one, so the
    # refusal takes as long as any other failed login
    assert response.status_code == 429
    assert checked == [passwords.DUMMY_HASH]


# --- refresh and logout -------------------------------------------------------------------


async def test_refresh_rotates_and_reuse_ends_the_session(client: httpx.AsyncClient) -> None:
    account = await register(client, "buyer")
    # when the refresh token is exchanged
    first = await client.post("/v1/auth/refresh", json={"refreshToken": account.refresh_token})
    assert first.status_code == 200
    new_refresh = first.json()["data"]["refreshToken"]
    new_access = first.json()["data"]["token"]
    assert new_refresh != account.refresh_token
    assert (
        await client.get("/v1/users/me", headers={"Authorization": f"Bearer {new_access}"})
    ).status_code == 200
    # when the spent token is presented again
    reuse = await client.post("/v1/auth/refresh", json={"refreshToken": account.refresh_token})
    # then it is refused and the whole family is revoked: the newer token and its access token die too
    assert reuse.status_code == 401
    assert (
        await client.post("/v1/auth/refresh", json={"refreshToken": new_refresh})
    ).status_code == 401
    me = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {new_access}"})
    assert me.status_code == 401


async def test_refresh_tokens_are_stored_hashed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    from ipmarket.identity.models import RefreshToken

    account = await register(client, "buyer")
    hashes = (await session.execute(select(RefreshToken.token_hash))).scalars().all()
    assert account.refresh_token not in hashes
    assert all(len(h) == 64 for h in hashes)


async def test_logout_ends_that_session_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await register(client, "buyer")
    other = (await login(client, account.email, account.password)).json()["data"]
    response = await client.post("/v1/auth/logout", json={"refreshToken": account.refresh_token})
    assert response.status_code == 200
    assert (await client.get("/v1/users/me", headers=account.auth)).status_code == 401
    assert (
        await client.post("/v1/auth/refresh", json={"refreshToken": account.refresh_token})
    ).status_code == 401
    assert (
        await client.get("/v1/users/me", headers={"Authorization": f"Bearer {other['token']}"})
    ).status_code == 200
    ended = (
        await session.execute(
            select(func.count())
            .select_from(AuthSession)
            .where(AuthSession.revoked_reason == "logout")
        )
    ).scalar_one()
    assert ended == 1
    assert (
        await client.post("/v1/auth/logout", json={"refreshToken": "z" * 43})
    ).status_code == 401


# --- forgot and reset password ------------------------------------------------------------


async def test_forgot_password_answers_the_same_for_unknown_addresses(
    client: httpx.AsyncClient, db: Database, settings: Settings, session: AsyncSession
) -> None:
    # given a registered user, and one address nobody registered
    account = await register(client, "buyer")
    await deliver_events(db)
    # when a reset is asked for both
    known = await client.post("/v1/auth/forgot-password", json={"email": account.email})
    unknown = await client.post("/v1/auth/forgot-password", json={"email": "Ghost@Example.com"})
    # then the answers are the same
    assert known.status_code == unknown.status_code == 200
    assert known.json()["data"] == unknown.json()["data"]
    # and so is the work done in the request (which is what its timing would reveal): one
    # event and one audit row each, carrying the normalised address and no user
    events = (
        (
            await session.execute(
                select(OutboxEvent.payload)
                .where(OutboxEvent.event_type == "user.password_reset_requested")
                .order_by(OutboxEvent.occurred_at)
            )
        )
        .scalars()
        .all()
    )
    assert events == [{"email": account.email}, {"email": "ghost@example.com"}]
    rows = (
        await session.execute(
            select(AuditLog.user_id, AuditLog.resource_id, AuditLog.new_values)
            .where(AuditLog.action == "user.password_reset_requested")
            .order_by(AuditLog.created_at)
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        (None, None, {"email": account.email}),
        (None, None, {"email": "ghost@example.com"}),
    ]
    # and only the registered address gets a reset email
    await deliver_events(db)
    resets = [m for m in mailbox(settings) if "reset" in m["Subject"].lower()]
    assert len(resets) == 1 and resets[0]["To"] == account.email


async def test_forgot_password_mails_nobody_for_an_inactive_account(
    client: httpx.AsyncClient, db: Database, settings: Settings, session: AsyncSession
) -> None:
    # given a suspended user
    account = await register(client, "buyer")
    await deliver_events(db)
    await session.execute(update(User).where(User.id == account.id).values(status="suspended"))
    await session.commit()
    # when they ask for a reset, the answer is the usual one
    response = await client.post("/v1/auth/forgot-password", json={"email": account.email})
    assert response.status_code == 200
    # then no reset email is sent
    await deliver_events(db)
    assert [m for m in mailbox(settings) if "reset" in m["Subject"].lower()] == []


async def test_reset_password_sets_password_and_ends_every_session(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    account = await register(client, "buyer")
    second = (await login(client, account.email, account.password)).json()["data"]
    await client.post("/v1/auth/forgot-password", json={"email": account.email})
    await deliver_events(db)
    [reset] = [m for m in mailbox(settings) if "reset" in m["Subject"].lower()]
    token = token_in(reset)
    # a weak password is refused and the token still works afterwards
    weak = await client.post(
        "/v1/auth/reset-password", json={"token": token, "password": "password"}
    )
    assert weak.status_code == 422
    new_password = "Copper-Lantern-77?"
    response = await client.post(
        "/v1/auth/reset-password", json={"token": token, "password": new_password}
    )
    assert response.status_code == 200
    # every session has ended
    assert (await client.get("/v1/users/me", headers=account.auth)).status_code == 401
    assert (
        await client.post("/v1/auth/refresh", json={"refreshToken": second["refreshToken"]})
    ).status_code == 401
    # the old password no longer works, the new one does, and the token is spent
    assert (await login(client, account.email, account.password)).status_code == 401
    assert (await login(client, account.email, new_password)).status_code == 200
    again = await client.post(
        "/v1/auth/reset-password", json={"token": token, "password": "Another-Pass-88!"}
    )
    assert again.status_code == 422


async def test_reset_token_expires(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    account = await register(client, "buyer")
    await client.post("/v1/auth/forgot-password", json={"email": account.email})
    await deliver_events(db)
    [reset] = [m for m in mailbox(settings) if "reset" in m["Subject"].lower()]
    clock.freeze(clock.now() + timedelta(hours=2))
    response = await client.post(
        "/v1/auth/reset-password", json={"token": token_in(reset), "password": "Copper-Lantern-77?"}
    )
    assert response.status_code == 422
    assert (await login(client, account.email, account.password)).status_code == 200


async def test_unknown_user_id_in_valid_token_is_401(
    client: httpx.AsyncClient, app: object
) -> None:
    from ipmarket.kit.clock import utcnow

    signer = app.state.signer  # type: ignore[attr-defined]
    token = signer.issue({"sub": str(uuid.uuid4()), "sid": str(uuid.uuid4())}, now=utcnow())
    response = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
