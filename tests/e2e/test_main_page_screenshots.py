"""Screenshots of the main pages with a marketplace in them, for the README: `make
screenshots` writes NAME-desktop.png and NAME-phone.png to docs/screenshots/ (elsewhere, to
the test's own directory). The marketplace is made through the API: a creator's two works,
a secondary creator's licensed products (one of whose licenses is revoked for the NOT
AUTHENTIC page), a buyer's order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.e2e.market import (
    approved_asset,
    bought,
    licensed,
    on_sale,
    published_terms,
)
from tests.e2e.pages import heading, sign_in
from tests.e2e.server import AppServer, Person, register_through_api

pytestmark = pytest.mark.screenshots

OpenPage = Callable[[str], Awaitable[Page]]
Shoot = Callable[..., Awaitable[Path]]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LARGEST_PNG = 300_000  # bytes: the README carries them


async def _shoot(shoot: Shoot, page: Page, name: str, *, full_page: bool = False) -> None:
    await page.wait_for_load_state("load")
    shot = await shoot(page, name, full_page=full_page)
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert 5_000 < len(data) < LARGEST_PNG, f"{shot.name}: {len(data)} bytes"


async def test_the_main_pages_at_desktop_and_phone_sizes(
    open_page: OpenPage, app_server: AppServer, screenshot: Shoot
) -> None:
    # a marketplace: two works of one creator, three products under their licenses
    creator, creator_api = register_through_api(app_server, "creator", prefix="mira-")
    seller, seller_api = register_through_api(app_server, "secondary_creator", prefix="studio-")
    buyer, buyer_api = register_through_api(app_server, "buyer", prefix="sam-")
    name = "Juniper"  # this test runs once per server: the search finds its products only
    fox = approved_asset(
        app_server,
        creator_api,
        f"{name}, the lighthouse fox",
        "A red fox who keeps the lighthouse on a windy island, drawn in ink and watercolour.",
    )
    owl = approved_asset(
        app_server, creator_api, f"{name}'s friend the owl", "An owl who reads the weather."
    )
    fox_license = licensed(seller_api, creator_api, published_terms(creator_api, fox["id"]))
    owl_license = licensed(
        seller_api,
        creator_api,
        published_terms(creator_api, owl["id"], revenueSharePercentage=15, territory="FR,DE"),
    )
    mug = on_sale(seller_api, fox_license["id"], f"{name} lighthouse mug", price=24.5)
    on_sale(
        seller_api,
        fox_license["id"],
        f"{name} lighthouse poster",
        price=18,
        category="prints",
        description="An A3 print on matte paper.",
    )
    sticker = on_sale(
        seller_api,
        owl_license["id"],
        f"{name} owl sticker",
        price=3.5,
        category="stickers",
        description="A vinyl sticker, 8 cm.",
    )
    order = bought(buyer_api, mug["id"], quantity=2)

    sessions: dict[str, list[Any]] = {}  # each person's cookies

    async def signed_in(person: Person, viewport: str) -> Page:
        """A page signed in as `person`: on the sign-in page once, then with its cookies."""
        page = await open_page(viewport)
        if person.email in sessions:
            await page.context.add_cookies(sessions[person.email])
        else:
            await sign_in(page, person)
            sessions[person.email] = list(await page.context.cookies())
        return page

    for viewport in ("desktop", "phone"):
        anyone = await open_page(viewport)
        await anyone.goto("/")
        await _shoot(screenshot, anyone, "marketplace-home")
        await anyone.goto(f"/products?q={name}")
        await heading(anyone, "Products")
        await _shoot(screenshot, anyone, "search")
        await anyone.goto(f"/verify/{mug['verificationCode']}")
        await heading(anyone, "AUTHENTIC")
        await _shoot(screenshot, anyone, "verify-authentic", full_page=True)

        as_buyer = await signed_in(buyer, viewport)
        await as_buyer.goto(f"/products/{mug['id']}")
        await heading(as_buyer, mug["title"])
        await _shoot(screenshot, as_buyer, "product", full_page=True)
        await as_buyer.goto(f"/checkout/{mug['id']}")
        await heading(as_buyer, "Checkout")
        await _shoot(screenshot, as_buyer, "checkout", full_page=True)
        await as_buyer.goto(f"/orders/{order['id']}")
        await heading(as_buyer, f"Your order: {mug['title']}")
        await _shoot(screenshot, as_buyer, "order", full_page=True)

        as_creator = await signed_in(creator, viewport)
        await as_creator.goto("/studio")
        await heading(as_creator, "Studio")
        await _shoot(screenshot, as_creator, "studio")

        as_seller = await signed_in(seller, viewport)
        await as_seller.goto("/money")
        await heading(as_seller, "Your money")
        await _shoot(screenshot, as_seller, "money")

    creator_api.put(
        f"/licenses/{owl_license['id']}/revoke", {"reason": "The stickers do not credit me."}
    )
    for viewport in ("desktop", "phone"):
        anyone = await open_page(viewport)
        await anyone.goto(f"/verify/{sticker['verificationCode']}")
        await heading(anyone, "NOT AUTHENTIC")
        await _shoot(screenshot, anyone, "verify-not-authentic", full_page=True)
