"""License terms: GET/POST /v1/ip-assets/{id}/licenses and PUT .../licenses/{termsId}."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from ipmarket.kit.db import Database
from ipmarket.licensing import LicenseTerms
from tests.licensing.support import audits, error, fields_of, fingerprint, ids, listing
from tests.rights import Rights

TERMS = {
    "licenseType": "standard",
    "revenueSharePercentage": 10,
    "territory": "WORLDWIDE",
    "duration": "P1Y",
}


async def test_terms_are_validated(client: httpx.AsyncClient, db: Database) -> None:
    # given an approved asset
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator)
    url = f"/v1/ip-assets/{asset['id']}/licenses"
    # when the owner publishes terms with any kind of bad value
    bad: list[tuple[dict[str, Any], str]] = [
        ({"territory": "XX"}, "territory"),
        ({"territory": ["US", "ZZ"]}, "territory"),
        ({"territory": "WORLDWIDE,US"}, "territory"),
        ({"territory": ["WORLDWIDE", "FR"]}, "territory"),
        ({"territory": []}, "territory"),
        ({"territory": " , "}, "territory"),
        ({"territory": "USA"}, "territory"),
        ({"duration": "1 year"}, "duration"),
        ({"duration": "P0D"}, "duration"),
        ({"duration": "P"}, "duration"),
        ({"duration": "PT5H"}, "duration"),
        ({"duration": "P-1Y"}, "duration"),
        ({"duration": "P1000Y"}, "duration"),
        ({"duration": "forever"}, "duration"),
        ({"revenueSharePercentage": 100.01}, "revenueSharePercentage"),
        ({"revenueSharePercentage": 150}, "revenueSharePercentage"),
        ({"revenueSharePercentage": -1}, "revenueSharePercentage"),
        ({"revenueSharePercentage": "12.345"}, "revenueSharePercentage"),
        ({"baseFee": -0.01}, "baseFee"),
        ({"baseFee": "1.001"}, "baseFee"),
        ({"licenseType": "gold"}, "licenseType"),
        ({"licenseType": None}, "licenseType"),
        ({"version": 7}, "version"),
    ]
    before = await fingerprint(db)
    for change, field in bad:
        err = error(
            await client.post(url, json={**TERMS, **change}, headers=creator.auth),
            422,
            "VALIDATION_ERROR",
        )
        assert field in fields_of(err), (change, err)
    for missing in ("licenseType", "revenueSharePercentage", "territory", "duration"):
        body = {k: v for k, v in TERMS.items() if k != missing}
        err = error(
            await client.post(url, json=body, headers=creator.auth), 422, "VALIDATION_ERROR"
        )
        assert missing in fields_of(err)
    # then nothing was written
    assert await fingerprint(db) == before


async def test_territories_and_durations_are_normalised(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator)
    good: list[tuple[dict[str, Any], str, str]] = [
        ({"territory": ["us", "ca"]}, "territory", "CA,US"),
        ({"territory": "fr, de ,FR"}, "territory", "DE,FR"),
        ({"territory": "worldwide"}, "territory", "WORLDWIDE"),
        ({"territory": ["GB"]}, "territory", "GB"),
        ({"duration": "P1Y"}, "duration", "P1Y"),
        ({"duration": "P6M"}, "duration", "P6M"),
        ({"duration": "P90D"}, "duration", "P90D"),
        ({"duration": "P2W"}, "duration", "P14D"),
        ({"duration": "p1y6m"}, "duration", "P1Y6M"),
        ({"duration": "perpetual"}, "duration", "PERPETUAL"),
    ]
    for change, field, stored in good:
        terms = await rights.terms(creator, asset["id"], **change)
        assert terms[field] == stored, change
    # money and shares keep two decimals; optional flags have their defaults
    terms = await rights.terms(creator, asset["id"], revenueSharePercentage=12.5, baseFee="49.99")
    assert terms["revenueSharePercentage"] == 12.5
    assert terms["baseFee"] == 49.99
    assert terms["currency"] == "USD"
    assert terms["derivativesAllowed"] is True
    assert terms["autoApprove"] is False
    assert terms["version"] == 1
    assert terms["isCurrent"] is True
    assert terms["lineageId"] == terms["id"]
    edge = await rights.terms(creator, asset["id"], revenueSharePercentage=0, baseFee=0)
    assert edge["revenueSharePercentage"] == 0
    async with db.sessionmaker() as session:
        row = await session.get(LicenseTerms, terms["id"])
        assert row is not None and row.base_fee_minor == 4999
    [audit] = await audits(db, "license_terms.created", terms["id"])
    assert audit.user_id == creator.id
    listed = await rights.ok(await client.get(f"/v1/ip-assets/{asset['id']}/licenses"))
    assert len(listed) == len(good) + 2


async def test_only_the_owner_publishes_terms(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    other_creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    buyer = await rights.user("buyer")
    asset = await rights.asset(creator)
    draft = await rights.asset(creator, approve=False)
    terms = await rights.terms(creator, asset["id"])
    admin = await rights.reviewer()
    url = f"/v1/ip-assets/{asset['id']}/licenses"
    before = await fingerprint(db)
    for who in (other_creator, maker, admin):
        error(await client.post(url, json=TERMS, headers=who.auth), 403, "FORBIDDEN")
        error(
            await client.put(f"{url}/{terms['id']}", json={"duration": "P2Y"}, headers=who.auth),
            403,
            "FORBIDDEN",
        )
    error(await client.post(url, json=TERMS, headers=buyer.auth), 403, "FORBIDDEN")
    error(await client.post(url, json=TERMS), 401, "UNAUTHORIZED")
    error(await client.put(f"{url}/{terms['id']}", json={"duration": "P2Y"}), 401, "UNAUTHORIZED")
    error(
        await client.post(
            "/v1/ip-assets/00000000-0000-0000-0000-000000000000/licenses",
            json=TERMS,
            headers=creator.auth,
        ),
        404,
        "NOT_FOUND",
    )
    # terms of one asset cannot be edited through another
    error(
        await client.put(
            f"/v1/ip-assets/{draft['id']}/licenses/{terms['id']}",
            json={"duration": "P2Y"},
            headers=creator.auth,
        ),
        404,
        "NOT_FOUND",
    )
    assert await fingerprint(db) == before
    # the owner may prepare terms on a draft; only they see them until it is approved
    draft_terms = await rights.terms(creator, draft["id"])
    draft_url = f"/v1/ip-assets/{draft['id']}/licenses"
    error(await client.get(draft_url), 404, "NOT_FOUND")
    error(await client.get(draft_url, headers=other_creator.auth), 404, "NOT_FOUND")
    assert ids(listing(await client.get(draft_url, headers=creator.auth))) == [draft_terms["id"]]
    # the approved asset's terms are public
    assert ids(listing(await client.get(url))) == [terms["id"]]


async def test_editing_terms_makes_a_version_once_referenced(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given terms nobody has applied for
    rights = Rights(client, db)
    creator = await rights.user("creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator)
    url = f"/v1/ip-assets/{asset['id']}/licenses"
    v1 = await rights.terms(creator, asset["id"], revenueSharePercentage=10)
    # when the owner edits them, they change in place
    edited = await rights.ok(
        await client.put(
            f"{url}/{v1['id']}",
            json={"revenueSharePercentage": 8, "territory": ["fr"]},
            headers=creator.auth,
        )
    )
    assert edited["id"] == v1["id"]
    assert edited["version"] == 1
    assert edited["revenueSharePercentage"] == 8
    assert edited["territory"] == "FR"
    [audit] = await audits(db, "license_terms.updated", v1["id"])
    assert audit.old_values is not None and audit.old_values["revenueSharePercentage"] == "10.00"
    assert audit.new_values is not None and audit.new_values["revenueSharePercentage"] == "8.00"
    # bad edits are refused
    error(
        await client.put(f"{url}/{v1['id']}", json={}, headers=creator.auth),
        422,
        "VALIDATION_ERROR",
    )
    error(
        await client.put(f"{url}/{v1['id']}", json={"duration": None}, headers=creator.auth),
        422,
        "VALIDATION_ERROR",
    )
    error(
        await client.put(f"{url}/{v1['id']}", json={"territory": "EU"}, headers=creator.auth),
        422,
        "VALIDATION_ERROR",
    )

    # given someone applied under them
    application = await rights.license(maker, creator, asset["id"], v1["id"], approve=False)
    # when the owner edits them again
    v2 = await rights.ok(
        await client.put(
            f"{url}/{v1['id']}", json={"revenueSharePercentage": 15}, headers=creator.auth
        )
    )
    # then a new version replaces them, and the referenced version is kept, retired
    assert v2["id"] != v1["id"]
    assert v2["version"] == 2
    assert v2["lineageId"] == v1["id"]
    assert v2["isCurrent"] is True
    assert v2["revenueSharePercentage"] == 15
    assert v2["territory"] == "FR"  # unchanged fields carry over
    async with db.sessionmaker() as session:
        rows = {
            str(t.id): t
            for t in (
                await session.execute(
                    select(LicenseTerms).where(LicenseTerms.lineage_id == v1["id"])
                )
            ).scalars()
        }
    assert rows[v1["id"]].is_current is False
    assert rows[v1["id"]].revenue_share_percentage == 8
    assert rows[v2["id"]].is_current is True
    # the public sees the current version only; the owner may ask for the history
    assert ids(listing(await client.get(url))) == [v2["id"]]
    history = listing(await client.get(f"{url}?history=true", headers=creator.auth))
    assert ids(history) == [v1["id"], v2["id"]]
    assert [t["isCurrent"] for t in history] == [False, True]
    assert ids(listing(await client.get(f"{url}?history=true"))) == [v2["id"]]
    assert ids(listing(await client.get(f"{url}?history=true", headers=maker.auth))) == [v2["id"]]
    # retired terms can be neither edited nor applied for
    before = await fingerprint(db)
    error(
        await client.put(f"{url}/{v1['id']}", json={"duration": "P2Y"}, headers=creator.auth),
        409,
        "CONFLICT",
    )
    other_maker = await rights.user("secondary_creator")
    before = await fingerprint(db)
    error(
        await client.post(
            "/v1/licenses/apply",
            json={"ipAssetId": asset["id"], "licenseTermsId": v1["id"]},
            headers=other_maker.auth,
        ),
        409,
        "CONFLICT",
    )
    assert await fingerprint(db) == before
    # the application made under version 1 keeps version 1
    approved = await rights.ok(
        await client.put(f"/v1/licenses/{application['id']}/approve", headers=creator.auth)
    )
    assert approved["licenseTermsId"] == v1["id"]
    assert approved["terms"]["termsId"] == v1["id"]
    assert approved["terms"]["version"] == 1
    assert approved["terms"]["revenueSharePercentage"] == "8.00"
    # and version 2 is open for applications
    fresh = await rights.license(other_maker, creator, asset["id"], v2["id"], approve=False)
    assert fresh["licenseTermsId"] == v2["id"]
