"""The two paths people take from a phone need no JavaScript: buying (product page →
checkout → confirmation) and checking a code (the form → the verification page). The
marketplace is made through the API; the browser has JavaScript turned off."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.market import buyer_of, listed_product
from tests.e2e.pages import goto, heading, says, sign_in
from tests.e2e.server import AppServer


async def _javascript_is_off(page: Page) -> None:
    # Chromium draws <noscript> content only when scripts are off
    await page.set_content("<noscript><p id='off'>off</p></noscript>")
    await expect(page.locator("#off")).to_be_visible()


async def test_buying_needs_no_javascript(nojs_page: Page, app_server: AppServer) -> None:
    listed = listed_product(app_server, price=12.25, stock=5)
    buyer, _ = buyer_of(app_server)
    page = nojs_page
    await _javascript_is_off(page)
    await sign_in(page, buyer, then=f"/products/{listed.product_id}")

    await heading(page, listed.title)
    await page.get_by_label("Quantity").fill("2")
    await page.get_by_role("button", name="Buy now").click()

    await heading(page, "Checkout")
    await says(page, "24.50 USD")
    await page.get_by_label("Card number").fill("4242 4242 4242 4242")
    await page.get_by_role("button", name="Pay 24.50 USD").click()

    await expect(page).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    await heading(page, f"Your order: {listed.title}")
    await says(page, "Thank you: your order is paid.")
    await says(page, "Status: completed")
    await page.get_by_role("link", name="Check its authorization chain").click()
    await heading(page, "AUTHENTIC")
    await goto(page, f"/products/{listed.product_id}")
    await says(page, "3 in stock")


async def test_checking_a_code_needs_no_javascript(nojs_page: Page, app_server: AppServer) -> None:
    listed = listed_product(app_server)
    page = nojs_page
    await _javascript_is_off(page)
    await goto(page, "/verify")
    await heading(page, "Check a product code")
    grouped = " ".join(listed.code[i : i + 4] for i in range(0, 32, 4)).upper()
    await page.get_by_label("Verification code").fill(grouped)
    await page.get_by_role("button", name="Check").click()

    await expect(page).to_have_url(re.compile(rf"/verify/{listed.code}$"))
    await heading(page, "AUTHENTIC")
    await says(page, listed.title)
    await says(page, listed.asset["title"])
    await expect(page.get_by_role("img", name="QR code of this verification page")).to_be_visible()

    # a mistyped code is said beside the box, and the box keeps it
    await goto(page, "/verify")
    await page.get_by_label("Verification code").fill("not-a-code")
    await page.get_by_role("button", name="Check").click()
    await says(page, "That is not a verification code.")
    await expect(page.get_by_label("Verification code")).to_have_value("not-a-code")
