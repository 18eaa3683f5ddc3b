"""PUT and DELETE /v1/ip-assets/{id}: the owner only; material edits go back to review;
deletion is soft and waits for approved licenses to end."""

from __future__ import annotations

import httpx

from ipmarket.ip_assets import IPAsset
from ipmarket.kit.db import Database
from tests.licensing.support import audits, error, fields_of, fingerprint, ids, listing
from tests.rights import Rights

NOWHERE = "00000000-0000-0000-0000-000000000000"


async def test_only_the_owner_edits_or_deletes(client: httpx.AsyncClient, db: Database) -> None:
    # given an approved asset
    rights = Rights(client, db)
    creator = await rights.user("creator")
    other_creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    buyer = await rights.user("buyer")
    asset = await rights.asset(creator)
    admin = await rights.reviewer()
    url = f"/v1/ip-assets/{asset['id']}"
    change = {"title": "Stolen title"}
    before = await fingerprint(db)
    # when anyone but the owner tries to change or delete it, they are refused
    for who in (other_creator, maker, admin):
        error(await client.put(url, json=change, headers=who.auth), 403, "FORBIDDEN")
        error(await client.delete(url, headers=who.auth), 403, "FORBIDDEN")
        error(await client.post(f"{url}/verify", headers=who.auth), 403, "FORBIDDEN")
    error(await client.put(url, json=change, headers=buyer.auth), 403, "FORBIDDEN")
    error(await client.delete(url, headers=buyer.auth), 403, "FORBIDDEN")
    error(await client.put(url, json=change), 401, "UNAUTHORIZED")
    error(await client.delete(url), 401, "UNAUTHORIZED")
    error(await client.post(f"{url}/verify"), 401, "UNAUTHORIZED")
    # an unknown asset is not found, even for its would-be owner
    error(
        await client.put(f"/v1/ip-assets/{NOWHERE}", json=change, headers=creator.auth),
        404,
        "NOT_FOUND",
    )
    error(await client.delete(f"/v1/ip-assets/{NOWHERE}", headers=creator.auth), 404, "NOT_FOUND")
    # and the owner's own bad edits are refused
    error(await client.put(url, json={}, headers=creator.auth), 422, "VALIDATION_ERROR")
    err = error(
        await client.put(url, json={"title": None}, headers=creator.auth), 422, "VALIDATION_ERROR"
    )
    assert "title" in fields_of(err)
    err = error(
        await client.put(url, json={"creatorId": str(other_creator.id)}, headers=creator.auth),
        422,
        "VALIDATION_ERROR",
    )
    assert "creatorId" in fields_of(err)
    # then nothing changed
    assert await fingerprint(db) == before
    public = await rights.ok(await client.get(url))
    assert public["title"] == asset["title"]
    assert public["verificationStatus"] == "approved"


async def test_non_material_edit_keeps_the_approval(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator, metadata={"year": 2023})
    url = f"/v1/ip-assets/{asset['id']}"
    # when the owner changes only the category and metadata
    edited = await rights.ok(
        await client.put(
            url, json={"category": "mascots", "metadata": {"year": 2024}}, headers=creator.auth
        )
    )
    # then the asset stays approved and listed, with the same content hash
    assert edited["category"] == "mascots"
    assert edited["metadata"] == {"year": 2024}
    assert edited["verificationStatus"] == "approved"
    assert edited["contentHash"] == asset["contentHash"]
    assert ids(listing(await client.get("/v1/ip-assets"))) == [asset["id"]]
    # and the change is audited with only what changed
    [audit] = await audits(db, "ip_asset.updated", asset["id"])
    assert audit.user_id == creator.id
    assert audit.old_values == {"category": "characters", "metadata": {"year": 2023}}
    assert audit.new_values == {"category": "mascots", "metadata": {"year": 2024}}


async def test_material_edit_sends_an_approved_asset_back_to_review(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given an approved asset nobody has licensed yet
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator, title="Moonlit Fox")
    url = f"/v1/ip-assets/{asset['id']}"
    # when the owner changes its title
    edited = await rights.ok(
        await client.put(url, json={"title": "Moonlit Fox, redrawn"}, headers=creator.auth)
    )
    # then it is waiting for review again, with a new content hash
    assert edited["verificationStatus"] == "pending"
    assert edited["submittedAt"] is not None
    assert edited["contentHash"] != asset["contentHash"]
    async with db.sessionmaker() as session:
        row = await session.get(IPAsset, asset["id"])
        assert row is not None
        assert row.reviewed_by is None and row.reviewed_at is None
    [audit] = await audits(db, "ip_asset.updated", asset["id"])
    assert audit.old_values is not None and audit.new_values is not None
    assert audit.old_values["verificationStatus"] == "approved"
    assert audit.new_values["verificationStatus"] == "pending"
    # it left the public catalogue and sits in the review queue
    error(await client.get(url), 404, "NOT_FOUND")
    assert listing(await client.get("/v1/ip-assets")) == []
    admin = await rights.reviewer()
    queue = listing(await client.get("/v1/admin/ip-assets/pending", headers=admin.auth))
    assert ids(queue) == [asset["id"]]
    await rights.ok(
        await client.put(
            f"/v1/admin/ip-assets/{asset['id']}/verify",
            json={"decision": "approved"},
            headers=admin.auth,
        )
    )
    # a change of content type is material too
    edited = await rights.ok(
        await client.put(url, json={"contentType": "animation"}, headers=creator.auth)
    )
    assert edited["verificationStatus"] == "pending"
    assert edited["contentType"] == "animation"


async def test_licensed_content_cannot_change_while_licenses_last(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given an approved asset, licensed, with a product on sale
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator, title="Moonlit Fox")
    terms = await rights.terms(creator, asset["id"])
    license_ = await rights.license(maker, creator, asset["id"], terms["id"])
    product = await rights.product(maker, license_["id"])
    url = f"/v1/ip-assets/{asset['id']}"
    # when the owner tries to change what was licensed
    refused = await client.put(url, json={"title": "Moonlit Fox, redrawn"}, headers=creator.auth)
    # then it is refused, nothing changes, and the licensee's product stays authentic
    body = error(refused, 409, "CONFLICT")
    assert body["details"]["rule"] == "licensed_content_is_fixed"
    same = await rights.ok(await client.get(url))
    assert same["title"] == "Moonlit Fox"
    assert same["verificationStatus"] == "approved"
    answer = (await client.get(f"/v1/products/{product['id']}/verify")).json()["data"]
    assert answer["authentic"] is True
    # a non-material edit is still allowed
    edited = await rights.ok(
        await client.put(url, json={"category": "mascots"}, headers=creator.auth)
    )
    assert edited["verificationStatus"] == "approved"
    # once the license is revoked, the content may change again
    await rights.ok(
        await client.put(
            f"/v1/licenses/{license_['id']}/revoke",
            json={"reason": "Ended by agreement"},
            headers=creator.auth,
        )
    )
    edited = await rights.ok(
        await client.put(url, json={"title": "Moonlit Fox, redrawn"}, headers=creator.auth)
    )
    assert edited["verificationStatus"] == "pending"


async def test_material_edit_of_a_draft_keeps_it_a_draft(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    draft = await rights.asset(creator, approve=False)
    edited = await rights.ok(
        await client.put(
            f"/v1/ip-assets/{draft['id']}", json={"description": "New"}, headers=creator.auth
        )
    )
    assert edited["verificationStatus"] == "pending"
    assert edited["submittedAt"] is None
    assert edited["contentHash"] != draft["contentHash"]


async def test_delete_is_soft_and_waits_for_licenses_to_end(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given an approved asset with an approved license
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    license_ = await rights.license(maker, creator, asset["id"], terms["id"])
    url = f"/v1/ip-assets/{asset['id']}"
    # when the owner deletes it, they are refused while the license lasts
    before = await fingerprint(db)
    err = error(await client.delete(url, headers=creator.auth), 409, "CONFLICT")
    assert "license" in err["message"]
    assert await fingerprint(db) == before
    # once the license is revoked, deletion goes through
    await rights.ok(
        await client.put(
            f"/v1/licenses/{license_['id']}/revoke",
            json={"reason": "Ending our deal"},
            headers=creator.auth,
        )
    )
    response = await client.delete(url, headers=creator.auth)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    # then the row remains, marked deleted, and the asset is gone from every view
    async with db.sessionmaker() as session:
        row = await session.get(IPAsset, asset["id"])
        assert row is not None
        assert row.status == "deleted"
        assert row.deleted_at is not None
    error(await client.get(url, headers=creator.auth), 404, "NOT_FOUND")
    assert listing(await client.get("/v1/ip-assets?mine=true", headers=creator.auth)) == []
    [audit] = await audits(db, "ip_asset.deleted", asset["id"])
    assert audit.user_id == creator.id
    assert audit.new_values == {"status": "deleted"}
    # and nothing more can be done with it
    error(await client.delete(url, headers=creator.auth), 404, "NOT_FOUND")
    error(await client.put(url, json={"title": "Back"}, headers=creator.auth), 404, "NOT_FOUND")
    error(await client.post(f"{url}/verify", headers=creator.auth), 404, "NOT_FOUND")
    error(
        await client.post(
            f"{url}/licenses",
            json={
                "licenseType": "standard",
                "revenueSharePercentage": 5,
                "territory": "WORLDWIDE",
                "duration": "P1Y",
            },
            headers=creator.auth,
        ),
        404,
        "NOT_FOUND",
    )
