"""Administrators see each user's totals: revenue earned (net of refunds), IP assets and
products, filled in by the modules that own them."""

from __future__ import annotations

import httpx
import pytest

from ipmarket.kit.db import Database
from tests.payments.shop import Shop, freeze
from tests.support import create_admin


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


async def test_admins_see_revenue_assets_and_products_per_user(shop: Shop, db: Database) -> None:
    # given the chain of three (a product at each level), a sale of 9.99 of S3's new product
    # and a refund of 4.99 of it
    chain = await shop.rights.chain_of_three()
    product = await shop.rights.product(chain["s3"], chain["l3"]["id"], price=3.33)
    buyer = await shop.buyer()
    sale = await shop.bought(buyer, product["id"], quantity=3)
    refunded = await shop.refund(chain["s3"], sale["id"], 4.99)
    assert refunded.status_code == 200, refunded.text
    admin = await create_admin(shop.client, db)
    # when an administrator lists the users
    response = await shop.client.get("/v1/admin/users", headers=admin.auth, params={"limit": 100})
    assert response.status_code == 200, response.text
    users = {u["id"]: u for u in response.json()["data"]}
    # then each party's revenue is its part of the sale less its part of the refund:
    # parts of 9.99 are fee 1.00, L3 0.50, L2 0.50, L1 1.00, seller 6.99; of 4.99 (the
    # same split in proportion) fee 0.50, L3 0.25, L2 0.25, L1 0.50, seller 3.49
    assert users[str(chain["s3"].id)]["totalRevenue"] == 3.50
    assert users[str(chain["s2"].id)]["totalRevenue"] == 0.25
    assert users[str(chain["s1"].id)]["totalRevenue"] == 0.25
    assert users[str(chain["creator"].id)]["totalRevenue"] == 0.50
    assert users[str(buyer.id)]["totalRevenue"] == 0.0
    # and their IP assets and products
    assert users[str(chain["creator"].id)]["totalIPs"] == 1
    assert users[str(chain["s1"].id)]["totalIPs"] == 1
    assert users[str(chain["s3"].id)]["totalIPs"] == 0
    assert users[str(chain["s3"].id)]["totalProducts"] == 2
    assert users[str(chain["s1"].id)]["totalProducts"] == 1
    # and the same totals come with a single user's answer
    suspended = await shop.client.post(
        f"/v1/admin/users/{chain['s3'].id}/suspend",
        headers=admin.auth,
        json={"reason": "Checking totals"},
    )
    assert suspended.status_code == 200, suspended.text
    data = suspended.json()["data"]
    assert (data["totalRevenue"], data["totalProducts"]) == (3.50, 2)
