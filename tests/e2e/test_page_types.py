"""The page types the story (test_story.py) does not visit, or visits only in another state,
drawn with something in them at a desktop's and at a phone's size: each passes `checked`
(axe-core finds no serious or critical violation, the CSP refused nothing, no other host was
asked, and at the phone's size it fits the phone).

The story checks the rest on its way, at both sizes: sign-up, account, the email link, the
studio (empty), the asset form, a studio asset with its file, terms, the IP catalogue, an IP
asset, apply, my applications, applications, an approved application, my licenses, the
product form, a shop product with its image, labels, the shop list, home, search, a product
page, checkout, an order, orders, money, AUTHENTIC and NOT AUTHENTIC, licenses granted and
the revoke confirmation.

The marketplace here is made through the API (tests/e2e/market.py); each kind of user signs
in on the sign-in page. A page that fails is listed with the others, so one run shows all."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from playwright.async_api import Page

from tests.e2e.market import (
    approved_asset,
    bought,
    buyer_of,
    listed_product,
    published_terms,
    word,
)
from tests.e2e.pages import checked, sign_in
from tests.e2e.server import Api, AppServer, Person

OpenPage = Callable[[str], Awaitable[Page]]


@dataclass(frozen=True)
class PageType:
    name: str
    who: str  # "anyone", "creator", "seller" or "buyer"
    path: str
    h1: str  # what the page's h1 contains
    status: int = 200


def _page_types(server: AppServer) -> tuple[list[PageType], dict[str, Person]]:
    """The marketplace the pages show, and each page type with the visitor who sees it."""
    listed = listed_product(server)
    # a second work of the same creator, which the seller has applied for and waits on
    other = approved_asset(server, listed.creator_api, f"{word()} the owl")
    other_terms = published_terms(
        listed.creator_api,
        other["id"],
        licenseType="premium",
        revenueSharePercentage=15,
        territory="FR,DE",
        duration="P6M",
    )
    waiting = listed.seller_api.post(
        "/licenses/apply",
        {"ipAssetId": other["id"], "licenseTermsId": other_terms["id"]},
    )
    buyer, buyer_api = buyer_of(server)
    order = bought(buyer_api, listed.product_id)
    asset, product = listed.asset, listed.product
    unit_code = _unit_code(listed.seller_api, listed.product_id)
    a, p, lic = asset["id"], product["id"], listed.license["id"]
    types = [
        PageType("browse", "anyone", "/products?category=merchandise&sort=newest", "Products"),
        PageType("profile", "anyone", f"/people/{listed.seller.username}", listed.seller.username),
        PageType("unknown code", "anyone", f"/verify/{'0' * 32}", "NOT AUTHENTIC", 404),
        PageType("check a code", "anyone", "/verify", "Check a product code"),
        PageType("sign-in", "anyone", "/sign-in", "Sign in"),
        PageType("forgot password", "anyone", "/forgot-password", "Forgot your password?"),
        PageType("email link", "anyone", "/verify-email/used-up", "This link does not work", 404),
        PageType("404 page", "anyone", f"/products/{uuid.uuid4()}", "We could not find that", 404),
        PageType("offline page", "anyone", "/offline", "You are offline"),
        PageType("password", "creator", "/account/password", "Change your password"),
        PageType("studio with assets", "creator", "/studio", "Studio"),
        PageType("asset edit", "creator", f"/studio/assets/{a}/edit", "Edit"),
        PageType(
            "terms edit",
            "creator",
            f"/studio/assets/{a}/terms/{listed.terms['id']}",
            "Change the standard terms",
        ),
        PageType(
            "pending application", "creator", f"/studio/applications/{waiting['id']}", "application"
        ),
        PageType(
            "withdraw", "seller", f"/licenses/applications/{waiting['id']}/withdraw", "Withdraw"
        ),
        PageType("derivative form", "seller", f"/licenses/{lic}/derivative", "derivative"),
        PageType("product edit", "seller", f"/shop/products/{p}/edit", "Edit"),
        PageType("sale", "seller", f"/money/sales/{order['id']}", "Sale:"),
        PageType("payouts", "seller", "/money/payouts", "Your payouts"),
        PageType("403 page", "buyer", "/studio", "You cannot do that", 403),
        PageType("an item's own code", "anyone", f"/verify/{unit_code}", "AUTHENTIC"),
        PageType("order with item codes", "buyer", f"/orders/{order['id']}", "Your order"),
        PageType("items sold", "seller", f"/shop/products/{p}/units?copies=false", "Items sold"),
        PageType("copy warnings", "creator", "/studio/units?copies=false", "Items sold under"),
    ]
    people = {"creator": listed.creator, "seller": listed.seller, "buyer": buyer}
    return types, people


def _unit_code(seller: Api, product_id: str) -> str:
    """The first item's own code, once the purchase's event has made it (the server's relay
    runs in process, a moment after the sale)."""
    for _ in range(100):
        units = seller.get(f"/units?productId={product_id}")
        if units:
            return str(units[0]["code"])
        time.sleep(0.1)
    raise AssertionError("the sale's units were never made")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_the_pages_the_story_does_not_visit_pass_the_checks(
    open_page: OpenPage, app_server: AppServer, viewport: str
) -> None:
    types, people = _page_types(app_server)
    pages: dict[str, Page] = {"anyone": await open_page(viewport)}
    for who, person in people.items():
        pages[who] = await open_page(viewport)
        await sign_in(pages[who], person)
    problems: list[str] = []
    for kind in types:
        page = pages[kind.who]
        response = await page.goto(kind.path)
        assert response is not None
        if response.status != kind.status:
            problems.append(f"{kind.name} ({kind.path}): status {response.status}")
            continue
        h1 = await page.get_by_role("heading", level=1).inner_text()
        if kind.h1 not in h1:
            problems.append(f"{kind.name} ({kind.path}): h1 {h1!r} without {kind.h1!r}")
        try:
            await checked(page)
        except AssertionError as failure:
            problems.append(f"{kind.name}: {failure}")
    assert not problems, "\n".join(problems)
