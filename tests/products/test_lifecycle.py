"""PUT and DELETE /v1/products/{id}: publish, sold out and restock, unpublish, suspension,
soft delete; only the seller may write, and a refused write changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from tests.products.support import Shop, open_shop
from tests.provenance.support import (
    audit_rows,
    chain_records,
    listed_ids,
    outbox,
    product_row,
    refused,
    relogin,
    tally,
    verify,
)
from tests.support import create_admin


async def owner_view(shop: Shop, product_id: str) -> dict[str, Any]:
    response = await shop.client.get(f"/v1/products/{product_id}", headers=shop.seller.auth)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_publishing_puts_it_on_sale_with_a_code_only_its_owner_sees(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a draft
    shop = await open_shop(client, db)
    draft = await shop.product(publish=False, title="Fox plush")
    assert await chain_records(db, draft["id"]) == []
    # when its seller sets it active
    response = await shop.put(draft["id"], shop.seller, status="active")
    # then it is on sale, with a 32-character verification code shown to the seller
    assert response.status_code == 200, response.text
    product = response.json()["data"]
    assert product["status"] == "active"
    assert product["publishedAt"] is not None
    assert product["authenticityVerified"] is True
    code = product["verificationCode"]
    assert isinstance(code, str) and len(code) == 32 and int(code, 16) >= 0
    # and its chain record links product, license and asset under that code
    [record] = await chain_records(db, draft["id"])
    assert record.verification_code == code
    assert str(record.license_id) == shop.license["id"]
    assert str(record.ip_asset_id) == shop.asset["id"]
    assert record.parent_chain_id is None  # an original asset: the chain ends here
    assert record.is_active is True
    # and the change is audited
    audits = await audit_rows(db, draft["id"])
    assert [a.action for a in audits] == ["product.created", "product.updated"]
    assert audits[1].old_values == {"status": "draft"}
    assert audits[1].new_values == {"status": "active"}
    # and it is listed; the public, a buyer and another seller see it without its code
    assert draft["id"] in await listed_ids(client)
    buyer = await shop.rights.user("buyer")
    other = await shop.rights.user("secondary_creator")
    for headers in ({}, buyer.auth, other.auth):
        seen = await client.get(f"/v1/products/{draft['id']}", headers=headers)
        assert seen.status_code == 200
        assert seen.json()["data"]["status"] == "active"
        assert seen.json()["data"]["verificationCode"] is None
    public = await client.get("/v1/products", params={"limit": 100})
    assert all(p["verificationCode"] is None for p in public.json()["data"])
    # while the seller sees it, in the list too
    assert (await owner_view(shop, draft["id"]))["verificationCode"] == code
    mine = await client.get("/v1/products", params={"mine": "true"}, headers=shop.seller.auth)
    assert [p["verificationCode"] for p in mine.json()["data"]] == [code]
    # and publishing again keeps the same record and code
    again = await shop.put(draft["id"], shop.seller, status="active")
    assert again.json()["data"]["verificationCode"] == code
    assert len(await chain_records(db, draft["id"])) == 1


async def test_no_inventory_is_sold_out_and_a_restock_puts_it_back(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await open_shop(client, db)
    # a draft with no inventory is published as sold out
    empty = await shop.product(publish=False, inventoryCount=0)
    published = await shop.put(empty["id"], shop.seller, status="active")
    assert published.json()["data"]["status"] == "sold_out"
    assert published.json()["data"]["verificationCode"] is not None
    # an active product whose inventory reaches 0 is sold out
    product = await shop.product(inventoryCount=2)
    assert product["status"] == "active"
    sold_out = await shop.put(product["id"], shop.seller, inventoryCount=0)
    assert sold_out.status_code == 200, sold_out.text
    assert sold_out.json()["data"]["status"] == "sold_out"
    assert (await product_row(db, product["id"])).status == "sold_out"
    # a sold-out product is not browsed, but can still be seen and verified
    assert product["id"] not in await listed_ids(client)
    assert (await client.get(f"/v1/products/{product['id']}")).status_code == 200
    assert (await verify(client, product["id"]))["authentic"] is True
    # when restocked it is active and listed again
    restocked = await shop.put(product["id"], shop.seller, inventoryCount=5)
    assert restocked.json()["data"]["status"] == "active"
    assert restocked.json()["data"]["inventoryCount"] == 5
    assert product["id"] in await listed_ids(client)
    audits = await audit_rows(db, product["id"])
    assert [(a.old_values, a.new_values) for a in audits[-2:]] == [
        ({"inventoryCount": 2, "status": "active"}, {"inventoryCount": 0, "status": "sold_out"}),
        ({"inventoryCount": 0, "status": "sold_out"}, {"inventoryCount": 5, "status": "active"}),
    ]


async def test_unpublishing_takes_it_off_sale(client: httpx.AsyncClient, db: Database) -> None:
    # given a published product
    shop = await open_shop(client, db)
    product = await shop.product()
    code = product["verificationCode"]
    assert (await verify(client, product["id"]))["authentic"] is True
    # when its seller sets it back to draft
    response = await shop.put(product["id"], shop.seller, status="draft")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "draft"
    # then it is neither listed nor shown to the public
    assert product["id"] not in await listed_ids(client)
    refused(await client.get(f"/v1/products/{product['id']}"), 404, "NOT_FOUND")
    # and it no longer verifies as authentic, by product or by code
    answer = await verify(client, product["id"])
    assert answer["authentic"] is False
    assert answer["reasons"] == ["the product is draft"]
    assert (await client.get(f"/v1/verify/{code}")).json()["data"]["authentic"] is False
    # and publishing it again restores it with the same code
    again = await shop.put(product["id"], shop.seller, status="active")
    assert again.json()["data"]["verificationCode"] == code
    assert (await verify(client, product["id"]))["authentic"] is True
    assert product["id"] in await listed_ids(client)


async def test_publishing_under_an_expired_license_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a draft made 40 days ago under a 30-day license
    clock.freeze(datetime.now(UTC) - timedelta(days=40))
    shop = await open_shop(client, db, duration="P30D")
    draft = await shop.product(publish=False)
    # when, today, its seller publishes it
    clock.unfreeze()
    seller = await relogin(client, shop.seller)
    before = await tally(db), await owner_view(shop, draft["id"])
    response = await shop.put(draft["id"], seller, status="active")
    # then it is refused as LICENSE_EXPIRED and nothing changed: no code, still a draft
    error = refused(response, 409, "LICENSE_EXPIRED")
    assert any("expired" in r for r in error["details"]["reasons"])
    assert (await tally(db), await owner_view(shop, draft["id"])) == before
    assert await chain_records(db, draft["id"]) == []


async def test_a_suspended_product_cannot_be_edited(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a product whose license the licensor revoked
    shop = await open_shop(client, db)
    product = await shop.product()
    revoked = await client.put(
        f"/v1/licenses/{shop.license['id']}/revoke",
        json={"reason": "Counterfeit materials"},
        headers=shop.creator.auth,
    )
    assert revoked.status_code == 200, revoked.text
    # then the withdrawal is announced, and the product is suspended, off sale and hidden
    [event] = await outbox(db, "authorization.revoked")
    assert event["license_ids"] == [shop.license["id"]]
    assert event["cause"] == "revoked"
    row = await product_row(db, product["id"])
    assert row.status == "suspended"
    assert row.authenticity_verified is False
    assert row.status_reason == "license revoked"
    assert product["id"] not in await listed_ids(client)
    refused(await client.get(f"/v1/products/{product['id']}"), 404, "NOT_FOUND")
    seen = await owner_view(shop, product["id"])
    assert seen["status"] == "suspended"
    # and every edit by its seller is a conflict that changes nothing
    before = await tally(db)
    for body in ({"title": "Renamed"}, {"status": "active"}, {"status": "draft"}, {"price": 5}):
        error = refused(await shop.put(product["id"], shop.seller, **body), 409, "CONFLICT")
        assert error["details"]["reason"] == "license revoked"
    assert await tally(db) == before
    assert await owner_view(shop, product["id"]) == seen


async def test_refused_updates(client: httpx.AsyncClient, db: Database) -> None:
    shop = await open_shop(client, db)
    product = await shop.product()
    before = await tally(db), await owner_view(shop, product["id"])
    for body in (
        {},
        {"status": "sold_out"},
        {"status": "suspended"},
        {"title": None},
        {"price": 0},
        {"price": 1.001},
        {"inventoryCount": -3},
        {"licenseId": shop.license["id"]},
        {"images": ["https://elsewhere.example/x.png"]},
    ):
        refused(await shop.put(product["id"], shop.seller, **body), 422, "VALIDATION_ERROR")
    assert (await tally(db), await owner_view(shop, product["id"])) == before


async def test_every_write_by_anyone_but_the_seller_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a published product, another secondary creator, a buyer, the licensor, an admin
    shop = await open_shop(client, db)
    product = await shop.product()
    other = await shop.rights.user("secondary_creator")
    buyer = await shop.rights.user("buyer")
    admin = await create_admin(client, db, level="super_admin")
    path = f"/v1/products/{product['id']}"
    before = await tally(db), await owner_view(shop, product["id"])
    cases = [
        (other.auth, 403, "FORBIDDEN"),  # holds the permission, not the product
        (admin.auth, 403, "FORBIDDEN"),  # may do anything but sell someone else's goods
        (buyer.auth, 403, "FORBIDDEN"),
        (shop.creator.auth, 403, "FORBIDDEN"),
        ({}, 401, "UNAUTHORIZED"),
    ]
    for headers, status, code in cases:
        for body in ({"title": "Mine now"}, {"status": "draft"}, {"inventoryCount": 0}):
            refused(await client.put(path, json=body, headers=headers), status, code)
        refused(await client.delete(path, headers=headers), status, code)
    # then nothing changed: still on sale, same data, nothing written
    assert (await tally(db), await owner_view(shop, product["id"])) == before
    assert (await verify(client, product["id"]))["authentic"] is True


async def test_the_seller_deletes_softly(client: httpx.AsyncClient, db: Database) -> None:
    # given a published product and a draft
    shop = await open_shop(client, db)
    product = await shop.product()
    draft = await shop.product(publish=False)
    code = product["verificationCode"]
    # when the seller deletes the published one
    response = await client.delete(f"/v1/products/{product['id']}", headers=shop.seller.auth)
    # then it is gone for everyone, its owner included
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "data": None,
        "error": None,
        "pagination": None,
        "meta": None,
    }
    assert product["id"] not in await listed_ids(client)
    for headers in ({}, shop.seller.auth):
        refused(
            await client.get(f"/v1/products/{product['id']}", headers=headers), 404, "NOT_FOUND"
        )
    mine = await client.get("/v1/products", params={"mine": "true"}, headers=shop.seller.auth)
    assert [p["id"] for p in mine.json()["data"]] == [draft["id"]]
    # but the row is kept, marked deleted, and the deletion audited
    row = await product_row(db, product["id"])
    assert row.deleted_at is not None
    assert row.status == "active"
    assert (await audit_rows(db, product["id"]))[-1].action == "product.deleted"
    # and verification says it was withdrawn, by product and by code
    for path in (f"/v1/products/{product['id']}/verify", f"/v1/verify/{code}"):
        answer = (await client.get(path)).json()["data"]
        assert answer["authentic"] is False
        assert answer["reasons"] == ["the product was withdrawn by its seller"]
    # and a deleted product can be neither edited nor deleted again
    before = await tally(db)
    refused(await shop.put(product["id"], shop.seller, title="Back"), 404, "NOT_FOUND")
    refused(
        await client.delete(f"/v1/products/{product['id']}", headers=shop.seller.auth),
        404,
        "NOT_FOUND",
    )
    assert await tally(db) == before
    # a draft is deleted the same way
    deleted = await client.delete(f"/v1/products/{draft['id']}", headers=shop.seller.auth)
    assert deleted.status_code == 200
    mine = await client.get("/v1/products", params={"mine": "true"}, headers=shop.seller.auth)
    assert mine.json()["data"] == []
