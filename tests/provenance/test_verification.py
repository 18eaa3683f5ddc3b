"""GET /v1/verify/{code} and /v1/products/{id}/verify: what is answered, to whom, and in which
order the chain is listed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from ipmarket.kit.db import Database
from tests.products.support import open_shop
from tests.provenance.support import refused, verify
from tests.rights import Rights


async def test_unknown_malformed_and_unpublished_are_not_answered(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a draft that was never published
    shop = await open_shop(client, db)
    draft = await shop.product(publish=False)
    # an unknown code, or an unknown product, is 404
    refused(await client.get(f"/v1/verify/{uuid.uuid4().hex}"), 404, "NOT_FOUND")
    refused(await client.get(f"/v1/products/{uuid.uuid4()}/verify"), 404, "NOT_FOUND")
    # a code that cannot be one is a validation error
    for code in ("abc", "g" * 32, "A" * 32, "0" * 31, "0" * 33, "0" * 16 + "-" + "0" * 15):
        refused(await client.get(f"/v1/verify/{code}"), 422, "VALIDATION_ERROR")
    refused(await client.get("/v1/products/not-a-uuid/verify"), 422, "VALIDATION_ERROR")
    # a draft has nothing to verify, even for its seller
    for headers in ({}, shop.seller.auth):
        error = refused(
            await client.get(f"/v1/products/{draft['id']}/verify", headers=headers),
            404,
            "NOT_FOUND",
        )
        assert "not published" in error["message"]
    # the product's id is not its code
    refused(await client.get(f"/v1/verify/{uuid.UUID(draft['id']).hex}"), 404, "NOT_FOUND")


def link_of(answer: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(asset id, asset creator, license id, active) of each link, in order."""
    return [
        (
            link["ipAsset"]["id"],
            link["ipAsset"]["creator"],
            link["license"]["id"],
            link["active"],
        )
        for link in answer["chain"]
    ]


async def test_each_level_of_a_three_level_chain(client: httpx.AsyncClient, db: Database) -> None:
    # given A → L1 → D1 → L2 → D2 → L3, with a product at each level
    world = await Rights(client, db).chain_of_three()
    a, d1, d2 = world["a"]["id"], world["d1"]["id"], world["d2"]["id"]
    l1, l2, l3 = world["l1"]["id"], world["l2"]["id"], world["l3"]["id"]
    creator, s1, s2 = world["creator"].username, world["s1"].username, world["s2"].username
    # then each product's chain runs from its own license up to the original asset
    expected = {
        "p1": [(a, creator, l1, True)],
        "p2": [(d1, s1, l2, True), (a, creator, l1, True)],
        "p3": [(d2, s2, l3, True), (d1, s1, l2, True), (a, creator, l1, True)],
    }
    sellers = {"p1": world["s1"], "p2": world["s2"], "p3": world["s3"]}
    for name, links in expected.items():
        product = world[name]
        answer = await verify(client, product["id"])
        assert answer["authentic"] is True, name
        assert answer["reasons"] == []
        assert {k: answer["product"][k] for k in ("id", "title", "seller")} == {
            "id": product["id"],
            "title": product["title"],
            "seller": sellers[name].username,
        }
        assert link_of(answer) == links, name
        # the same answer by code
        by_code = await client.get(f"/v1/verify/{product['verificationCode']}")
        assert by_code.json()["data"] == answer
    # and each link shows its license's terms as approved
    deep = await verify(client, world["p3"]["id"])
    for link, license_ in zip(deep["chain"], ("l3", "l2", "l1"), strict=True):
        assert link["license"] == {
            "id": world[license_]["id"],
            "licenseType": "standard",
            "status": "approved",
            "territory": "WORLDWIDE",
            "expiresAt": link["license"]["expiresAt"],
        }
        assert link["license"]["expiresAt"].startswith(world[license_]["expiresAt"][:16])
    assert [link["ipAsset"]["title"] for link in deep["chain"]] == [
        "Winter Tales: The Comic",
        "Moonlit Fox: Winter Tales",
        "Moonlit Fox",
    ]

    # when the middle license L2 is revoked
    revoked = await client.put(
        f"/v1/licenses/{l2}/revoke", json={"reason": "Breach"}, headers=world["s1"].auth
    )
    assert revoked.status_code == 200
    # then the deepest product names what broke, link by link
    deep = await verify(client, world["p3"]["id"])
    assert deep["authentic"] is False
    assert link_of(deep) == [(d2, s2, l3, False), (d1, s1, l2, False), (a, creator, l1, True)]
    assert [link["license"]["status"] for link in deep["chain"]] == [
        "approved",
        "revoked",
        "approved",
    ]
    assert f"license {l2} is revoked" in deep["reasons"]
    assert f"IP asset {d2} is suspended" in deep["reasons"]
    assert "the product is suspended" in deep["reasons"]
    # the product at the middle level too; the one above is untouched
    middle = await verify(client, world["p2"]["id"])
    assert link_of(middle) == [(d1, s1, l2, False), (a, creator, l1, True)]
    assert (await verify(client, world["p1"]["id"]))["authentic"] is True


async def test_answers_reveal_nothing_private(client: httpx.AsyncClient, db: Database) -> None:
    shop = await open_shop(client, db)
    product = await shop.product()
    for path in (
        f"/v1/verify/{product['verificationCode']}",
        f"/v1/products/{product['id']}/verify",
    ):
        response = await client.get(path)
        assert response.status_code == 200
        text = response.text
        for secret in (shop.seller.email, shop.creator.email, str(shop.seller.id)):
            assert secret not in text
        # no code of its own either: holding the id does not give away the code
        assert product["verificationCode"] not in text
        data = response.json()["data"]
        # `unit` names an item only when a unit code was verified
        assert set(data) == {"authentic", "product", "chain", "reasons", "unit", "checkpoint"}
        assert data["unit"] is None
