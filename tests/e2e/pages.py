"""What a person does on the pages, for the browser tests: sign up, verify by the emailed
link, sign in, and the checks every page passes (`checked`)."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.browser import (
    assert_accessible,
    assert_fits_phone,
    assert_no_csp_violations,
    assert_no_foreign_requests,
)
from tests.e2e.server import AppServer, Person, emailed_link

# The sign-up form's choice for each kind of account.
ACCOUNT_KINDS = {
    "creator": "Original creator",
    "secondary_creator": "Secondary creator",
    "buyer": "Buyer",
}


def is_phone(page: Page) -> bool:
    viewport = page.viewport_size
    return viewport is not None and viewport["width"] < 600


async def checked(page: Page) -> None:
    """The page has no serious accessibility problem, its Content-Security-Policy refused
    nothing, it asked no other host, and at a phone's width it fits the phone."""
    await assert_accessible(page)
    await assert_no_csp_violations(page)
    assert_no_foreign_requests(page)
    if is_phone(page):
        await assert_fits_phone(page)


async def heading(page: Page, text: str | re.Pattern[str]) -> None:
    """Wait for the page's h1 to read `text` (the whole of it, for a str)."""
    await expect(page.get_by_role("heading", level=1)).to_have_text(text)


async def says(page: Page, text: str | re.Pattern[str]) -> None:
    """Wait for the page's main content to contain `text`."""
    await expect(page.locator("main")).to_contain_text(text)


async def goto(page: Page, path: str, *, status: int = 200) -> None:
    response = await page.goto(path)
    assert response is not None
    assert response.status == status, f"{path}: {response.status}"


async def sign_up(page: Page, person: Person, kind: str, *, check: bool = False) -> None:
    """Create the account on /sign-up: the browser is signed in as `person` after it."""
    await goto(page, "/sign-up")
    await heading(page, "Create your account")
    if check:
        await checked(page)
    await page.get_by_label(ACCOUNT_KINDS[kind]).check()
    await page.get_by_label("Username").fill(person.username)
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password").fill(person.password)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(re.compile(r"/account$"))
    await says(page, f"Welcome, {person.username}")


async def verify_by_email(
    page: Page, server: AppServer, person: Person, *, check: bool = False
) -> None:
    """Open the link of the verification email in the browser."""
    link = emailed_link(server, person.email, "/verify-email/")
    await goto(page, link)
    await heading(page, "Your email address is verified")
    if check:
        await checked(page)


async def sign_in(page: Page, person: Person, *, then: str = "/") -> None:
    await goto(page, f"/sign-in?next={then}")
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password").fill(person.password)
    await page.get_by_role("button", name="Sign in").click()
    await says(page, f"Signed in as {person.username}")
