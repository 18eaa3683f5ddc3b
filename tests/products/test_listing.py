"""GET /v1/products: only active products of authorising licenses; full-text and fuzzy
search, filters, sorts, pagination, `mine`, and refused parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from tests.products.support import open_shop
from tests.provenance.support import listed_ids, refused, verify
from tests.rights import Rights
from tests.support import Account


async def test_only_active_products_of_authorising_licenses_are_listed(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given, 40 days ago, a seller with a one-year license and a 30-day license on asset A
    # and a license on asset B, and products in every state
    clock.freeze(datetime.now(UTC) - timedelta(days=40))
    shop = await open_shop(client, db)
    rights, seller, creator = shop.rights, shop.seller, shop.creator
    short_terms = await rights.terms(creator, shop.asset["id"], duration="P30D")
    short = await rights.license(seller, creator, shop.asset["id"], short_terms["id"])
    doomed_terms = await rights.terms(creator, shop.asset["id"], licenseType="premium")
    doomed = await rights.license(seller, creator, shop.asset["id"], doomed_terms["id"])
    asset_b = await rights.asset(creator, title="Star Whale")
    terms_b = await rights.terms(creator, asset_b["id"])
    license_b = await rights.license(seller, creator, asset_b["id"], terms_b["id"])

    active = await shop.product(title="Active mug")
    await shop.product(publish=False, title="Draft mug")
    sold_out = await shop.product(title="Sold out mug", inventoryCount=0)
    assert sold_out["status"] == "sold_out"
    unpublished = await shop.product(title="Unpublished mug")
    assert (await shop.put(unpublished["id"], seller, status="draft")).status_code == 200
    deleted = await shop.product(title="Deleted mug")
    gone = await client.delete(f"/v1/products/{deleted['id']}", headers=seller.auth)
    assert gone.status_code == 200
    suspended = await rights.product(seller, doomed["id"], title="Suspended mug")
    revoked = await client.put(
        f"/v1/licenses/{doomed['id']}/revoke", json={"reason": "Breach"}, headers=creator.auth
    )
    assert revoked.status_code == 200
    expiring = await rights.product(seller, short["id"], title="Expired license mug")
    in_review = await rights.product(seller, license_b["id"], title="Whale mug")
    assert (await client.get("/v1/products")).json()["pagination"]["total"] == 3
    # when the owner of asset B tries a material edit (refused while it is licensed) and,
    # today, the 30-day license has passed its expiry, before any job marked it expired
    edited = await client.put(
        f"/v1/ip-assets/{asset_b['id']}",
        json={"description": "A whale that swims among the stars, redrawn."},
        headers=creator.auth,
    )
    assert edited.status_code == 409
    clock.unfreeze()
    # then only the active products under authorising licenses of approved assets are listed
    response = await client.get("/v1/products")
    assert response.status_code == 200
    body = response.json()
    assert {p["id"] for p in body["data"]} == {active["id"], in_review["id"]}
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 2, "totalPages": 1}
    # and the unlisted one that is still "active" does not verify either
    assert (await verify(client, expiring["id"]))["authentic"] is False
    assert (await verify(client, in_review["id"]))["authentic"] is True
    assert (await verify(client, suspended["id"]))["authentic"] is False


@dataclass
class Catalogue:
    creator: Account
    s1: Account
    s2: Account
    asset_a: dict[str, Any]
    asset_b: dict[str, Any]
    products: dict[str, dict[str, Any]]

    def ids(self, *names: str) -> list[str]:
        return [self.products[n]["id"] for n in names]


async def catalogue(client: httpx.AsyncClient, db: Database) -> Catalogue:
    """Five products by two sellers on two assets, published a minute apart in this order."""
    clock.freeze(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    rights = Rights(client, db)
    creator = await rights.user("creator")
    s1 = await rights.user("secondary_creator")
    s2 = await rights.user("secondary_creator")
    asset_a = await rights.asset(creator, title="Moonlit Fox")
    asset_b = await rights.asset(creator, title="Star Whale", category="worlds")
    terms_a = await rights.terms(creator, asset_a["id"])
    terms_b = await rights.terms(creator, asset_b["id"])
    l1a = await rights.license(s1, creator, asset_a["id"], terms_a["id"])
    l1b = await rights.license(s1, creator, asset_b["id"], terms_b["id"])
    l2a = await rights.license(s2, creator, asset_a["id"], terms_a["id"])
    specs = {
        "mug": (s1, l1a, "Moonlit Fox mug", "A ceramic mug with the fox.", "merchandise", 19.99),
        "poster": (s2, l2a, "Winter Tales poster", "A print of the fox in snow.", "prints", 35),
        "tote": (s1, l1b, "Lantern festival tote", "A canvas bag.", "merchandise", 12.5),
        "cup": (s2, l2a, "Ceramic cup", "Glazed by hand; a paper lantern motif.", "kitchen", 9),
        "sticker": (s1, l1b, "Star Whale sticker", "Vinyl, weatherproof.", "prints", 2),
    }
    products = {}
    for name, (seller, license_, title, description, category, price) in specs.items():
        clock.advance(timedelta(minutes=1))
        products[name] = await rights.product(
            seller,
            license_["id"],
            title=title,
            description=description,
            category=category,
            price=price,
        )
    return Catalogue(creator, s1, s2, asset_a, asset_b, products)


async def test_search_and_filters(client: httpx.AsyncClient, db: Database) -> None:
    shop = await catalogue(client, db)

    async def ids(**params: Any) -> set[str]:
        return set(await listed_ids(client, **params))

    everything = set(shop.ids("mug", "poster", "tote", "cup", "sticker"))
    assert await ids() == everything
    # full text over title and description, with stemming
    assert await ids(q="ceramic") == set(shop.ids("mug", "cup"))
    assert await ids(q="lanterns") == set(shop.ids("tote", "cup"))
    assert await ids(q="snow") == set(shop.ids("poster"))
    assert await ids(q="fox print") == set(shop.ids("poster"))
    assert await ids(q="submarine") == set()
    assert await ids(q="   ") == everything
    # category, price bounds (inclusive), asset and creator
    assert await ids(category="prints") == set(shop.ids("poster", "sticker"))
    assert await ids(category="nothing") == set()
    assert await ids(minPrice=12.5) == set(shop.ids("mug", "poster", "tote"))
    assert await ids(maxPrice=12.5) == set(shop.ids("tote", "cup", "sticker"))
    assert await ids(minPrice=9, maxPrice=19.99) == set(shop.ids("mug", "tote", "cup"))
    assert await ids(minPrice=20, maxPrice=10) == set()
    assert await ids(ipAssetId=shop.asset_b["id"]) == set(shop.ids("tote", "sticker"))
    assert await ids(creatorId=str(shop.s2.id)) == set(shop.ids("poster", "cup"))
    assert await ids(creatorId=str(shop.creator.id)) == set()
    # and they combine
    assert await ids(creatorId=str(shop.s1.id), category="merchandise", q="canvas") == set(
        shop.ids("tote")
    )
    assert await ids(ipAssetId=shop.asset_a["id"], maxPrice=20, q="ceramic") == set(
        shop.ids("mug", "cup")
    )
    # the total follows the filters
    response = await client.get("/v1/products", params={"category": "prints", "limit": 1})
    assert response.json()["pagination"] == {"page": 1, "limit": 1, "total": 2, "totalPages": 2}
    # a misspelt title still matches (trigram similarity)
    assert await listed_ids(client, q="Winter Talse") == shop.ids("poster")
    assert await listed_ids(client, q="wintr tales") == shop.ids("poster")
    assert await listed_ids(client, q="Lantren festival") == shop.ids("tote")
    # but not anything at all
    assert await listed_ids(client, q="Quantum") == []


async def test_sorts_and_relevance(client: httpx.AsyncClient, db: Database) -> None:
    shop = await catalogue(client, db)
    newest = shop.ids("sticker", "cup", "tote", "poster", "mug")
    assert await listed_ids(client) == newest  # the default
    assert await listed_ids(client, sort="newest") == newest
    assert await listed_ids(client, sort="price") == shop.ids(
        "sticker", "cup", "tote", "mug", "poster"
    )
    assert await listed_ids(client, sort="-price") == shop.ids(
        "poster", "mug", "tote", "cup", "sticker"
    )
    # relevance without a query falls back to newest
    assert await listed_ids(client, sort="relevance") == newest
    # with a query, a sort still applies
    assert await listed_ids(client, q="ceramic", sort="price") == shop.ids("cup", "mug")
    assert await listed_ids(client, q="ceramic", sort="-price") == shop.ids("mug", "cup")
    prices = [p["price"] for p in (await client.get("/v1/products?sort=price")).json()["data"]]
    assert prices == [2.0, 9.0, 12.5, 19.99, 35.0]
    # relevance: a title match ranks above a description-only match, whatever the age;
    # "lantern" is in the tote's title and only in the cup's description; the cup is newer
    assert await listed_ids(client, q="lantern") == shop.ids("tote", "cup")
    assert await listed_ids(client, q="lantern", sort="relevance") == shop.ids("tote", "cup")
    # "ceramic" is in the cup's title and only in the mug's description; the mug is older
    assert await listed_ids(client, q="ceramic") == shop.ids("cup", "mug")
    # and newest, asked for, overrides relevance
    assert await listed_ids(client, q="ceramic", sort="newest") == shop.ids("cup", "mug")
    assert await listed_ids(client, q="lantern", sort="newest") == shop.ids("cup", "tote")


async def test_pagination(client: httpx.AsyncClient, db: Database) -> None:
    shop = await catalogue(client, db)
    newest = shop.ids("sticker", "cup", "tote", "poster", "mug")
    pages = []
    for page in (1, 2, 3, 4):
        response = await client.get("/v1/products", params={"limit": 2, "page": page})
        assert response.status_code == 200
        body = response.json()
        assert body["pagination"] == {"page": page, "limit": 2, "total": 5, "totalPages": 3}
        pages.append([p["id"] for p in body["data"]])
    assert pages == [newest[0:2], newest[2:4], newest[4:], []]
    # the same for a sort by price, with ties broken the same way every time
    by_price = [
        p["id"]
        for page in (1, 2, 3)
        for p in (
            await client.get("/v1/products", params={"limit": 2, "page": page, "sort": "price"})
        ).json()["data"]
    ]
    assert by_price == shop.ids("sticker", "cup", "tote", "mug", "poster")


async def test_mine_shows_the_sellers_own_products_in_any_state(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await open_shop(client, db)
    published = await shop.product(title="Published")
    draft = await shop.product(publish=False, title="Draft")
    other = await shop.rights.user("secondary_creator")
    # the seller sees both, with the code of the published one
    response = await client.get("/v1/products", params={"mine": "true"}, headers=shop.seller.auth)
    assert response.status_code == 200
    mine = {p["id"]: p for p in response.json()["data"]}
    assert set(mine) == {published["id"], draft["id"]}
    assert mine[published["id"]]["verificationCode"] == published["verificationCode"]
    assert mine[draft["id"]]["verificationCode"] is None
    assert response.json()["pagination"]["total"] == 2
    # filters apply to one's own products too
    only_draft = await client.get(
        "/v1/products", params={"mine": "true", "q": "draft"}, headers=shop.seller.auth
    )
    assert [p["id"] for p in only_draft.json()["data"]] == [draft["id"]]
    # another seller has none; the public list shows only the published one
    theirs = await client.get("/v1/products", params={"mine": "true"}, headers=other.auth)
    assert theirs.json()["data"] == []
    assert await listed_ids(client) == [published["id"]]
    # mine=false is the public list, even for the seller
    public = await client.get("/v1/products", params={"mine": "false"}, headers=shop.seller.auth)
    assert [p["id"] for p in public.json()["data"]] == [published["id"]]
    # and without logging in, mine is refused
    refused(await client.get("/v1/products", params={"mine": "true"}), 401, "UNAUTHORIZED")
    bad_token = {"Authorization": "Bearer nonsense"}
    refused(await client.get("/v1/products", headers=bad_token), 401, "UNAUTHORIZED")


async def test_bad_parameters_are_refused(client: httpx.AsyncClient, db: Database) -> None:
    for params in (
        {"minPrice": -1},
        {"maxPrice": -0.01},
        {"minPrice": 1.001},
        {"minPrice": "cheap"},
        {"limit": 500},
        {"limit": 0},
        {"page": 0},
        {"sort": "bogus"},
        {"sort": "-newest"},
        {"ipAssetId": "not-a-uuid"},
        {"creatorId": "42"},
        {"q": "x" * 201},
        {"mine": "perhaps"},
    ):
        response = await client.get("/v1/products", params=params)
        error = refused(response, 422, "VALIDATION_ERROR")
        assert error["details"], params
