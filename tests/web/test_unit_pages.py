"""Unit codes on the pages: the buyer's order shows each item's own code with its QR code,
the verification page shows the item and, once its code was checked from many devices, a
"possible copy" warning in plain words; the seller and the licensor see the warning in
their lists, strangers do not."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ipmarket.kit.db import Database
from ipmarket.provenance import POSSIBLE_COPY_CLIENTS, Unit
from tests.payments.shop import Shop
from tests.support import Account, deliver_events
from tests.web.support import main_text, sign_in

Browser = Callable[[Account], AsyncIterator[httpx.AsyncClient]]


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    return Shop(client, db)


@pytest.fixture
async def browsers(app: FastAPI) -> AsyncIterator[Callable[..., Any]]:
    """Signed-in browsers on the same server, each with its own cookies."""
    opened: list[httpx.AsyncClient] = []

    async def open_as(account: Account) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=("203.0.113.9", 5555)
        )
        browser = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(browser)
        response = await sign_in(browser, account.email, account.password)
        assert response.status_code == 303, response.text
        return browser

    yield open_as
    for browser in opened:
        await browser.aclose()


@pytest.fixture
async def phones(app: FastAPI) -> AsyncIterator[Callable[[int], httpx.AsyncClient]]:
    """Anonymous browsers, phone `n` at an address of its own."""
    opened: dict[int, httpx.AsyncClient] = {}

    def phone(n: int) -> httpx.AsyncClient:
        if n not in opened:
            transport = httpx.ASGITransport(
                app=app, raise_app_exceptions=False, client=(f"198.51.100.{n + 1}", 5555)
            )
            opened[n] = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return opened[n]

    yield phone
    for browser in opened.values():
        await browser.aclose()


async def sold(shop: Shop, quantity: int = 2) -> dict[str, Any]:
    product, seller, licensor = await shop.product(stock=10)
    buyer = await shop.buyer()
    sale = await shop.bought(buyer, product["id"], quantity=quantity)
    await deliver_events(shop.db)
    async with shop.db.sessionmaker() as session:
        rows = await session.execute(
            select(Unit.code).where(Unit.order_id == sale["id"]).order_by(Unit.serial)
        )
        codes = list(rows.scalars())
    return {
        "product": product,
        "seller": seller,
        "licensor": licensor,
        "buyer": buyer,
        "sale": sale,
        "codes": codes,
    }


async def test_the_buyer_sees_each_items_code_with_its_qr_code(
    shop: Shop, browsers: Callable[..., Any]
) -> None:
    # given a completed order of two items
    world = await sold(shop, quantity=2)
    # when the buyer opens the order page
    browser = await browsers(world["buyer"])
    page = await browser.get(f"/orders/{world['sale']['id']}")
    # then it lists both items' own codes, each with a QR code and a link to check it
    assert page.status_code == 200, page.text
    words = html.unescape(main_text(page.text))
    assert "Your items' own codes" in words
    assert page.text.count('<svg role="img" aria-label="QR code of item') == 2
    for code in world["codes"]:
        assert f'href="/verify/{code}"' in page.text
    assert "Check item 1" in words and "Check item 2" in words


async def test_the_verification_page_shows_the_item_then_warns_of_a_possible_copy(
    shop: Shop, client: httpx.AsyncClient, phones: Callable[[int], httpx.AsyncClient]
) -> None:
    # given a sold item
    world = await sold(shop, quantity=1)
    [code] = world["codes"]
    # when someone scans its QR code (opens its page)
    page = await phones(0).get(f"/verify/{code}")
    # then it is authentic, names the item, and counts the check
    assert page.status_code == 200, page.text
    words = main_text(page.text)
    assert words.startswith("AUTHENTIC")
    assert "This item: unit 1" in words
    assert "checked 1 time, from 1 device" in words
    assert "Possible copy" not in words
    # when its code is checked from as many devices as the threshold
    for n in range(1, POSSIBLE_COPY_CLIENTS):
        page = await phones(n).get(f"/verify/{code}")
    # then the page says in plain words that the label may have been copied
    words = html.unescape(main_text(page.text))
    assert f"Possible copy: this item's code has been checked from {POSSIBLE_COPY_CLIENTS}" in words
    assert 'role="alert"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and "style=" not in page.text
    # and the check-a-code form takes a unit code too (spaces and case as typed)
    typed = "U " + " ".join(code[1:][i : i + 4] for i in range(0, 32, 4)).upper()
    redirect = await client.get("/verify", params={"code": typed})
    assert redirect.status_code == 303 and redirect.headers["location"] == f"/verify/{code}"


async def test_seller_and_licensor_see_the_warning_and_strangers_do_not(
    shop: Shop, browsers: Callable[..., Any], phones: Callable[[int], httpx.AsyncClient]
) -> None:
    # given a sold item whose code was checked from many devices
    world = await sold(shop, quantity=2)
    flagged = world["codes"][0]
    for n in range(POSSIBLE_COPY_CLIENTS):
        await phones(n).get(f"/verify/{flagged}")
    # when the seller opens the product's items page
    seller = await browsers(world["seller"])
    page = await seller.get(f"/shop/products/{world['product']['id']}/units")
    # then both items are listed with their codes (to print as tags), one flagged
    assert page.status_code == 200, page.text
    words = main_text(page.text)
    assert "item 1" in words and "item 2" in words
    assert words.count("Possible copy.") == 1
    assert page.text.count('aria-label="QR tag of item') == 2
    # and the product page links there
    product_page = await seller.get(f"/shop/products/{world['product']['id']}")
    assert f'href="/shop/products/{world["product"]["id"]}/units"' in product_page.text
    # when the licensor opens the studio's copy warnings
    licensor = await browsers(world["licensor"])
    page = await licensor.get("/studio/units")
    # then the flagged item is there, without its code
    assert page.status_code == 200, page.text
    words = main_text(page.text)
    assert "item 1" in words and "Possible copy." in words
    assert flagged not in page.text
    # but another creator sees none, and another seller cannot open the seller's page
    stranger = await browsers(await shop.rights.user("creator"))
    assert "No possible copies" in main_text((await stranger.get("/studio/units")).text)
    other_seller = await browsers(await shop.rights.user("secondary_creator"))
    refused = await other_seller.get(f"/shop/products/{world['product']['id']}/units")
    assert refused.status_code in (403, 404)
    assert flagged not in refused.text
