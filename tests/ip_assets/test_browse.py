"""GET /v1/ip-assets and /v1/ip-assets/{id}: who sees what, filters, search, sort, pages."""

from __future__ import annotations

from typing import Any

import httpx

from ipmarket.kit.db import Database
from tests.licensing.support import error, ids, listing, quick_asset, set_platform
from tests.rights import Rights


async def test_who_sees_an_asset(client: httpx.AsyncClient, db: Database) -> None:
    # given a creator's approved, draft, submitted and rejected assets
    rights = Rights(client, db)
    creator = await rights.user("creator")
    stranger = await rights.user("creator")
    admin = await rights.reviewer()
    approved = await rights.asset(creator, title="Approved one")
    draft = await rights.asset(creator, approve=False, title="Draft one")
    submitted = await rights.asset(creator, approve=False, title="Submitted one")
    await rights.ok(
        await client.post(f"/v1/ip-assets/{submitted['id']}/verify", headers=creator.auth)
    )
    rejected = await rights.asset(creator, approve=False, title="Rejected one")
    await rights.ok(
        await client.post(f"/v1/ip-assets/{rejected['id']}/verify", headers=creator.auth)
    )
    await rights.ok(
        await client.put(
            f"/v1/admin/ip-assets/{rejected['id']}/verify",
            json={"decision": "rejected", "reason": "Not original"},
            headers=admin.auth,
        )
    )
    hidden = [draft, submitted, rejected]

    # then the public and other creators see only the approved one
    assert (await client.get(f"/v1/ip-assets/{approved['id']}")).status_code == 200
    for asset in hidden:
        error(await client.get(f"/v1/ip-assets/{asset['id']}"), 404, "NOT_FOUND")
        error(
            await client.get(f"/v1/ip-assets/{asset['id']}", headers=stranger.auth),
            404,
            "NOT_FOUND",
        )
        # while the owner and reviewers see every state
        owner_view = await rights.ok(
            await client.get(f"/v1/ip-assets/{asset['id']}", headers=creator.auth)
        )
        assert owner_view["id"] == asset["id"]
        await rights.ok(await client.get(f"/v1/ip-assets/{asset['id']}", headers=admin.auth))
    rejected_view = await rights.ok(
        await client.get(f"/v1/ip-assets/{rejected['id']}", headers=creator.auth)
    )
    assert rejected_view["rejectionReason"] == "Not original"
    public = listing(await client.get("/v1/ip-assets"))
    assert ids(public) == [approved["id"]]
    assert ids(listing(await client.get("/v1/ip-assets", headers=stranger.auth))) == [
        approved["id"]
    ]

    # the owner lists their own in any state with mine=true
    mine = listing(await client.get("/v1/ip-assets?mine=true", headers=creator.auth))
    assert set(ids(mine)) == {approved["id"], *(a["id"] for a in hidden)}
    assert listing(await client.get("/v1/ip-assets?mine=true", headers=stranger.auth)) == []
    # mine=true needs a login
    error(await client.get("/v1/ip-assets?mine=true"), 401, "UNAUTHORIZED")
    # an unknown id, or a malformed one
    error(await client.get("/v1/ip-assets/00000000-0000-0000-0000-000000000000"), 404, "NOT_FOUND")
    error(await client.get("/v1/ip-assets/not-an-id"), 422, "VALIDATION_ERROR")

    # a deleted asset is gone for everyone, its owner included
    await rights.ok(await client.delete(f"/v1/ip-assets/{draft['id']}", headers=creator.auth))
    error(await client.get(f"/v1/ip-assets/{draft['id']}", headers=creator.auth), 404, "NOT_FOUND")
    mine = listing(await client.get("/v1/ip-assets?mine=true", headers=creator.auth))
    assert draft["id"] not in ids(mine)


async def test_filters_search_sort_and_pages(client: httpx.AsyncClient, db: Database) -> None:
    # given three approved assets of two creators, and one still pending
    rights = Rights(client, db)
    first = await rights.user("creator")
    second = await rights.user("creator")
    await set_platform(db, {"content": {"autoApproveIPs": True}})
    fox = await quick_asset(
        rights,
        first,
        title="Moonlit Fox",
        description="A fox who walks by moonlight.",
        category="characters",
        contentType="image",
    )
    harbor = await quick_asset(
        rights,
        first,
        title="Harbor Lights",
        description="Boats resting in a quiet harbor at dusk.",
        category="landscapes",
        contentType="image",
    )
    whale = await quick_asset(
        rights,
        second,
        title="Sky Whale",
        description="A whale swimming through clouds, friend of the fox.",
        category="characters",
        contentType="animation",
    )
    await rights.asset(
        second, approve=False, title="Ember Fox Knight", category="characters", contentType="image"
    )

    async def listed(**params: Any) -> list[str]:
        response = await client.get("/v1/ip-assets", params=params)
        return ids(listing(response))

    # filters
    assert set(await listed(category="characters")) == {fox["id"], whale["id"]}
    assert await listed(contentType="animation") == [whale["id"]]
    assert set(await listed(creatorId=str(first.id))) == {fox["id"], harbor["id"]}
    assert await listed(category="characters", creatorId=str(first.id)) == [fox["id"]]
    assert await listed(category="nothing-here") == []
    # full-text search over title and description, best match first (the pending one never)
    assert await listed(q="fox") == [fox["id"], whale["id"]]
    assert await listed(q="boats") == [harbor["id"]]
    assert await listed(q="fox", contentType="animation") == [whale["id"]]
    # a misspelt title still finds it
    assert await listed(q="Moonlit Fxo") == [fox["id"]]
    assert await listed(q="Harbr Lights") == [harbor["id"]]
    assert await listed(q="zeppelin") == []
    # sort orders
    assert await listed(sort="title") == [harbor["id"], fox["id"], whale["id"]]
    assert await listed(sort="oldest") == [fox["id"], harbor["id"], whale["id"]]
    assert await listed(sort="newest") == [whale["id"], harbor["id"], fox["id"]]
    assert await listed() == [whale["id"], harbor["id"], fox["id"]]
    # pages
    page1 = await client.get("/v1/ip-assets", params={"sort": "oldest", "limit": 2})
    assert ids(listing(page1)) == [fox["id"], harbor["id"]]
    assert page1.json()["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2}
    page2 = await client.get("/v1/ip-assets", params={"sort": "oldest", "limit": 2, "page": 2})
    assert ids(listing(page2)) == [whale["id"]]
    assert page2.json()["pagination"]["page"] == 2
    page3 = await client.get("/v1/ip-assets", params={"sort": "oldest", "limit": 2, "page": 3})
    assert listing(page3) == []
    # bad list parameters
    for params in ({"limit": 101}, {"page": 0}, {"sort": "price"}, {"creatorId": "nope"}):
        error(await client.get("/v1/ip-assets", params=params), 422, "VALIDATION_ERROR")
