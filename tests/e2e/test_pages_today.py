"""The harness on the pages the server has today: each loads at every viewport, passes the
accessibility check and works without JavaScript."""

from __future__ import annotations

import re

from playwright.async_api import Page

from tests.e2e.browser import (
    assert_accessible,
    assert_fits_phone,
    assert_no_csp_violations,
    assert_no_foreign_requests,
)


async def test_the_reset_password_page_at_desktop_and_phone_sizes(
    desktop_page: Page, phone_page: Page
) -> None:
    for page in (desktop_page, phone_page):
        response = await page.goto("/reset-password?token=some-token")
        assert response is not None
        assert response.status == 200
        await page.get_by_role("heading", name="Choose a new password").wait_for()
        assert await page.get_by_label("New password").is_visible()
        await assert_accessible(page)
        await assert_no_csp_violations(page)
        assert_no_foreign_requests(page)
    await assert_fits_phone(phone_page)


async def test_the_reset_password_form_works_without_javascript(nojs_page: Page) -> None:
    await nojs_page.goto("/reset-password?token=not-a-real-token-at-all")
    await nojs_page.get_by_label("New password").fill("Violet-Harbor-42!")
    await nojs_page.get_by_label("Repeat it").fill("Violet-Harbor-42!")
    async with nojs_page.expect_navigation():
        await nojs_page.get_by_role("button", name="Set password").click()
    # the server refused the token: said beside the form, no script needed
    refusal = nojs_page.get_by_role("alert").filter(
        has_text=re.compile("invalid|expired", re.IGNORECASE)
    )
    await refusal.first.wait_for()
    # the password typed is never sent back
    assert "Violet-Harbor-42!" not in await nojs_page.content()
