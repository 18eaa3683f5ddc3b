"""The password reset page the email links to works without JavaScript."""

from __future__ import annotations

import httpx

from ipmarket.config import Settings
from ipmarket.kit.db import Database
from tests.support import deliver_events, login, mailbox, register, token_in


async def _reset_token(
    client: httpx.AsyncClient, db: Database, settings: Settings, email: str
) -> str:
    await client.post("/v1/auth/forgot-password", json={"email": email})
    await deliver_events(db)
    [message] = [m for m in mailbox(settings) if "reset" in m["Subject"].lower()]
    return token_in(message)


async def test_the_emailed_link_opens_a_form_that_resets(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    account = await register(client, "buyer")
    token = await _reset_token(client, db, settings, account.email)
    page = await client.get("/reset-password", params={"token": token})
    assert page.status_code == 200
    assert 'name="token"' in page.text and token in page.text
    done = await client.post(
        "/reset-password",
        data={"token": token, "password": "Quartz-Willow-64!", "confirm": "Quartz-Willow-64!"},
    )
    assert done.status_code == 200
    assert "password is changed" in done.text
    assert (await login(client, account.email, "Quartz-Willow-64!")).status_code == 200


async def test_the_form_shows_policy_errors_and_mismatches(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    account = await register(client, "buyer")
    token = await _reset_token(client, db, settings, account.email)
    mismatch = await client.post(
        "/reset-password",
        data={"token": token, "password": "Quartz-Willow-64!", "confirm": "other"},
    )
    assert mismatch.status_code == 422
    assert "differ" in mismatch.text
    weak = await client.post(
        "/reset-password", data={"token": token, "password": "short", "confirm": "short"}
    )
    assert weak.status_code == 422
    assert "at least 8 characters" in weak.text
    assert (await login(client, account.email, account.password)).status_code == 200
