"""Review of IP assets: POST /v1/ip-assets/{id}/verify submits, administrators decide with
PUT /v1/admin/ip-assets/{id}/verify and find the queue at GET /v1/admin/ip-assets/pending."""

from __future__ import annotations

import httpx

from ipmarket.ip_assets import IPAsset
from ipmarket.kit.db import Database
from tests.licensing.support import (
    audits,
    error,
    events,
    fields_of,
    fingerprint,
    ids,
    listing,
    set_platform,
)
from tests.rights import Rights
from tests.support import create_admin


async def test_submit_then_an_administrator_approves(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a creator's draft
    rights = Rights(client, db)
    creator = await rights.user("creator")
    admin = await rights.reviewer()
    draft = await rights.asset(creator, approve=False, title="Moonlit Fox")
    review_url = f"/v1/admin/ip-assets/{draft['id']}/verify"
    # a draft is not in the queue and cannot be decided yet
    assert listing(await client.get("/v1/admin/ip-assets/pending", headers=admin.auth)) == []
    error(
        await client.put(review_url, json={"decision": "approved"}, headers=admin.auth),
        409,
        "CONFLICT",
    )
    # when the owner submits it
    submitted = await rights.ok(
        await client.post(f"/v1/ip-assets/{draft['id']}/verify", headers=creator.auth)
    )
    assert submitted["verificationStatus"] == "pending"
    assert submitted["submittedAt"] is not None
    assert len(await audits(db, "ip_asset.submitted", draft["id"])) == 1
    # submitting twice is a conflict
    error(
        await client.post(f"/v1/ip-assets/{draft['id']}/verify", headers=creator.auth),
        409,
        "CONFLICT",
    )
    # then administrators see it in the queue, with the creator's username
    response = await client.get("/v1/admin/ip-assets/pending", headers=admin.auth)
    [queued] = listing(response)
    assert queued["id"] == draft["id"]
    assert queued["title"] == "Moonlit Fox"
    assert queued["creator"] == creator.username
    assert queued["creatorId"] == str(creator.id)
    assert queued["verificationStatus"] == "pending"
    assert queued["licenses"] == 0
    assert response.json()["pagination"]["total"] == 1
    # the queue and the decision are for reviewers only
    error(await client.get("/v1/admin/ip-assets/pending", headers=creator.auth), 403, "FORBIDDEN")
    error(await client.get("/v1/admin/ip-assets/pending"), 401, "UNAUTHORIZED")
    plain_admin = await create_admin(client, db, level="admin", departments=["payments"])
    before = await fingerprint(db)
    for who in (creator, plain_admin):
        error(
            await client.put(review_url, json={"decision": "approved"}, headers=who.auth),
            403,
            "FORBIDDEN",
        )
    error(
        await client.put(review_url, json={"decision": "maybe"}, headers=admin.auth),
        422,
        "VALIDATION_ERROR",
    )
    assert await fingerprint(db) == before

    # when an administrator approves it
    approved = await rights.ok(
        await client.put(review_url, json={"decision": "approved"}, headers=admin.auth)
    )
    # then it is approved, listed, out of the queue, audited and announced
    assert approved["verificationStatus"] == "approved"
    assert ids(listing(await client.get("/v1/ip-assets"))) == [draft["id"]]
    assert listing(await client.get("/v1/admin/ip-assets/pending", headers=admin.auth)) == []
    async with db.sessionmaker() as session:
        row = await session.get(IPAsset, draft["id"])
        assert row is not None and row.reviewed_by == admin.id and row.reviewed_at is not None
    [audit] = await audits(db, "ip_asset.approved", draft["id"])
    assert audit.user_id == admin.id
    assert audit.new_values == {
        "verificationStatus": "approved",
        "contentHash": draft["contentHash"],
    }
    [event] = await events(db, "ip_asset.approved")
    assert event["ip_asset_id"] == draft["id"]
    assert event["reviewed_by"] == str(admin.id)
    assert event["content_hash"] == draft["contentHash"]
    # a decided asset is decided
    error(
        await client.put(review_url, json={"decision": "approved"}, headers=admin.auth),
        409,
        "CONFLICT",
    )
    error(
        await client.post(f"/v1/ip-assets/{draft['id']}/verify", headers=creator.auth),
        409,
        "CONFLICT",
    )
    error(
        await client.put(
            "/v1/admin/ip-assets/00000000-0000-0000-0000-000000000000/verify",
            json={"decision": "approved"},
            headers=admin.auth,
        ),
        404,
        "NOT_FOUND",
    )


async def test_rejection_needs_a_reason_and_can_be_resubmitted(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    admin = await rights.reviewer()
    asset = await rights.asset(creator, approve=False)
    await rights.ok(await client.post(f"/v1/ip-assets/{asset['id']}/verify", headers=creator.auth))
    review_url = f"/v1/admin/ip-assets/{asset['id']}/verify"
    # a rejection without a reason (or with an empty one) is refused, nothing written
    before = await fingerprint(db)
    for body in ({"decision": "rejected"}, {"decision": "rejected", "reason": "  "}):
        err = error(
            await client.put(review_url, json=body, headers=admin.auth), 422, "VALIDATION_ERROR"
        )
        assert "reason" in fields_of(err)
    assert await fingerprint(db) == before
    # with a reason, the asset is rejected and the creator is told why
    rejected = await rights.ok(
        await client.put(
            review_url,
            json={"decision": "rejected", "reason": "It copies a known character"},
            headers=admin.auth,
        )
    )
    assert rejected["verificationStatus"] == "rejected"
    assert rejected["rejectionReason"] == "It copies a known character"
    [event] = await events(db, "ip_asset.rejected")
    assert event == {
        "ip_asset_id": asset["id"],
        "creator_id": str(creator.id),
        "reviewed_by": str(admin.id),
        "reason": "It copies a known character",
    }
    [audit] = await audits(db, "ip_asset.rejected", asset["id"])
    assert audit.user_id == admin.id
    assert await events(db, "ip_asset.approved") == []
    # the creator may submit it again, which clears the old reason
    again = await rights.ok(
        await client.post(f"/v1/ip-assets/{asset['id']}/verify", headers=creator.auth)
    )
    assert again["verificationStatus"] == "pending"
    assert again["rejectionReason"] is None
    queue = listing(await client.get("/v1/admin/ip-assets/pending", headers=admin.auth))
    assert ids(queue) == [asset["id"]]


async def test_auto_approve_setting_approves_on_submission(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given the platform approves IP assets automatically
    rights = Rights(client, db)
    creator = await rights.user("creator")
    await set_platform(db, {"content": {"autoApproveIPs": True}})
    draft = await rights.asset(creator, approve=False)
    # creation alone approves nothing
    assert draft["verificationStatus"] == "pending"
    # when the owner submits it, it is approved at once, by nobody
    approved = await rights.ok(
        await client.post(f"/v1/ip-assets/{draft['id']}/verify", headers=creator.auth)
    )
    assert approved["verificationStatus"] == "approved"
    assert ids(listing(await client.get("/v1/ip-assets"))) == [draft["id"]]
    [event] = await events(db, "ip_asset.approved")
    assert event["reviewed_by"] is None
    [audit] = await audits(db, "ip_asset.approved", draft["id"])
    assert audit.user_id is None
    admin = await rights.reviewer()
    assert listing(await client.get("/v1/admin/ip-assets/pending", headers=admin.auth)) == []
    # a material edit is approved again at once too, not left waiting for an admin
    edited = await rights.ok(
        await client.put(
            f"/v1/ip-assets/{draft['id']}", json={"title": "A new title"}, headers=creator.auth
        )
    )
    assert edited["verificationStatus"] == "approved"
    assert len(await events(db, "ip_asset.approved")) == 2
    # turning the setting off brings the review back
    await set_platform(db, {"content": {"autoApproveIPs": False}})
    other = await rights.asset(creator, approve=False)
    submitted = await rights.ok(
        await client.post(f"/v1/ip-assets/{other['id']}/verify", headers=creator.auth)
    )
    assert submitted["verificationStatus"] == "pending"
