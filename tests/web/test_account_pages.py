"""Sign-up, sign-in, sign-out, email verification, profile and password pages."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from ipmarket.config import Settings
from ipmarket.kit.db import Database
from tests.support import (
    STRONG_PASSWORD,
    body_of,
    deliver_events,
    login,
    mailbox,
    register,
    token_in,
)
from tests.web.support import csrf_of, main_text, sign_in, sign_up, submit


async def test_signing_up_signs_in_and_the_emailed_link_verifies(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    # given a visitor who signs up as a creator
    fields = await sign_up(client, "creator")
    # then they are signed in, and told to verify
    account = await client.get("/account")
    assert account.status_code == 200
    assert fields["email"] in account.text
    assert "verify your address" in main_text(account.text).lower()
    # when they open the link in the email
    await deliver_events(db)
    [message] = [m for m in mailbox(settings) if m["To"] == fields["email"]]
    token = token_in(message)
    assert f"{settings.public_base_url}/verify-email/{token}" in body_of(message)
    landing = await client.get(f"/verify-email/{token}")
    # then the address is verified, once
    assert landing.status_code == 200
    assert "is verified" in landing.text
    async with db.sessionmaker() as session:
        verified = await session.scalar(
            text("SELECT email_verified_at IS NOT NULL FROM users WHERE email = :e"),
            {"e": fields["email"]},
        )
    assert verified is True
    again = await client.get(f"/verify-email/{token}")
    assert again.status_code == 404
    assert "does not work" in again.text


async def test_sign_up_errors_sit_beside_their_fields_and_keep_the_input(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await submit(
        client,
        "/sign-up",
        username="ab",
        email="not-an-email",
        password="short",
        userType="creator",
    )
    assert response.status_code == 422
    assert 'id="e-username"' in response.text and 'id="e-email"' in response.text
    assert 'value="ab"' in response.text and 'value="not-an-email"' in response.text
    assert 'value="short"' not in response.text  # never a password
    async with db.sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM users")) == 0


async def test_a_taken_email_is_shown_on_the_email_field(client: httpx.AsyncClient) -> None:
    taken = await register(client, "buyer")
    response = await submit(
        client,
        "/sign-up",
        username="fresh_name",
        email=taken.email,
        password=STRONG_PASSWORD,
        userType="buyer",
    )
    assert response.status_code == 409
    assert 'id="e-email"' in response.text


async def test_sign_in_and_out_end_the_server_side_session(
    client: httpx.AsyncClient, db: Database
) -> None:
    account = await register(client, "buyer")
    signed_in = await sign_in(client, account.email, account.password)
    assert signed_in.status_code == 303
    assert (await client.get("/account")).status_code == 200
    cookie = client.cookies["ipm_session"]
    # when they sign out
    page = await client.get("/account")
    out = await client.post("/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    # then the session row is ended and the old cookie admits nobody
    async with db.sessionmaker() as session:
        ended = await session.scalar(
            text(
                "SELECT count(*) FROM auth_sessions WHERE user_id = :u AND revoked_at IS NOT NULL"
            ),
            {"u": account.id},
        )
    assert ended == 1
    client.cookies.set("ipm_session", cookie)
    again = await client.get("/account")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/sign-in?next=/account")


async def test_a_wrong_password_is_counted_and_shown(
    client: httpx.AsyncClient, db: Database
) -> None:
    account = await register(client, "buyer")
    response = await sign_in(client, account.email, "Wrong-Password-1!")
    assert response.status_code == 401
    assert "Invalid email or password" in main_text(response.text)
    assert f'value="{account.email}"' in response.text
    async with db.sessionmaker() as session:
        attempts = await session.scalar(
            text("SELECT failed_login_attempts FROM users WHERE id = :u"), {"u": account.id}
        )
    assert attempts == 1


async def test_suspension_ends_the_browser_session_at_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    account = await register(client, "buyer")
    await sign_in(client, account.email, account.password)
    async with db.sessionmaker() as session:
        await session.execute(
            text("UPDATE users SET status = 'suspended' WHERE id = :u"), {"u": account.id}
        )
        await session.commit()
    page = await client.get("/account")
    assert page.status_code == 403
    assert "suspended" in main_text(page.text)


async def test_a_password_reset_elsewhere_signs_the_browser_out(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    account = await register(client, "buyer")
    await sign_in(client, account.email, account.password)
    await client.post("/v1/auth/forgot-password", json={"email": account.email})
    await deliver_events(db)
    [message] = [m for m in mailbox(settings) if "reset" in m["Subject"].lower()]
    token = token_in(message)
    done = await submit(
        client,
        f"/reset-password?token={token}",
        "/reset-password",
        token=token,
        password="Quartz-Willow-64!",
        confirm="Quartz-Willow-64!",
    )
    assert done.status_code == 303
    assert (await client.get("/account")).status_code == 303  # to sign in
    assert (await login(client, account.email, "Quartz-Willow-64!")).status_code == 200


async def test_reset_form_shows_policy_errors_and_mismatches(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    account = await register(client, "buyer")
    await client.post("/v1/auth/forgot-password", json={"email": account.email})
    await deliver_events(db)
    token = token_in(next(m for m in mailbox(settings) if "reset" in m["Subject"].lower()))
    page = f"/reset-password?token={token}"
    mismatch = await submit(
        client, page, "/reset-password", token=token, password="Quartz-Willow-64!", confirm="x"
    )
    assert mismatch.status_code == 422
    assert "same password twice" in mismatch.text
    weak = await submit(
        client, page, "/reset-password", token=token, password="short", confirm="short"
    )
    assert weak.status_code == 422
    assert "at least 8 characters" in weak.text
    assert (await login(client, account.email, account.password)).status_code == 200


async def test_profile_and_password_change(client: httpx.AsyncClient) -> None:
    account = await register(client, "creator")
    await sign_in(client, account.email, account.password)
    saved = await submit(
        client, "/account", username=account.username, displayName="Mira K.", bio="Ink worlds"
    )
    assert saved.status_code == 303
    page = await client.get("/account")
    assert 'value="Mira K."' in page.text and "Ink worlds" in page.text
    wrong = await submit(
        client,
        "/account/password",
        currentPassword="Nope-Nope-11!",
        newPassword="Quartz-Willow-64!",
        confirm="Quartz-Willow-64!",
    )
    assert wrong.status_code in (401, 403, 422)
    assert 'id="e-currentPassword"' in wrong.text or "password" in main_text(wrong.text).lower()
    changed = await submit(
        client,
        "/account/password",
        currentPassword=account.password,
        newPassword="Quartz-Willow-64!",
        confirm="Quartz-Willow-64!",
    )
    assert changed.status_code == 303
    assert (await client.get("/account")).status_code == 200  # this session stays
    assert (await login(client, account.email, "Quartz-Willow-64!")).status_code == 200
