"""/docs and /redoc render the API reference from the vendored files, with nothing asked of
any other host (the machine may have no internet)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page

from tests.e2e.browser import (
    assert_accessible,
    assert_no_csp_violations,
    assert_no_foreign_requests,
)

# The first request for /openapi.json builds the whole document: slow on a loaded machine.
RENDER_TIMEOUT_MS = 120_000
# Swagger UI's own markup: its grey-on-white text and buttons inside its summary buttons.
SWAGGER_UI_OWN_VIOLATIONS = ("color-contrast", "nested-interactive")
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_swagger_ui_shows_every_operation_offline(
    open_page: Callable[[str], Awaitable[Page]], viewport: str
) -> None:
    page = await open_page(viewport)
    response = await page.goto("/docs")
    assert response is not None
    assert response.ok
    operations = page.locator(".opblock")
    await operations.first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert await operations.count() > 50
    assert await page.title() == "ipmarket API reference"
    await assert_accessible(page, disabled_rules=SWAGGER_UI_OWN_VIOLATIONS)
    # an operation opens, ready to be tried
    login = page.locator(".opblock-post", has_text="/v1/auth/login").first
    await login.locator(".opblock-summary").click()
    await login.get_by_role("button", name="Try it out").wait_for()
    assert_no_foreign_requests(page)
    await assert_no_csp_violations(page)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_redoc_shows_the_reference_offline(
    open_page: Callable[[str], Awaitable[Page]], viewport: str
) -> None:
    page = await open_page(viewport)
    response = await page.goto("/redoc")
    assert response is not None
    assert response.ok
    title = page.locator("redoc h1", has_text="ipmarket")
    await title.wait_for(state="attached", timeout=RENDER_TIMEOUT_MS)
    sections = page.locator("[data-section-id^='tag/']")
    assert await sections.count() > 5
    assert await page.locator("[data-section-id*='operation/']").count() > 50
    # Redoc's menu asks Redocly's CDN for a logo: the page's policy refuses it, so it is
    # never fetched, and that is all the page asks of another host.
    assert page.foreign_requests == [REDOCLY_LOGO]  # type: ignore[attr-defined]
    refused = await page.evaluate("() => window.__cspViolations")
    assert refused == [f"img-src refused {REDOCLY_LOGO}"]
