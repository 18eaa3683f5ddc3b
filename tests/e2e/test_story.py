"""The whole story through the pages alone, at a desktop's and at a phone's size: a creator
registers IP, a secondary creator licenses it and sells a product made under it, a buyer
buys it, anyone checks its code; the creator revokes the license and the same check says
NOT AUTHENTIC. Only the administrator's approval goes through the API: the back office has
no pages yet. Every page type visited passes `checked` (accessibility, CSP, no foreign
requests, and at the phone's size, the phone fit)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.market import admin_of, png_image, word
from tests.e2e.pages import checked, goto, heading, says, sign_up, verify_by_email
from tests.e2e.server import AppServer, approve_ip_asset, new_person

OpenPage = Callable[[str], Awaitable[Page]]
_ID = r"([0-9a-f-]{36})"


def _id_in(page: Page, pattern: str) -> str:
    found = re.search(pattern, page.url)
    assert found, f"{pattern} not in {page.url}"
    return found.group(1)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_the_whole_story_through_the_pages(
    open_page: OpenPage, app_server: AppServer, tmp_path: Path, viewport: str
) -> None:
    # the administrator comes from the command line, which takes seconds: meanwhile, the story
    admin = asyncio.create_task(asyncio.to_thread(admin_of, app_server))

    # --- given a creator who signs up and verifies by the emailed link
    creator = await open_page(viewport)
    ada = new_person("ada")
    await sign_up(creator, ada, "creator", check=True)
    await checked(creator)  # the account page
    await verify_by_email(creator, app_server, ada, check=True)

    # --- when they register an asset with a file and submit it for review
    await goto(creator, "/studio")
    await heading(creator, "Studio")
    await checked(creator)
    await creator.get_by_role("link", name="Register an IP asset").click()
    await heading(creator, "Register an IP asset")
    await checked(creator)
    asset_title = f"{word()} the lighthouse fox"
    picture = tmp_path / "fox.png"
    picture.write_bytes(png_image())
    await creator.get_by_label("Title").fill(asset_title)
    await creator.get_by_label("Description").fill("A red fox who keeps a lighthouse.")
    await creator.get_by_label("Category").fill("characters")
    await creator.get_by_label("Content type").fill("image")
    await creator.get_by_label("Files").set_input_files(picture)
    await creator.get_by_role("button", name="Register").click()
    await heading(creator, asset_title)
    await says(creator, "is registered as a draft")
    await expect(creator.get_by_role("link", name="File 1")).to_be_visible()
    asset_id = _id_in(creator, rf"/studio/assets/{_ID}$")
    await checked(creator)
    await creator.get_by_role("button", name="Submit for review").click()
    await says(creator, "is submitted: an administrator will review it")

    # --- and an administrator approves it (through the API: no back office pages yet)
    approve_ip_asset(await admin, asset_id)

    # --- and the creator publishes terms
    await goto(creator, f"/studio/assets/{asset_id}/terms")
    await heading(creator, f"License terms of “{asset_title}”")
    await checked(creator)
    await creator.get_by_label("Revenue share, % of every sale").fill("12.5")
    await creator.get_by_role("button", name="Publish terms").click()
    await says(creator, "Published: standard terms, version 1.")

    # --- a secondary creator signs up, finds the asset in the catalogue and applies
    maker = await open_page(viewport)
    bo = new_person("bo")
    await sign_up(maker, bo, "secondary_creator")
    await verify_by_email(maker, app_server, bo)
    await goto(maker, "/ip")
    await checked(maker)
    await maker.get_by_role("link", name=asset_title).first.click()
    await heading(maker, asset_title)
    await says(maker, "12.50% of the price of every sale goes to the licensor")
    await checked(maker)
    await maker.get_by_role("link", name="Apply for a license").click()
    await heading(maker, f"Apply for a license of “{asset_title}”")
    await checked(maker)
    await maker.get_by_label("What you will make").fill("Mugs with the fox on them.")
    await maker.get_by_role("button", name="Apply for the license").click()
    await heading(maker, "My license applications")
    await says(maker, "Your application")
    await checked(maker)

    # --- the creator approves it
    await goto(creator, "/studio/applications")
    await checked(creator)
    row = creator.get_by_role("row").filter(has_text=bo.username)
    await row.get_by_role("button", name="Approve").click()
    await says(creator, f"Approved: {bo.username} now holds a license of “{asset_title}”")
    await checked(creator)  # the application's own page

    # --- the secondary creator makes a product under the license, sets its stock, publishes
    await goto(maker, "/licenses")
    await heading(maker, "My licenses")
    await checked(maker)
    await maker.get_by_role("link", name="Make a product").click()
    await heading(maker, "New product")
    await checked(maker)
    product_word = word()
    product_title = f"{product_word} fox mug"
    await maker.get_by_label("Title").fill(product_title)
    await maker.get_by_label("Description").fill("A ceramic mug, 350 ml.")
    await maker.get_by_label("Category").fill("merchandise")
    await maker.get_by_label("Price (USD)").fill("24.50")
    await maker.get_by_role("button", name="Save the draft").click()
    await heading(maker, product_title)
    await says(maker, "Your product is saved as a draft")
    product_id = _id_in(maker, rf"/shop/products/{_ID}$")
    await checked(maker)
    await maker.get_by_label("Units free to sell").fill("7")
    await maker.get_by_role("button", name="Set the stock").click()
    await says(maker, "The stock is updated.")
    mug = tmp_path / "mug.png"
    mug.write_bytes(png_image())
    await maker.get_by_label("Add an image").set_input_files(mug)
    await maker.get_by_role("button", name="Upload").click()
    await says(maker, "The image is added.")
    await expect(maker.get_by_role("img", name=f"Image 1 of {product_title}")).to_be_visible()
    await maker.get_by_role("button", name="Publish: put it on sale").click()
    await says(maker, "Your product is on sale.")
    code = (await maker.locator("code.code").inner_text()).strip()
    assert re.fullmatch(r"[0-9a-f]{32}", code), code
    await maker.get_by_role("link", name="Print QR labels").click()
    await expect(maker).to_have_url(re.compile(rf"/shop/products/{product_id}/labels"))
    await heading(maker, f"QR labels for “{product_title}”")
    await checked(maker)
    await goto(maker, "/shop")
    await heading(maker, "My products")
    await says(maker, product_title)
    await checked(maker)

    # --- a buyer signs up, finds it by search and buys it with a test card
    buyer = await open_page(viewport)
    cy = new_person("cy")
    await sign_up(buyer, cy, "buyer")
    await verify_by_email(buyer, app_server, cy)
    await goto(buyer, "/")
    await checked(buyer)
    await buyer.get_by_role("searchbox", name="Search products").fill(product_word)
    await buyer.get_by_role("button", name="Search").click()
    await expect(buyer).to_have_url(re.compile(rf"/products\?q={product_word}"))
    await says(buyer, f"1 result for “{product_word}”")
    await checked(buyer)
    await buyer.get_by_role("link", name=product_title).click()
    await heading(buyer, product_title)
    await says(buyer, "Authentic")
    await says(buyer, "7 in stock")
    await expect(buyer.get_by_role("img", name=f"{product_title}, picture 1 of 1")).to_be_visible()
    await checked(buyer)
    await buyer.get_by_role("button", name="Buy now").click()
    await heading(buyer, "Checkout")
    await says(buyer, "4242 4242 4242 4242")
    await checked(buyer)
    await buyer.get_by_label("Card number").fill("4242 4242 4242 4242")
    await buyer.get_by_role("button", name="Pay 24.50 USD").click()
    await heading(buyer, f"Your order: {product_title}")
    await says(buyer, "Thank you: your order is paid.")
    await checked(buyer)
    await goto(buyer, "/orders")
    await expect(buyer.get_by_role("link", name=product_title)).to_be_visible()
    await checked(buyer)

    # --- the seller sees the sale in their money
    await goto(maker, "/money")
    await heading(maker, "Your money")
    await expect(maker.get_by_role("link", name=product_title)).to_be_visible()
    await checked(maker)

    # --- anyone, signed out, opens the code's page and sees AUTHENTIC
    anyone = await open_page(viewport)
    await goto(anyone, f"/verify/{code}")
    await heading(anyone, "AUTHENTIC")
    await says(anyone, asset_title)
    await checked(anyone)

    # --- the creator revokes the license, on its confirmation page, with a reason
    await goto(creator, "/studio/licenses")
    await checked(creator)
    row = creator.get_by_role("row").filter(has_text=bo.username)
    await row.get_by_role("link", name="Revoke…").click()
    await heading(creator, f"Revoke {bo.username}'s license of “{asset_title}”")
    await says(creator, "1 product taken off sale")
    await says(creator, product_title)
    await checked(creator)
    await creator.get_by_label("Reason for revoking").fill("The mugs do not credit me.")
    await creator.get_by_role("button", name="Revoke the license").click()
    await says(creator, f"Revoked {bo.username}'s license of “{asset_title}”.")

    # --- then the same page says NOT AUTHENTIC, and the buyer's order keeps what they bought
    await goto(anyone, f"/verify/{code}")
    await heading(anyone, "NOT AUTHENTIC")
    await says(anyone, "revoked")
    await checked(anyone)
    await buyer.get_by_role("link", name=product_title).click()
    await heading(buyer, f"Your order: {product_title}")
    await says(buyer, "No longer on sale")
