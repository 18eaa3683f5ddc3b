"""Nobody decides on their own application or reviews their own asset; an application and
an edit of its terms never interleave; no derivative is made or approved under a license
revoked at the same moment; a cache outage does not fail committed work."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ipmarket import provenance
from ipmarket.ip_assets import IPAsset
from ipmarket.kit.cache import MemoryCache
from ipmarket.kit.db import Database
from tests.licensing.support import apply, error, fingerprint
from tests.rights import Rights
from tests.support import create_admin


async def test_an_administrator_cannot_approve_their_own_application(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a super admin (who holds every permission) applying for a license
    rights = Rights(client, db)
    creator = await rights.user("creator")
    boss = await create_admin(client, db, level="super_admin")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    application = await rights.ok(
        await client.post(
            "/v1/licenses/apply",
            json={"ipAssetId": asset["id"], "licenseTermsId": terms["id"]},
            headers=boss.auth,
        ),
        201,
    )
    before = await fingerprint(db)
    # when they approve it themselves, through either route
    for path in (
        f"/v1/licenses/{application['id']}/approve",
        f"/v1/admin/licenses/{application['id']}/approve",
    ):
        error(await client.put(path, headers=boss.auth), 403, "FORBIDDEN")
    # then nothing changed; the licensor still can
    assert await fingerprint(db) == before
    approved = await rights.ok(
        await client.put(f"/v1/licenses/{application['id']}/approve", headers=creator.auth)
    )
    assert approved["status"] == "approved"


async def test_an_administrator_cannot_review_their_own_asset(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    boss = await create_admin(client, db, level="super_admin")
    asset = await rights.asset(boss, approve=False)
    await rights.ok(await client.post(f"/v1/ip-assets/{asset['id']}/verify", headers=boss.auth))
    refused = await client.put(
        f"/v1/admin/ip-assets/{asset['id']}/verify",
        json={"decision": "approved"},
        headers=boss.auth,
    )
    error(refused, 403, "FORBIDDEN")
    other = await create_admin(client, db, departments=["content"])
    approved = await rights.ok(
        await client.put(
            f"/v1/admin/ip-assets/{asset['id']}/verify",
            json={"decision": "approved"},
            headers=other.auth,
        )
    )
    assert approved["verificationStatus"] == "approved"


# Enough rounds that the two requests meet in every order, even on a loaded machine.
RACE_ROUNDS = 25


@pytest.mark.parametrize("auto_approve", [False, True], ids=["reviewed", "auto-approved"])
async def test_applying_and_editing_terms_at_once_never_change_what_was_applied_for(
    client: httpx.AsyncClient, db: Database, auto_approve: bool
) -> None:
    # given terms with a fee of 10, and an applicant who accepts at most 10
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator)
    for attempt in range(RACE_ROUNDS):
        maker = await rights.user("secondary_creator")
        terms = await rights.terms(creator, asset["id"], baseFee=10, autoApprove=auto_approve)
        # when the application and a fee rise to 500 race
        applied, edited = await asyncio.gather(
            apply(
                client,
                maker,
                asset["id"],
                terms["id"],
                maxBaseFee=10,
                paymentMethod="pm_card_visa",
            ),
            client.put(
                f"/v1/ip-assets/{asset['id']}/licenses/{terms['id']}",
                json={"baseFee": 500},
                headers=creator.auth,
            ),
        )
        # then neither fails (no deadlock between their locks)
        assert edited.status_code == 200, (attempt, edited.text)
        # and either the edit made a new version (the application holds the old terms)…
        if applied.status_code == 201:
            assert edited.json()["data"]["id"] != terms["id"]
            history = await client.get(
                f"/v1/ip-assets/{asset['id']}/licenses",
                headers=creator.auth,
                params={"history": True},
            )
            listed: list[dict[str, Any]] = history.json()["data"]
            original = next(t for t in listed if t["id"] == terms["id"])
            assert original["baseFee"] == 10 and original["isCurrent"] is False
            expected = "approved" if auto_approve else "pending"
            assert applied.json()["data"]["status"] == expected, applied.text
        # …or the application saw the new terms and refused them
        else:
            assert applied.status_code in (409, 422), (attempt, applied.text)


async def asset_status(db: Database, asset_id: str) -> tuple[str, str]:
    async with db.sessionmaker() as session:
        asset = await session.get(IPAsset, uuid.UUID(asset_id))
        assert asset is not None
        return asset.status, asset.verification_status


@pytest.mark.parametrize("step", ["made", "approved"])
async def test_no_derivative_is_made_or_approved_under_a_license_revoked_at_the_same_moment(
    client: httpx.AsyncClient, db: Database, step: str
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    reviewer = await rights.reviewer()
    for attempt in range(RACE_ROUNDS):
        # given a secondary creator holding a license (and, to approve, a derivative under it
        # waiting for review)
        maker = await rights.user("secondary_creator")
        license_ = await rights.license(maker, creator, asset["id"], terms["id"])
        body = {
            "title": f"Derivative {attempt}",
            "description": "A new story with the licensed character.",
            "category": "characters",
            "contentType": "image",
            "parentLicenseId": license_["id"],
        }
        if step == "approved":
            waiting = await rights.asset(maker, approve=False, parent_license_id=license_["id"])
            await rights.ok(
                await client.post(f"/v1/ip-assets/{waiting['id']}/verify", headers=maker.auth)
            )
            act = client.put(
                f"/v1/admin/ip-assets/{waiting['id']}/verify",
                json={"decision": "approved"},
                headers=reviewer.auth,
            )
        else:
            act = client.post("/v1/ip-assets", json=body, headers=maker.auth)
        # when the derivative is made (or approved) while the license is revoked
        done, revoked = await asyncio.gather(
            act,
            client.put(
                f"/v1/licenses/{license_['id']}/revoke",
                json={"reason": "Breach of terms"},
                headers=creator.auth,
            ),
        )
        # then the revocation holds, and the derivative either came first and was suspended
        # with everything under the license, or came second and saw the license revoked
        assert revoked.status_code == 200, (attempt, revoked.text)
        if done.status_code in (200, 201):
            derivative = done.json()["data"]["id"]
            assert (await asset_status(db, derivative))[0] == "suspended", (attempt, step)
        else:
            error(done, 422, "VALIDATION_ERROR")
            if step == "approved":
                assert await asset_status(db, waiting["id"]) == ("suspended", "pending")


async def test_a_cache_outage_does_not_fail_committed_work(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    # given the verification cache is unreachable
    class BrokenCache(MemoryCache):
        async def get(self, key: str) -> bytes | None:
            raise ConnectionError("cache down")

        async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
            raise ConnectionError("cache down")

    rights = Rights(client, db)
    world = await rights.chain_of_three()
    provenance.configure_verification_cache(BrokenCache())
    try:
        # when a license is revoked, the revocation succeeds and is committed
        revoked = await client.put(
            f"/v1/licenses/{world['l2']['id']}/revoke",
            json={"reason": "Breach"},
            headers=world["s1"].auth,
        )
        assert revoked.status_code == 200
        # and verification still answers, from the database
        answer = (await client.get(f"/v1/products/{world['p3']['id']}/verify")).json()["data"]
        assert answer["authentic"] is False
    finally:
        provenance.configure_verification_cache(app.state.cache)
