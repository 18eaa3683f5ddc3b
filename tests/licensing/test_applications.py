"""Applying for licenses and deciding on them: /v1/licenses/apply, /applications,
/{id}/approve|reject|revoke, /{id}/verify and the administrators' routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.licensing import LicenseApplication
from tests.licensing.support import (
    apply,
    audits,
    error,
    events,
    fields_of,
    fingerprint,
    ids,
    listing,
)
from tests.rights import Rights
from tests.support import Account, create_admin

NOWHERE = "00000000-0000-0000-0000-000000000000"


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_apply_then_the_licensor_approves(client: httpx.AsyncClient, db: Database) -> None:
    # given an approved asset with six-month terms, on the last day of August
    start = datetime(2025, 8, 31, 9, 30, tzinfo=UTC)
    clock.freeze(start)
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(
        creator,
        asset["id"],
        licenseType="premium",
        revenueSharePercentage=7.5,
        baseFee="25.00",
        territory=["us", "ca"],
        duration="P6M",
        requirements="Credit the creator",
        restrictions="No political use",
    )
    # when a secondary creator applies, stating the most they accept
    response = await apply(
        client,
        maker,
        asset["id"],
        terms["id"],
        applicationData={"plan": "mugs", "units": 500},
        maxBaseFee=30,
        maxRevenueSharePercentage=7.5,
        paymentMethod="pm_card_visa",
    )
    # then the application waits for the licensor
    application = await rights.ok(response, 201)
    assert application["status"] == "pending"
    assert application["ipAssetId"] == asset["id"]
    assert application["applicantId"] == str(maker.id)
    assert application["licensorId"] == str(creator.id)
    assert application["licenseTermsId"] == terms["id"]
    assert application["applicationData"] == {"plan": "mugs", "units": 500}
    assert application["maxBaseFee"] == 30
    assert application["maxRevenueSharePercentage"] == 7.5
    assert application["approvedAt"] is None
    assert application["expiresAt"] is None
    assert application["terms"] is None
    [applied] = await events(db, "license.applied")
    assert applied == {
        "license_id": application["id"],
        "ip_asset_id": asset["id"],
        "applicant_id": str(maker.id),
        "licensor_id": str(creator.id),
        "license_terms_id": terms["id"],
    }
    [audit] = await audits(db, "license.applied", application["id"])
    assert audit.user_id == maker.id

    # when the licensor approves it five minutes later
    clock.advance(timedelta(minutes=5))
    approved = await rights.ok(
        await client.put(f"/v1/licenses/{application['id']}/approve", headers=creator.auth)
    )
    # then it is a license until approval + six months (the month's end clamped)
    assert approved["status"] == "approved"
    assert approved["approvedBy"] == str(creator.id)
    assert at(approved["approvedAt"]) == start + timedelta(minutes=5)
    assert at(approved["expiresAt"]) == datetime(2026, 2, 28, 9, 35, tzinfo=UTC)
    # holding a snapshot of the terms it grants
    assert approved["terms"] == {
        "termsId": terms["id"],
        "version": 1,
        "licenseType": "premium",
        "revenueSharePercentage": "7.50",
        "baseFee": "25.00",
        "currency": "USD",
        "territory": "CA,US",
        "duration": "P6M",
        "requirements": "Credit the creator",
        "restrictions": "No political use",
        "derivativesAllowed": True,
    }
    [announced] = await events(db, "license.approved")
    assert announced["license_id"] == application["id"]
    assert announced["approved_by"] == str(creator.id)
    assert at(announced["expires_at"]) == datetime(2026, 2, 28, 9, 35, tzinfo=UTC)
    [audit] = await audits(db, "license.approved", application["id"])
    assert audit.user_id == creator.id
    assert audit.new_values is not None and audit.new_values["terms"] == approved["terms"]
    # and anyone can check that it authorises now
    check = await rights.ok(await client.get(f"/v1/licenses/{application['id']}/verify"))
    assert check == {
        "valid": True,
        "status": "approved",
        "expiresAt": approved["expiresAt"],
        "reasons": [],
    }


async def test_applications_that_are_refused(client: httpx.AsyncClient, db: Database) -> None:
    # given a creator's approved asset and a draft, each with terms
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    buyer = await rights.user("buyer")
    asset = await rights.asset(creator)
    other_asset = await rights.asset(creator)
    draft = await rights.asset(creator, approve=False)
    terms = await rights.terms(creator, asset["id"], baseFee="50.00", revenueSharePercentage=20)
    other_terms = await rights.terms(creator, other_asset["id"])
    draft_terms = await rights.terms(creator, draft["id"])
    # and the maker's own approved derivative, with terms
    held = await rights.license(maker, creator, other_asset["id"], other_terms["id"])
    derivative = await rights.asset(maker, parent_license_id=held["id"])
    own_terms = await rights.terms(maker, derivative["id"], revenueSharePercentage=5)
    before = await fingerprint(db)

    # only secondary creators apply
    error(await apply(client, creator, asset["id"], terms["id"]), 403, "FORBIDDEN")
    error(await apply(client, buyer, asset["id"], terms["id"]), 403, "FORBIDDEN")
    anonymous = await client.post(
        "/v1/licenses/apply", json={"ipAssetId": asset["id"], "licenseTermsId": terms["id"]}
    )
    error(anonymous, 401, "UNAUTHORIZED")
    # never on their own asset
    error(await apply(client, maker, derivative["id"], own_terms["id"]), 403, "FORBIDDEN")
    # only on an asset open for licensing
    error(await apply(client, maker, NOWHERE, terms["id"]), 404, "NOT_FOUND")
    error(await apply(client, maker, draft["id"], draft_terms["id"]), 404, "NOT_FOUND")
    # with terms of that asset
    err = error(await apply(client, maker, asset["id"], other_terms["id"]), 422, "VALIDATION_ERROR")
    assert fields_of(err) == {"licenseTermsId"}
    error(await apply(client, maker, asset["id"], NOWHERE), 422, "VALIDATION_ERROR")
    # within what the applicant said they accept
    err = error(
        await apply(client, maker, asset["id"], terms["id"], maxBaseFee=49.99),
        422,
        "VALIDATION_ERROR",
    )
    assert fields_of(err) == {"maxBaseFee"}
    err = error(
        await apply(client, maker, asset["id"], terms["id"], maxRevenueSharePercentage=19.99),
        422,
        "VALIDATION_ERROR",
    )
    assert fields_of(err) == {"maxRevenueSharePercentage"}
    err = error(
        await apply(
            client, maker, asset["id"], terms["id"], maxBaseFee=0, maxRevenueSharePercentage=0
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert fields_of(err) == {"maxBaseFee", "maxRevenueSharePercentage"}
    # and well formed
    for extra in ({"maxBaseFee": -1}, {"maxRevenueSharePercentage": 101}, {"status": "approved"}):
        error(
            await apply(client, maker, asset["id"], terms["id"], **extra), 422, "VALIDATION_ERROR"
        )
    assert await fingerprint(db) == before

    # limits equal to the terms are fine
    first = await rights.ok(
        await apply(
            client,
            maker,
            asset["id"],
            terms["id"],
            maxBaseFee=50,
            maxRevenueSharePercentage=20,
            paymentMethod="pm_card_visa",
        ),
        201,
    )
    # a second pending application for the same terms is a conflict
    before = await fingerprint(db)
    error(await apply(client, maker, asset["id"], terms["id"]), 409, "CONFLICT")
    assert await fingerprint(db) == before
    # once the first is rejected, the maker may apply again
    await rights.ok(
        await client.put(
            f"/v1/licenses/{first['id']}/reject",
            json={"reason": "Not this year"},
            headers=creator.auth,
        )
    )
    await rights.ok(
        await apply(client, maker, asset["id"], terms["id"], paymentMethod="pm_card_visa"), 201
    )


async def test_listing_applications(client: httpx.AsyncClient, db: Database) -> None:
    # given a creator's two assets, and applications from two makers
    rights = Rights(client, db)
    creator = await rights.user("creator")
    first_maker = await rights.user("secondary_creator")
    second_maker = await rights.user("secondary_creator")
    a1 = await rights.asset(creator)
    a2 = await rights.asset(creator)
    t1 = await rights.terms(creator, a1["id"])
    t2 = await rights.terms(creator, a2["id"])
    approved = await rights.license(first_maker, creator, a1["id"], t1["id"])
    pending = await rights.license(first_maker, creator, a2["id"], t2["id"], approve=False)
    rejected = await rights.license(second_maker, creator, a1["id"], t1["id"], approve=False)
    await rights.ok(
        await client.put(
            f"/v1/licenses/{rejected['id']}/reject", json={"reason": "No" * 2}, headers=creator.auth
        )
    )

    async def listed(who: Account, **params: str) -> set[str]:
        response = await client.get("/v1/licenses/applications", params=params, headers=who.auth)
        return set(ids(listing(response)))

    everything = {approved["id"], pending["id"], rejected["id"]}
    # the licensor sees what they received
    assert await listed(creator) == everything
    assert await listed(creator, role="licensor") == everything
    assert await listed(creator, role="applicant") == set()
    assert await listed(creator, status="pending") == {pending["id"]}
    assert await listed(creator, status="rejected") == {rejected["id"]}
    assert await listed(creator, ipAssetId=a1["id"]) == {approved["id"], rejected["id"]}
    assert await listed(creator, ipAssetId=a1["id"], status="approved") == {approved["id"]}
    # each applicant sees their own
    assert await listed(first_maker) == {approved["id"], pending["id"]}
    assert await listed(first_maker, role="applicant") == {approved["id"], pending["id"]}
    assert await listed(first_maker, role="licensor") == set()
    assert await listed(first_maker, status="approved") == {approved["id"]}
    assert await listed(second_maker) == {rejected["id"]}
    # nobody else sees any, administrators included (they have their own queue)
    assert await listed(await rights.reviewer()) == set()
    # pages
    response = await client.get(
        "/v1/licenses/applications", params={"limit": 2}, headers=creator.auth
    )
    assert len(await rights.ok(response)) == 2
    assert response.json()["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2}
    # bad filters, a buyer and an anonymous caller
    for params in ({"status": "lost"}, {"role": "owner"}, {"ipAssetId": "nope"}):
        error(
            await client.get("/v1/licenses/applications", params=params, headers=creator.auth),
            422,
            "VALIDATION_ERROR",
        )
    buyer = await rights.user("buyer")
    error(await client.get("/v1/licenses/applications", headers=buyer.auth), 403, "FORBIDDEN")
    error(await client.get("/v1/licenses/applications"), 401, "UNAUTHORIZED")


async def test_who_decides_and_when(client: httpx.AsyncClient, db: Database) -> None:
    # given a pending application
    rights = Rights(client, db)
    creator = await rights.user("creator")
    other_creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    buyer = await rights.user("buyer")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    application = await rights.license(maker, creator, asset["id"], terms["id"], approve=False)
    url = f"/v1/licenses/{application['id']}"
    reason = {"reason": "Breach of terms"}
    before = await fingerprint(db)
    # another creator does not even learn it exists
    error(await client.put(f"{url}/approve", headers=other_creator.auth), 404, "NOT_FOUND")
    error(
        await client.put(f"{url}/reject", json=reason, headers=other_creator.auth), 404, "NOT_FOUND"
    )
    error(
        await client.put(f"{url}/revoke", json=reason, headers=other_creator.auth), 404, "NOT_FOUND"
    )
    # the applicant cannot decide on their own application
    error(await client.put(f"{url}/approve", headers=maker.auth), 403, "FORBIDDEN")
    error(await client.put(f"{url}/reject", json=reason, headers=maker.auth), 403, "FORBIDDEN")
    # buyers and anonymous callers are refused at the door
    error(await client.put(f"{url}/approve", headers=buyer.auth), 403, "FORBIDDEN")
    error(await client.put(f"{url}/revoke", json=reason, headers=buyer.auth), 403, "FORBIDDEN")
    error(await client.put(f"{url}/approve"), 401, "UNAUTHORIZED")
    error(await client.put(f"{url}/reject", json=reason), 401, "UNAUTHORIZED")
    # an unknown license
    error(
        await client.put(f"/v1/licenses/{NOWHERE}/approve", headers=creator.auth), 404, "NOT_FOUND"
    )
    error(await client.get(f"/v1/licenses/{NOWHERE}/verify"), 404, "NOT_FOUND")
    # a rejection needs a reason
    for body in ({}, {"reason": "no"}, {"reason": "    "}):
        err = error(
            await client.put(f"{url}/reject", json=body, headers=creator.auth),
            422,
            "VALIDATION_ERROR",
        )
        assert "reason" in fields_of(err)
    # a pending application cannot be revoked
    error(await client.put(f"{url}/revoke", json=reason, headers=creator.auth), 409, "CONFLICT")
    assert await fingerprint(db) == before
    # it does not authorise anything yet
    check = await rights.ok(await client.get(f"{url}/verify"))
    assert check["valid"] is False and check["status"] == "pending"

    # the licensor approves; then it cannot be approved or rejected again
    await rights.ok(await client.put(f"{url}/approve", headers=creator.auth))
    before = await fingerprint(db)
    error(await client.put(f"{url}/approve", headers=creator.auth), 409, "CONFLICT")
    error(await client.put(f"{url}/reject", json=reason, headers=creator.auth), 409, "CONFLICT")
    # revocation needs a reason too, and the licensee cannot revoke
    for body in ({}, {"reason": ""}):
        error(
            await client.put(f"{url}/revoke", json=body, headers=creator.auth),
            422,
            "VALIDATION_ERROR",
        )
    error(await client.put(f"{url}/revoke", json=reason, headers=maker.auth), 403, "FORBIDDEN")
    assert await fingerprint(db) == before

    # the licensor revokes it
    revoked = await rights.ok(await client.put(f"{url}/revoke", json=reason, headers=creator.auth))
    assert revoked["status"] == "revoked"
    assert revoked["revocationReason"] == "Breach of terms"
    assert revoked["revokedAt"] is not None
    [event] = await events(db, "license.revoked")
    assert event == {
        "license_id": application["id"],
        "applicant_id": str(maker.id),
        "revoked_by": str(creator.id),
        "reason": "Breach of terms",
    }
    [audit] = await audits(db, "license.revoked", application["id"])
    assert audit.user_id == creator.id
    assert audit.new_values == {"status": "revoked", "reason": "Breach of terms"}
    check = await rights.ok(await client.get(f"{url}/verify"))
    assert check["valid"] is False
    assert check["status"] == "revoked"
    assert check["reasons"] == [f"license {application['id']} is revoked"]
    # and it stays revoked
    before = await fingerprint(db)
    error(await client.put(f"{url}/revoke", json=reason, headers=creator.auth), 409, "CONFLICT")
    error(await client.put(f"{url}/approve", headers=creator.auth), 409, "CONFLICT")
    assert await fingerprint(db) == before


async def test_rejecting_an_application(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    application = await rights.license(maker, creator, asset["id"], terms["id"], approve=False)
    url = f"/v1/licenses/{application['id']}"
    rejected = await rights.ok(
        await client.put(f"{url}/reject", json={"reason": "Wrong audience"}, headers=creator.auth)
    )
    assert rejected["status"] == "rejected"
    assert rejected["rejectionReason"] == "Wrong audience"
    assert rejected["expiresAt"] is None and rejected["terms"] is None
    [event] = await events(db, "license.rejected")
    assert event == {
        "license_id": application["id"],
        "applicant_id": str(maker.id),
        "rejected_by": str(creator.id),
        "reason": "Wrong audience",
    }
    [audit] = await audits(db, "license.rejected", application["id"])
    assert audit.user_id == creator.id
    before = await fingerprint(db)
    error(await client.put(f"{url}/approve", headers=creator.auth), 409, "CONFLICT")
    error(
        await client.put(f"{url}/reject", json={"reason": "Again"}, headers=creator.auth),
        409,
        "CONFLICT",
    )
    assert await fingerprint(db) == before
    assert await events(db, "license.approved") == []


async def test_administrators_decide_through_their_routes(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given two pending applications
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    admin = await rights.reviewer()
    moderator = await create_admin(client, db, level="moderator")
    asset = await rights.asset(creator, title="Moonlit Fox")
    t1 = await rights.terms(creator, asset["id"], territory=["US"], duration="P90D")
    t2 = await rights.terms(creator, asset["id"], licenseType="premium", revenueSharePercentage=15)
    first = await rights.license(maker, creator, asset["id"], t1["id"], approve=False)
    second = await rights.license(maker, creator, asset["id"], t2["id"], approve=False)
    # then administrators see both in the queue, oldest first, with names
    response = await client.get("/v1/admin/licenses/pending", headers=admin.auth)
    queue = listing(response)
    assert ids(queue) == [first["id"], second["id"]]
    assert response.json()["pagination"]["total"] == 2
    assert queue[0] | {"createdAt": None} == {
        "id": first["id"],
        "ipTitle": "Moonlit Fox",
        "ipAssetId": asset["id"],
        "licensee": maker.username,
        "licensor": creator.username,
        "status": "pending",
        "licenseType": "standard",
        "shareRate": 10.0,
        "revenue": 0.0,
        "products": 0,
        "createdAt": None,
        "territory": "US",
        "duration": "P90D",
    }
    assert queue[1]["licenseType"] == "premium" and queue[1]["shareRate"] == 15.0
    # the queue and the admin decisions are for license administrators only
    before = await fingerprint(db)
    for who in (creator, maker, moderator):
        error(await client.get("/v1/admin/licenses/pending", headers=who.auth), 403, "FORBIDDEN")
        error(
            await client.put(f"/v1/admin/licenses/{first['id']}/approve", headers=who.auth),
            403,
            "FORBIDDEN",
        )
    error(await client.get("/v1/admin/licenses/pending"), 401, "UNAUTHORIZED")
    error(
        await client.put(f"/v1/admin/licenses/{second['id']}/reject", json={}, headers=admin.auth),
        422,
        "VALIDATION_ERROR",
    )
    error(
        await client.put(f"/v1/admin/licenses/{NOWHERE}/approve", headers=admin.auth),
        404,
        "NOT_FOUND",
    )
    assert await fingerprint(db) == before

    # when an administrator approves one and rejects the other
    approved = await rights.ok(
        await client.put(f"/v1/admin/licenses/{first['id']}/approve", headers=admin.auth)
    )
    assert approved["status"] == "approved"
    assert approved["approvedBy"] == str(admin.id)
    rejected = await rights.ok(
        await client.put(
            f"/v1/admin/licenses/{second['id']}/reject",
            json={"reason": "Fails our content policy"},
            headers=admin.auth,
        )
    )
    assert rejected["status"] == "rejected"
    [audit] = await audits(db, "license.rejected", second["id"])
    assert audit.user_id == admin.id
    # then the queue is empty
    assert listing(await client.get("/v1/admin/licenses/pending", headers=admin.auth)) == []
    # and the administrator may revoke the license
    error(
        await client.put(f"/v1/admin/licenses/{first['id']}/revoke", json={}, headers=admin.auth),
        422,
        "VALIDATION_ERROR",
    )
    revoked = await rights.ok(
        await client.put(
            f"/v1/admin/licenses/{first['id']}/revoke",
            json={"reason": "Court order"},
            headers=admin.auth,
        )
    )
    assert revoked["status"] == "revoked"
    [event] = await events(db, "license.revoked")
    assert event["revoked_by"] == str(admin.id)
    [cascade] = await events(db, "authorization.revoked")
    assert cascade["license_ids"] == [first["id"]]
    assert cascade["cause"] == "revoked"
    error(
        await client.put(
            f"/v1/admin/licenses/{first['id']}/revoke",
            json={"reason": "Court order"},
            headers=admin.auth,
        ),
        409,
        "CONFLICT",
    )


async def test_auto_approve_terms_approve_at_once(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"], autoApprove=True, duration="P2W")
    assert terms["autoApprove"] is True
    # when a maker applies, the license is granted by nobody, at once
    license_ = await rights.ok(await apply(client, maker, asset["id"], terms["id"]), 201)
    assert license_["status"] == "approved"
    assert license_["approvedBy"] is None
    assert at(license_["expiresAt"]) == at(license_["approvedAt"]) + timedelta(days=14)
    assert license_["terms"]["duration"] == "P14D"
    assert [e["license_id"] for e in await events(db, "license.applied")] == [license_["id"]]
    [approved] = await events(db, "license.approved")
    assert approved["license_id"] == license_["id"] and approved["approved_by"] is None
    [audit] = await audits(db, "license.approved", license_["id"])
    assert audit.user_id is None
    check = await rights.ok(await client.get(f"/v1/licenses/{license_['id']}/verify"))
    assert check["valid"] is True


async def test_the_license_keeps_its_terms_when_they_change(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given an approved license
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"], revenueSharePercentage=10, territory="US")
    license_ = await rights.license(maker, creator, asset["id"], terms["id"])
    snapshot = license_["terms"]
    # when the owner changes the terms
    v2 = await rights.ok(
        await client.put(
            f"/v1/ip-assets/{asset['id']}/licenses/{terms['id']}",
            json={"revenueSharePercentage": 30, "territory": "WORLDWIDE", "duration": "P2Y"},
            headers=creator.auth,
        )
    )
    assert v2["version"] == 2
    # then the license still grants what was approved
    [listed] = listing(await client.get("/v1/licenses/applications", headers=maker.auth))
    assert listed["terms"] == snapshot
    assert listed["terms"]["revenueSharePercentage"] == "10.00"
    assert listed["terms"]["territory"] == "US"
    assert listed["expiresAt"] == license_["expiresAt"]
    async with db.sessionmaker() as session:
        row = await session.get(LicenseApplication, license_["id"])
        assert row is not None and row.terms_snapshot == snapshot
        assert str(row.license_terms_id) == terms["id"]


async def test_the_applicant_withdraws_a_pending_application(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a pending application under free terms
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    application = await rights.license(maker, creator, asset["id"], terms["id"], approve=False)
    path = f"/v1/licenses/{application['id']}/withdraw"
    # an administrator cannot withdraw it for the applicant
    admin = await create_admin(client, db, level="super_admin")
    before = await fingerprint(db)
    error(await client.put(path, headers=admin.auth), 404, "NOT_FOUND")
    error(await client.put(path, headers=creator.auth), 403, "FORBIDDEN")
    error(
        await client.put(f"/v1/licenses/{NOWHERE}/withdraw", headers=maker.auth),
        404,
        "NOT_FOUND",
    )
    assert await fingerprint(db) == before
    # when the applicant withdraws it
    withdrawn = await rights.ok(await client.put(path, headers=maker.auth))
    # then it is closed as rejected, with the reason, audited, and nobody is notified
    assert withdrawn["status"] == "rejected"
    assert withdrawn["rejectionReason"] == "Withdrawn by the applicant"
    assert withdrawn["feeStatus"] == "none"
    [audit] = await audits(db, "license.withdrawn", application["id"])
    assert audit.user_id == maker.id
    assert audit.new_values == {"status": "rejected", "reason": "Withdrawn by the applicant"}
    assert await events(db, "license.rejected") == []
    # and it cannot be withdrawn twice, nor approved now
    again = error(await client.put(path, headers=maker.auth), 409, "CONFLICT")
    assert again["details"] == {"status": "rejected"}
    error(
        await client.put(f"/v1/licenses/{application['id']}/approve", headers=creator.auth),
        409,
        "CONFLICT",
    )
    # and the maker may apply for the same terms again
    await rights.ok(await apply(client, maker, asset["id"], terms["id"]), 201)
