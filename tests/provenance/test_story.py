"""The full story: original asset → approval → terms → application → approval → product →
authentic; three levels of derivatives; revocation of the middle license."""

from __future__ import annotations

import httpx

from ipmarket.kit.db import Database
from tests.rights import Rights


async def test_original_asset_to_authentic_product(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator, title="Moonlit Fox")
    assert asset["verificationStatus"] == "approved"
    terms = await rights.terms(
        creator, asset["id"], revenueSharePercentage=12.5, territory=["us", "CA"]
    )
    assert terms["territory"] == "CA,US"
    license_ = await rights.license(maker, creator, asset["id"], terms["id"])
    assert license_["status"] == "approved"
    assert license_["expiresAt"] is not None
    product = await rights.product(maker, license_["id"])
    assert product["status"] == "active"
    code = product["verificationCode"]
    assert len(code) == 32

    by_code = await client.get(f"/v1/verify/{code}")
    assert by_code.status_code == 200
    answer = by_code.json()["data"]
    assert answer["authentic"] is True
    assert answer["reasons"] == []
    assert {k: answer["product"][k] for k in ("id", "title", "seller")} == {
        "id": product["id"],
        "title": product["title"],
        "seller": maker.username,
    }
    [link] = answer["chain"]
    assert {k: link["ipAsset"][k] for k in ("id", "title", "creator")} == {
        "id": asset["id"],
        "title": "Moonlit Fox",
        "creator": creator.username,
    }
    assert link["license"]["id"] == license_["id"]
    assert link["license"]["status"] == "approved"
    assert link["license"]["territory"] == "CA,US"
    assert link["active"] is True
    by_product = await client.get(f"/v1/products/{product['id']}/verify")
    assert by_product.json()["data"] == answer
    # the public sees the product, without its code
    public = await client.get(f"/v1/products/{product['id']}")
    assert public.json()["data"]["verificationCode"] is None
    assert (await client.get("/v1/verify/" + "0" * 32)).status_code == 404


async def test_three_levels_and_revoking_the_middle(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    world = await rights.chain_of_three()
    p1, p2, p3 = world["p1"], world["p2"], world["p3"]
    deep = (await client.get(f"/v1/products/{p3['id']}/verify")).json()["data"]
    assert deep["authentic"] is True
    assert [link["ipAsset"]["id"] for link in deep["chain"]] == [
        world["d2"]["id"],
        world["d1"]["id"],
        world["a"]["id"],
    ]
    assert [link["license"]["id"] for link in deep["chain"]] == [
        world["l3"]["id"],
        world["l2"]["id"],
        world["l1"]["id"],
    ]
    for product in (p1, p2):
        assert (await client.get(f"/v1/products/{product['id']}/verify")).json()["data"][
            "authentic"
        ] is True

    # when S1 revokes the middle license L2
    revoked = await client.put(
        f"/v1/licenses/{world['l2']['id']}/revoke",
        json={"reason": "Breach of terms"},
        headers=world["s1"].auth,
    )
    assert revoked.status_code == 200
    # then everything below it is inauthentic at once, cached answers included
    for product in (p2, p3):
        answer = (await client.get(f"/v1/products/{product['id']}/verify")).json()["data"]
        assert answer["authentic"] is False, product["title"]
        assert answer["reasons"]
    # and the product above it stays authentic
    assert (await client.get(f"/v1/products/{p1['id']}/verify")).json()["data"]["authentic"] is True
    # products below are suspended and no longer listed
    listed = {
        p["id"] for p in (await client.get("/v1/products", params={"limit": 100})).json()["data"]
    }
    assert p1["id"] in listed and p2["id"] not in listed and p3["id"] not in listed
    # the derivative made under L2 is suspended, and L3 no longer verifies
    check = (await client.get(f"/v1/licenses/{world['l3']['id']}/verify")).json()["data"]
    assert check["valid"] is False
