"""The 100% cap: the platform fee plus every revenue share along a chain may not pass 100%.

Terms that would pass it are refused (422); an approval that would pass it, because the fee
setting changed since, is refused (409) and changes nothing."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from ipmarket.kit.db import Database
from ipmarket.provenance import AuthorizationChain
from tests.licensing.support import apply, error, fingerprint, set_platform
from tests.rights import Rights
from tests.support import Account

TERMS = {"licenseType": "standard", "territory": "WORLDWIDE", "duration": "P1Y"}


async def test_terms_that_would_pass_the_cap_are_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given the default platform fee of 10% and an original asset
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    a = await rights.asset(creator)

    async def publish(owner: Account, asset_id: str, share: float) -> httpx.Response:
        return await client.post(
            f"/v1/ip-assets/{asset_id}/licenses",
            json={**TERMS, "revenueSharePercentage": share},
            headers=owner.auth,
        )

    # then a share of up to 90% fits, and more does not
    full = await rights.ok(await publish(creator, a["id"], 90), 201)
    before = await fingerprint(db)
    err = error(await publish(creator, a["id"], 90.01), 422, "VALIDATION_ERROR")
    assert err["details"] == {"field": "revenueSharePercentage"}
    assert "over 100%" in err["message"]
    error(
        await client.put(
            f"/v1/ip-assets/{a['id']}/licenses/{full['id']}",
            json={"revenueSharePercentage": 95},
            headers=creator.auth,
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert await fingerprint(db) == before

    # given a derivative made under a license with a 60% share
    t60 = await rights.ok(await publish(creator, a["id"], 60), 201)
    l1 = await rights.license(maker, creator, a["id"], t60["id"])
    d1 = await rights.asset(maker, parent_license_id=l1["id"])
    # then its own terms may take 30% at most (10 + 60 + 30 = 100)
    await rights.ok(await publish(maker, d1["id"], 30), 201)
    before = await fingerprint(db)
    error(await publish(maker, d1["id"], 30.01), 422, "VALIDATION_ERROR")
    assert await fingerprint(db) == before
    # when the platform fee rises to 20%, 30% no longer fits, 20% does
    await set_platform(db, {"payments": {"platformFeePercentage": 20}})
    err = error(await publish(maker, d1["id"], 30), 422, "VALIDATION_ERROR")
    assert "platform fee 20" in err["message"]
    await rights.ok(await publish(maker, d1["id"], 20), 201)
    # and with no fee at all, 40% fits
    await set_platform(db, {"payments": {"platformFeePercentage": 0}})
    await rights.ok(await publish(maker, d1["id"], 40), 201)
    error(await publish(maker, d1["id"], 40.01), 422, "VALIDATION_ERROR")


async def test_approvals_that_would_pass_the_cap_are_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a license with a 60% share and a derivative submitted under it
    rights = Rights(client, db)
    creator = await rights.user("creator")
    s1 = await rights.user("secondary_creator")
    s2 = await rights.user("secondary_creator")
    admin = await rights.reviewer()
    a = await rights.asset(creator)
    t60 = await rights.terms(creator, a["id"], revenueSharePercentage=60)
    l1 = await rights.license(s1, creator, a["id"], t60["id"])
    d1 = await rights.asset(s1, approve=False, parent_license_id=l1["id"])
    await rights.ok(await client.post(f"/v1/ip-assets/{d1['id']}/verify", headers=s1.auth))
    review = f"/v1/admin/ip-assets/{d1['id']}/verify"
    # when the fee rises to 45% (45 + 60 > 100), the derivative cannot be approved
    await set_platform(db, {"payments": {"platformFeePercentage": 45}})
    before = await fingerprint(db)
    err = error(
        await client.put(review, json={"decision": "approved"}, headers=admin.auth),
        409,
        "CONFLICT",
    )
    assert err["details"] == {"rule": "share_cap"}
    assert await fingerprint(db) == before
    async with db.sessionmaker() as session:
        derivations = (
            await session.execute(
                select(func.count())
                .select_from(AuthorizationChain)
                .where(AuthorizationChain.derived_asset_id == d1["id"])
            )
        ).scalar_one()
    assert derivations == 0
    # when the fee is back at 10%, it can
    await set_platform(db, {"payments": {"platformFeePercentage": 10}})
    approved = await rights.ok(
        await client.put(review, json={"decision": "approved"}, headers=admin.auth)
    )
    assert approved["verificationStatus"] == "approved"

    # given terms on the derivative that fill the cap exactly (10 + 60 + 30), one of them
    # approving automatically, and an application under the other
    t30 = await rights.terms(s1, d1["id"], revenueSharePercentage=30)
    auto = await rights.terms(s1, d1["id"], revenueSharePercentage=30, autoApprove=True)
    pending = await rights.license(s2, s1, d1["id"], t30["id"], approve=False)
    # and an application on the original under an 88% share (10 + 88 fits)
    t88 = await rights.terms(creator, a["id"], revenueSharePercentage=88)
    on_original = await rights.license(s2, creator, a["id"], t88["id"], approve=False)
    # when the fee rises to 15%, the license cannot be approved
    await set_platform(db, {"payments": {"platformFeePercentage": 15}})
    before = await fingerprint(db)
    err = error(
        await client.put(f"/v1/licenses/{pending['id']}/approve", headers=s1.auth),
        409,
        "CONFLICT",
    )
    assert "100%" in err["message"]
    assert await fingerprint(db) == before
    # and an application under the auto-approving terms waits for the licensor
    waiting = await rights.ok(await apply(client, s2, d1["id"], auto["id"]), 201)
    assert waiting["status"] == "pending"
    # the license on the original is held to the same rule (15 + 88 > 100)
    error(
        await client.put(f"/v1/licenses/{on_original['id']}/approve", headers=creator.auth),
        409,
        "CONFLICT",
    )
    # once the fee is back at 10%, all of them can be approved
    await set_platform(db, {"payments": {"platformFeePercentage": 10}})
    for license_id, licensor in (
        (pending["id"], s1),
        (waiting["id"], s1),
        (on_original["id"], creator),
    ):
        approved = await rights.ok(
            await client.put(f"/v1/licenses/{license_id}/approve", headers=licensor.auth)
        )
        assert approved["status"] == "approved"
