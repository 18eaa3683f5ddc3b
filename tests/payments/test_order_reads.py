"""What the API's history says of an order's product: its title when it was bought, and
whether it is still on sale (a suspended or removed product is no longer public)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ipmarket.kit.db import Database
from tests.payments.shop import Shop, freeze
from tests.support import Account


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


async def history_of(shop: Shop, account: Account) -> list[dict[str, Any]]:
    response = await shop.client.get("/v1/payments/history", headers=account.auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]
    return items


async def test_an_order_keeps_its_title_and_says_why_its_product_is_off_sale(
    shop: Shop,
) -> None:
    # given a buyer's order of a product on sale
    product, seller, licensor = await shop.product(stock=3)
    buyer = await shop.buyer()
    sale = await shop.bought(buyer, product["id"])
    # then the purchase and the history carry the title, and the product is on sale
    assert sale["productTitle"] == product["title"]
    [item] = await history_of(shop, buyer)
    assert (item["productTitle"], item["productAvailability"]) == (product["title"], "on_sale")
    assert item["productUnavailableReason"] is None
    # when the seller renames it, the order keeps the title it was bought under
    renamed = await shop.client.put(
        f"/v1/products/{product['id']}", json={"title": "Renamed mug"}, headers=seller.auth
    )
    assert renamed.status_code == 200, renamed.text
    [item] = await history_of(shop, buyer)
    assert item["productTitle"] == product["title"]
    # when its license is revoked, the product is suspended and no longer public
    revoked = await shop.client.put(
        f"/v1/licenses/{product['licenseId']}/revoke",
        json={"reason": "Breach of terms"},
        headers=licensor.auth,
    )
    assert revoked.status_code == 200, revoked.text
    hidden = await shop.client.get(f"/v1/products/{product['id']}", headers=buyer.auth)
    assert hidden.status_code == 404
    # then the order says so, and why
    [item] = await history_of(shop, buyer)
    assert item["productAvailability"] == "suspended"
    assert "license revoked" in item["productUnavailableReason"]
    # and the seller's history says the same of their sale
    [theirs] = await history_of(shop, seller)
    assert (theirs["role"], theirs["productAvailability"]) == ("seller", "suspended")


async def test_an_order_of_a_removed_or_sold_out_product_says_so(shop: Shop) -> None:
    removed, seller, _ = await shop.product(stock=3)
    sold_out, _, _ = await shop.product(stock=1)
    buyer = await shop.buyer()
    await shop.bought(buyer, removed["id"])
    await shop.bought(buyer, sold_out["id"])
    deleted = await shop.client.delete(f"/v1/products/{removed['id']}", headers=seller.auth)
    assert deleted.status_code == 200, deleted.text
    states = {i["productId"]: i["productAvailability"] for i in await history_of(shop, buyer)}
    assert states == {removed["id"]: "removed", sold_out["id"]: "sold_out"}
