"""POST /v1/ip-assets: originals by creators, derivatives under a license the caller holds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from ipmarket.ip_assets import IPAsset
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.provenance import AuthorizationChain
from tests.files.support import PNG, upload
from tests.licensing.support import audits, error, events, fields_of, fingerprint
from tests.rights import Rights
from tests.support import login, register

BODY = {
    "title": "Moonlit Fox",
    "description": "A fox who walks by moonlight.",
    "category": "characters",
    "contentType": "image",
}


async def test_creator_registers_an_original_pending_review(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a verified creator
    rights = Rights(client, db)
    creator = await rights.user("creator")
    # when they register an original work
    response = await client.post(
        "/v1/ip-assets", json={**BODY, "metadata": {"year": 2024}}, headers=creator.auth
    )
    # then it exists as a draft of theirs, with a content hash, awaiting review
    asset = await rights.ok(response, 201)
    assert asset["creatorId"] == str(creator.id)
    assert asset["title"] == "Moonlit Fox"
    assert asset["verificationStatus"] == "pending"
    assert asset["status"] == "active"
    assert asset["parentLicenseId"] is None
    assert asset["submittedAt"] is None
    assert asset["metadata"] == {"year": 2024}
    assert asset["fileUrls"] == []
    assert len(asset["contentHash"]) == 64
    async with db.sessionmaker() as session:
        row = await session.get(IPAsset, asset["id"])
        assert row is not None and row.creator_id == creator.id
    [audit] = await audits(db, "ip_asset.created", asset["id"])
    assert audit.user_id == creator.id
    assert audit.new_values is not None and audit.new_values["title"] == "Moonlit Fox"
    [event] = await events(db, "ip_asset.created")
    assert event["ip_asset_id"] == asset["id"]
    assert event["creator_id"] == str(creator.id)
    assert event["parent_license_id"] is None


async def test_content_hash_follows_the_content(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    first = await rights.ok(
        await client.post("/v1/ip-assets", json=BODY, headers=creator.auth), 201
    )
    same = await rights.ok(
        await client.post(
            "/v1/ip-assets", json={**BODY, "category": "other"}, headers=creator.auth
        ),
        201,
    )
    other = await rights.ok(
        await client.post(
            "/v1/ip-assets", json={**BODY, "description": "A different tale."}, headers=creator.auth
        ),
        201,
    )
    # the hash covers title, description and files, not the category
    assert first["contentHash"] == same["contentHash"]
    assert first["contentHash"] != other["contentHash"]


async def test_who_may_register_an_original(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    maker = await rights.user("secondary_creator")
    buyer = await rights.user("buyer")
    unverified = await register(client, "creator")
    before = await fingerprint(db)
    # a secondary creator may only register derivatives
    err = error(await client.post("/v1/ip-assets", json=BODY, headers=maker.auth), 403, "FORBIDDEN")
    assert err["details"] == {"field": "parentLicenseId"}
    # a buyer may not register anything
    error(await client.post("/v1/ip-assets", json=BODY, headers=buyer.auth), 403, "FORBIDDEN")
    # a creator must first confirm their email address
    err = error(
        await client.post("/v1/ip-assets", json=BODY, headers=unverified.auth), 403, "FORBIDDEN"
    )
    assert err["details"]["reason"] == "email_not_verified"
    # nobody anonymous
    error(await client.post("/v1/ip-assets", json=BODY), 401, "UNAUTHORIZED")
    assert await fingerprint(db) == before


async def test_bad_input_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    before = await fingerprint(db)
    cases: list[tuple[dict[str, Any], str]] = [
        ({k: v for k, v in BODY.items() if k != "title"}, "title"),
        ({**BODY, "title": "   "}, "title"),
        ({**BODY, "title": "x" * 256}, "title"),
        ({**BODY, "verificationStatus": "approved"}, "verificationStatus"),
        ({**BODY, "parentLicenseId": "not-a-uuid"}, "parentLicenseId"),
    ]
    for body, field in cases:
        err = error(
            await client.post("/v1/ip-assets", json=body, headers=creator.auth),
            422,
            "VALIDATION_ERROR",
        )
        assert field in fields_of(err), (body, err)
    # a file URL not uploaded by the caller
    error(
        await client.post(
            "/v1/ip-assets",
            json={**BODY, "fileUrls": ["https://elsewhere.example/cat.png"]},
            headers=creator.auth,
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert await fingerprint(db) == before


async def test_secondary_creator_registers_a_derivative_under_their_license(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given S holds an approved license on A whose terms allow derivatives
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    a = await rights.asset(creator)
    terms = await rights.terms(creator, a["id"])
    license_ = await rights.license(maker, creator, a["id"], terms["id"])
    # when S registers a derivative naming that license
    derivative = await rights.ok(
        await client.post(
            "/v1/ip-assets",
            json={**BODY, "title": "Fox Tales", "parentLicenseId": license_["id"]},
            headers=maker.auth,
        ),
        201,
    )
    # then it is theirs, linked to the license, and pending
    assert derivative["creatorId"] == str(maker.id)
    assert derivative["parentLicenseId"] == license_["id"]
    assert derivative["verificationStatus"] == "pending"
    [event] = [e for e in await events(db, "ip_asset.created") if e["creator_id"] == str(maker.id)]
    assert event["parent_license_id"] == license_["id"]
    # and once approved, the derivation is recorded in the authorization chain
    await rights.ok(
        await client.post(f"/v1/ip-assets/{derivative['id']}/verify", headers=maker.auth)
    )
    admin = await rights.reviewer()
    approved = await rights.ok(
        await client.put(
            f"/v1/admin/ip-assets/{derivative['id']}/verify",
            json={"decision": "approved"},
            headers=admin.auth,
        )
    )
    assert approved["verificationStatus"] == "approved"
    async with db.sessionmaker() as session:
        [record] = (
            await session.execute(
                select(AuthorizationChain).where(
                    AuthorizationChain.derived_asset_id == derivative["id"]
                )
            )
        ).scalars()
    assert str(record.license_id) == license_["id"]
    assert str(record.ip_asset_id) == a["id"]
    assert record.is_active is True
    assert record.verification_code is None


async def test_derivative_refused_unless_the_license_authorises_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    other_maker = await rights.user("secondary_creator")
    a = await rights.asset(creator)
    open_terms = await rights.terms(creator, a["id"])
    closed_terms = await rights.terms(
        creator, a["id"], derivativesAllowed=False, territory=["FR"], licenseType="premium"
    )
    held = await rights.license(maker, creator, a["id"], open_terms["id"])
    pending = await rights.license(other_maker, creator, a["id"], open_terms["id"], approve=False)
    no_derivatives = await rights.license(maker, creator, a["id"], closed_terms["id"])
    assert no_derivatives["terms"]["derivativesAllowed"] is False

    async def derive(who: Any, license_id: str) -> httpx.Response:
        return await client.post(
            "/v1/ip-assets", json={**BODY, "parentLicenseId": license_id}, headers=who.auth
        )

    before = await fingerprint(db)
    # a license held by someone else
    err = error(await derive(other_maker, held["id"]), 422, "VALIDATION_ERROR")
    assert fields_of(err) == {"parentLicenseId"}
    # a license that does not exist
    error(await derive(maker, "00000000-0000-0000-0000-000000000000"), 422, "VALIDATION_ERROR")
    # a license not approved (yet)
    err = error(await derive(other_maker, pending["id"]), 422, "VALIDATION_ERROR")
    assert "pending" in err["message"]
    # a license whose terms forbid derivatives
    error(await derive(maker, no_derivatives["id"]), 409, "CONFLICT")
    # the creator of the original cannot derive under someone else's license either
    error(await derive(creator, held["id"]), 422, "VALIDATION_ERROR")
    assert await fingerprint(db) == before

    # a broken chain: the license has expired, so it authorises nothing
    clock.freeze(datetime.fromisoformat(held["expiresAt"]) + timedelta(seconds=1))
    relogged = await login(client, maker.email, maker.password)
    maker.token = relogged.json()["data"]["token"]
    before = await fingerprint(db)
    err = error(await derive(maker, held["id"]), 409, "CONFLICT")
    assert any("expired" in r for r in err["details"]["reasons"])
    assert await fingerprint(db) == before


async def test_derivative_refused_once_the_license_is_revoked(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    a = await rights.asset(creator)
    terms = await rights.terms(creator, a["id"])
    license_ = await rights.license(maker, creator, a["id"], terms["id"])
    await rights.ok(
        await client.put(
            f"/v1/licenses/{license_['id']}/revoke",
            json={"reason": "Breach of terms"},
            headers=creator.auth,
        )
    )
    before = await fingerprint(db)
    err = error(
        await client.post(
            "/v1/ip-assets", json={**BODY, "parentLicenseId": license_["id"]}, headers=maker.auth
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert "revoked" in err["message"]
    assert await fingerprint(db) == before


async def test_files_are_the_callers_own_uploads(client: httpx.AsyncClient, db: Database) -> None:
    # given a creator's uploaded image
    rights = Rights(client, db)
    creator = await rights.user("creator")
    other = await rights.user("creator")
    uploaded = await rights.ok(await upload(client, creator, PNG, filename="fox.png"), 201)
    # when they register an asset with it
    with_file = await rights.ok(
        await client.post(
            "/v1/ip-assets", json={**BODY, "fileUrls": [uploaded["url"]]}, headers=creator.auth
        ),
        201,
    )
    without = await rights.ok(
        await client.post("/v1/ip-assets", json=BODY, headers=creator.auth), 201
    )
    # then the asset shows a signed URL of the file, and the file counts in the hash
    [url] = with_file["fileUrls"]
    assert url.split("?")[0] == uploaded["url"].split("?")[0]
    assert with_file["contentHash"] != without["contentHash"]
    async with db.sessionmaker() as session:
        row = await session.get(IPAsset, with_file["id"])
        assert row is not None and [str(f) for f in row.file_ids] == [uploaded["id"]]
    # another creator cannot use it
    before = await fingerprint(db)
    error(
        await client.post(
            "/v1/ip-assets", json={**BODY, "fileUrls": [uploaded["url"]]}, headers=other.auth
        ),
        422,
        "VALIDATION_ERROR",
    )
    error(
        await client.put(
            f"/v1/ip-assets/{without['id']}",
            json={"fileUrls": [uploaded["url"]]},
            headers=other.auth,
        ),
        403,
        "FORBIDDEN",
    )
    assert await fingerprint(db) == before
    # removing the file changes the content, and its hash, back
    edited = await rights.ok(
        await client.put(
            f"/v1/ip-assets/{with_file['id']}", json={"fileUrls": []}, headers=creator.auth
        )
    )
    assert edited["fileUrls"] == []
    assert edited["contentHash"] == without["contentHash"]
