"""What every page shares: CSRF refusal, error pages, headers, static files, the PWA."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from ipmarket.kit.db import Database
from tests.support import STRONG_PASSWORD
from tests.web.support import main_text, sign_up


async def test_a_post_without_or_with_a_stale_csrf_token_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    fields = {
        "username": "nocsrf_user",
        "email": "nocsrf@example.com",
        "password": STRONG_PASSWORD,
        "userType": "buyer",
    }
    missing = await client.post("/sign-up", data=fields)
    assert missing.status_code == 403
    assert "expired or did not come from this site" in main_text(missing.text)
    await client.get("/sign-up")  # the browser now has a CSRF cookie
    forged = await client.post("/sign-up", data=fields | {"csrf_token": "0" * 64})
    assert forged.status_code == 403
    async with db.sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM users")) == 0


async def test_unknown_pages_get_the_404_page_and_the_api_keeps_its_envelope(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "could not find" in page.text
    api = await client.get("/v1/no-such-endpoint")
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "NOT_FOUND"


async def test_pages_carry_a_strict_content_security_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/sign-in")
    csp = page.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert "<script>" not in page.text and "style=" not in page.text
    assert page.headers["x-frame-options"] == "DENY"


async def test_signed_out_visitors_are_sent_to_sign_in_and_back(client: httpx.AsyncClient) -> None:
    page = await client.get("/account")
    assert page.status_code == 303
    assert page.headers["location"] == "/sign-in?next=/account"
    form = await client.get(page.headers["location"])
    assert 'name="next" value="/account"' in form.text
    assert "Sign in to see this page" in form.text  # the flash message


async def test_navigation_follows_the_role(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/sign-in")
    assert 'href="/studio"' not in anonymous.text and 'href="/sign-up"' in anonymous.text
    await sign_up(client, "creator")
    creator = await client.get("/account")
    assert 'href="/studio"' in creator.text and 'href="/orders"' not in creator.text


async def test_static_files_have_hashed_names_and_year_long_caching(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/sign-in")
    match = re.search(r'href="(/static/app\.[0-9a-f]{12}\.css)"', page.text)
    assert match
    css = await client.get(match.group(1))
    assert css.status_code == 200
    assert "immutable" in css.headers["cache-control"]
    assert css.headers["content-type"].startswith("text/css")
    assert (await client.get("/static/app.000000000000.css")).status_code == 404


async def test_the_app_installs_and_has_an_offline_page(client: httpx.AsyncClient) -> None:
    manifest = (await client.get("/manifest.webmanifest")).json()
    assert manifest["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in manifest["icons"]}
    worker = await client.get("/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert '"/offline"' in worker.text and "/static/app." in worker.text
    offline = await client.get("/offline")
    assert offline.status_code == 200 and "You are offline" in offline.text


async def test_an_unexpected_failure_is_a_500_page_without_a_stack_trace(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def boom() -> None:
        raise RuntimeError("secret detail from deep inside")

    app.add_api_route("/boom-page", boom)
    page = await client.get("/boom-page")
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "Something went wrong on our side" in page.text
    assert "secret detail" not in page.text and "Traceback" not in page.text
    assert page.headers["x-request-id"] in page.text  # a reference to quote
