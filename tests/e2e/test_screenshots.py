"""Screenshots of the main pages for the README: `make screenshots` writes them to
docs/screenshots/ (NAME-desktop.png, NAME-phone.png); otherwise to the test's directory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page

pytestmark = pytest.mark.screenshots

# (name, path, a selector that is there once the page is drawn). The page areas add theirs.
PAGES = [
    ("home", "/", "h1"),
    ("api-docs", "/docs", ".opblock"),
    ("reset-password", "/reset-password?token=from-the-email", "h1"),
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_main_pages(
    open_page: Callable[[str], Awaitable[Page]],
    screenshot: Callable[..., Awaitable[Path]],
    viewport: str,
) -> None:
    page = await open_page(viewport)
    for name, path, drawn in PAGES:
        response = await page.goto(path)
        assert response is not None
        assert response.ok, f"{path}: {response.status}"
        await page.locator(drawn).first.wait_for(timeout=120_000)
        shot = await screenshot(page, name)
        assert shot.read_bytes().startswith(PNG_SIGNATURE)
        assert shot.stat().st_size > 5_000
