"""POST /v1/products: a draft under an approved, unexpired license the caller holds; every
refusal is an error in the envelope and writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from tests.products.support import Shop, open_shop, product_body
from tests.provenance.support import (
    audit_rows,
    chain_records,
    listed_ids,
    outbox,
    product_row,
    refused,
    relogin,
    tally,
)
from tests.rights import Rights
from tests.support import Account, register


async def test_a_license_holder_creates_a_draft(client: httpx.AsyncClient, db: Database) -> None:
    # given a secondary creator holding an approved license, and an image they uploaded
    shop = await open_shop(client, db)
    image = await shop.image()
    # when they create a product under that license
    response = await client.post(
        "/v1/products",
        json=product_body(
            shop.license["id"],
            price=24.5,
            inventoryCount=3,
            images=[image],
            specifications={"material": "stoneware", "volumeMl": 350},
        ),
        headers=shop.seller.auth,
    )
    # then it is a draft of theirs, under that license and its asset
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    product = body["data"]
    assert product["status"] == "draft"
    assert product["creatorId"] == str(shop.seller.id)
    assert product["licenseId"] == shop.license["id"]
    assert product["ipAssetId"] == shop.asset["id"]
    assert product["price"] == 24.5
    assert product["currency"] == "USD"
    assert product["inventoryCount"] == 3
    assert product["specifications"] == {"material": "stoneware", "volumeMl": 350}
    assert product["publishedAt"] is None
    assert product["verificationCode"] is None  # a code comes with publishing
    [signed] = product["images"]
    assert "/v1/files/" in signed and "signature=" in signed
    # and it is stored as such
    row = await product_row(db, product["id"])
    assert (row.status, row.price_minor, row.inventory_count) == ("draft", 2450, 3)
    assert row.deleted_at is None
    assert len(row.image_file_ids) == 1
    assert await chain_records(db, product["id"]) == []
    # and audited, and announced through the outbox
    [audit] = await audit_rows(db, product["id"])
    assert audit.action == "product.created"
    assert audit.user_id == shop.seller.id
    assert audit.new_values is not None
    assert audit.new_values["priceMinor"] == 2450
    assert audit.new_values["status"] == "draft"
    [event] = await outbox(db, "product.created")
    assert event == {
        "product_id": product["id"],
        "creator_id": str(shop.seller.id),
        "license_id": shop.license["id"],
        "ip_asset_id": shop.asset["id"],
        "title": "Moonlit Fox mug",
    }
    # and a draft is neither listed nor visible to the public; its owner sees it
    assert product["id"] not in await listed_ids(client)
    refused(await client.get(f"/v1/products/{product['id']}"), 404, "NOT_FOUND")
    own = await client.get(f"/v1/products/{product['id']}", headers=shop.seller.auth)
    assert own.status_code == 200
    assert own.json()["data"]["status"] == "draft"


async def assert_refused_and_nothing_written(
    shop: Shop, db: Database, body: dict[str, Any], headers: dict[str, str], status: int, code: str
) -> dict[str, Any]:
    before = await tally(db)
    error = refused(
        await shop.client.post("/v1/products", json=body, headers=headers), status, code
    )
    assert await tally(db) == before, body
    return error


INVALID: list[tuple[str, Any]] = [
    ("price", 0),
    ("price", -5),
    ("price", 19.999),
    ("price", "free"),
    ("inventoryCount", -1),
    ("inventoryCount", 1.5),
    ("title", ""),
    ("category", "   "),
    ("licenseId", "not-a-uuid"),
    ("images", ["x"] * 21),
    ("specifications", {"notes": "x" * 20_000}),
    ("unknownField", 1),
]


async def test_invalid_fields_are_refused(client: httpx.AsyncClient, db: Database) -> None:
    shop = await open_shop(client, db)
    for field, value in INVALID:
        # when the seller sends one bad field
        error = await assert_refused_and_nothing_written(
            shop,
            db,
            product_body(shop.license["id"], **{field: value}),
            shop.seller.auth,
            422,
            "VALIDATION_ERROR",
        )
        # then it is refused, naming that field, and nothing is written
        assert field in str(error["details"]), (field, value, error)
    # a body that is not JSON is a 400
    before = await tally(db)
    response = await client.post(
        "/v1/products",
        content=b"{not json",
        headers={**shop.seller.auth, "Content-Type": "application/json"},
    )
    refused(response, 400, "VALIDATION_ERROR")
    assert await tally(db) == before


async def test_only_a_license_the_caller_holds(client: httpx.AsyncClient, db: Database) -> None:
    # given a seller's license, another secondary creator, and a license id nobody holds
    shop = await open_shop(client, db)
    other = await shop.rights.user("secondary_creator")
    for license_id in (shop.license["id"], str(uuid.uuid4())):
        # when the other one creates a product under it
        error = await assert_refused_and_nothing_written(
            shop, db, product_body(license_id), other.auth, 422, "VALIDATION_ERROR"
        )
        # then it is refused, naming the field
        assert error["details"]["errors"][0]["field"] == "licenseId"
    # and the licensor may not sell under the license either (creators do not sell)
    await assert_refused_and_nothing_written(
        shop, db, product_body(shop.license["id"]), shop.creator.auth, 403, "FORBIDDEN"
    )


async def test_a_license_that_no_longer_authorises_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given, 40 days ago, a seller with a one-year license and a 30-day one
    # (the clock moves back, not forward: access tokens must not be issued in the future)
    clock.freeze(datetime.now(UTC) - timedelta(days=40))
    shop = await open_shop(client, db)
    short_terms = await shop.rights.terms(shop.creator, shop.asset["id"], duration="P30D")
    short = await shop.rights.license(
        shop.seller, shop.creator, shop.asset["id"], short_terms["id"]
    )
    expires = datetime.fromisoformat(short["expiresAt"])
    # one second before the short one expires, it authorises a product
    clock.freeze(expires - timedelta(seconds=1))
    seller = await relogin(client, shop.seller)
    created = await client.post("/v1/products", json=product_body(short["id"]), headers=seller.auth)
    assert created.status_code == 201, created.text
    # once the clock has passed its expiry (before any job marks it expired), it does not
    clock.unfreeze()
    seller = await relogin(client, shop.seller)
    error = await assert_refused_and_nothing_written(
        shop, db, product_body(short["id"]), seller.auth, 409, "LICENSE_EXPIRED"
    )
    assert any("expired" in reason for reason in error["details"]["reasons"])
    # and once the licensor revokes the long one, it does not either
    revoked = await client.put(
        f"/v1/licenses/{shop.license['id']}/revoke",
        json={"reason": "Breach of terms"},
        headers=(await relogin(client, shop.creator)).auth,
    )
    assert revoked.status_code == 200, revoked.text
    error = await assert_refused_and_nothing_written(
        shop, db, product_body(shop.license["id"]), seller.auth, 409, "LICENSE_EXPIRED"
    )
    assert any("revoked" in reason for reason in error["details"]["reasons"])


async def test_a_pending_application_authorises_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await open_shop(client, db)
    terms = await shop.rights.terms(shop.creator, shop.asset["id"], licenseType="premium")
    pending = await shop.rights.license(
        shop.seller, shop.creator, shop.asset["id"], terms["id"], approve=False
    )
    assert pending["status"] == "pending"
    await assert_refused_and_nothing_written(
        shop, db, product_body(pending["id"]), shop.seller.auth, 409, "LICENSE_EXPIRED"
    )


async def test_images_must_be_the_callers_uploads(client: httpx.AsyncClient, db: Database) -> None:
    # given an image the seller uploaded and one another user uploaded
    shop = await open_shop(client, db)
    mine = await shop.image()
    other = await shop.rights.user("secondary_creator")
    theirs = await shop.image(other)
    cases = {
        "not_your_file": [mine, theirs],
        "foreign_url": ["https://elsewhere.example/mug.png"],
    }
    for kind, images in cases.items():
        # when the seller names them
        error = await assert_refused_and_nothing_written(
            shop,
            db,
            product_body(shop.license["id"], images=images),
            shop.seller.auth,
            422,
            "VALIDATION_ERROR",
        )
        # then only the offending entries are named
        [problem] = error["details"]["errors"]
        assert problem["type"] == kind
        assert problem["field"] == f"images[{len(images) - 1}]"
    # an id of a file that does not exist is refused like someone else's
    unknown = mine.split("/v1/files/")[0] + f"/v1/files/{uuid.uuid4()}"
    error = await assert_refused_and_nothing_written(
        shop,
        db,
        product_body(shop.license["id"], images=[unknown]),
        shop.seller.auth,
        422,
        "VALIDATION_ERROR",
    )
    assert error["details"]["errors"][0]["type"] == "not_your_file"


async def test_who_may_create(client: httpx.AsyncClient, db: Database) -> None:
    shop = await open_shop(client, db)
    body = product_body(shop.license["id"])
    # a buyer lacks the permission
    buyer = await shop.rights.user("buyer")
    error = await assert_refused_and_nothing_written(shop, db, body, buyer.auth, 403, "FORBIDDEN")
    assert "create_products" in error["details"]["requiredPermission"]
    # an anonymous caller must log in
    await assert_refused_and_nothing_written(shop, db, body, {}, 401, "UNAUTHORIZED")
    await assert_refused_and_nothing_written(
        shop, db, body, {"Authorization": "Bearer not-a-token"}, 401, "UNAUTHORIZED"
    )
    # a secondary creator whose email is not verified must verify it first
    unverified = await register(client, "secondary_creator")
    error = await assert_refused_and_nothing_written(
        shop, db, body, unverified.auth, 403, "FORBIDDEN"
    )
    assert error["details"]["reason"] == "email_not_verified"


# Enough rounds that the two requests meet in every order, even on a loaded machine.
RACE_ROUNDS = 20


async def licensed_seller(
    rights: Rights, creator: Account, asset: dict[str, Any], terms: dict[str, Any], *, depth: int
) -> tuple[Account, str, list[tuple[Account, str]]]:
    """A new seller holding a license `depth` levels below the creator's asset: the seller,
    their license, and every (licensor, license) of its chain, the seller's own first."""
    holder, license_ = await rights.user("secondary_creator"), None
    licensor, on_asset, under = creator, asset, terms
    chain: list[tuple[Account, str]] = []
    for level in range(depth):
        license_ = await rights.license(holder, licensor, on_asset["id"], under["id"])
        chain.insert(0, (licensor, license_["id"]))
        if level + 1 < depth:
            on_asset = await rights.asset(holder, parent_license_id=license_["id"])
            under = await rights.terms(holder, on_asset["id"], revenueSharePercentage=5)
            licensor, holder = holder, await rights.user("secondary_creator")
    assert license_ is not None
    return holder, license_["id"], chain


@pytest.mark.parametrize("depth", [1, 2], ids=["its-own-license", "the-license-above"])
async def test_no_product_is_made_under_a_license_revoked_at_the_same_moment(
    client: httpx.AsyncClient, db: Database, depth: int
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    for attempt in range(RACE_ROUNDS):
        # given a seller whose license authorises, through the license revoked below
        seller, license_id, chain = await licensed_seller(
            rights, creator, asset, terms, depth=depth
        )
        licensor, revoked_id = chain[-1]
        # when they create a product while that license is revoked
        created, revoked = await asyncio.gather(
            client.post("/v1/products", json=product_body(license_id), headers=seller.auth),
            client.put(
                f"/v1/licenses/{revoked_id}/revoke",
                json={"reason": "Breach of terms"},
                headers=licensor.auth,
            ),
        )
        # then the revocation holds, and the product either came first and was suspended
        # with everything under the license…
        assert revoked.status_code == 200, (attempt, revoked.text)
        if created.status_code == 201:
            row = await product_row(db, created.json()["data"]["id"])
            assert row.status == "suspended", (attempt, row.status)
            assert row.authenticity_verified is False
        # …or came second and saw the license revoked
        else:
            refused(created, 409, "LICENSE_EXPIRED")
