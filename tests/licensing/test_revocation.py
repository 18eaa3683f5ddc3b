"""Revocation cascades at once: the license's products and the derivatives made under it are
suspended, with their licenses and products, to any depth; nothing above is touched."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from ipmarket.ip_assets import IPAsset
from ipmarket.kit.db import Database
from ipmarket.licensing import LicenseApplication
from ipmarket.products.models import Product
from ipmarket.provenance import AuthorizationChain
from tests.licensing.support import apply, audits, error, events, fingerprint, ids, listing
from tests.rights import Rights


async def _state(db: Database, world: dict[str, Any]) -> dict[str, str]:
    """Status of each license, asset and product of the world, by its name."""
    async with db.sessionmaker() as session:
        state: dict[str, str] = {}
        for name in ("l1", "l2", "l3"):
            row = await session.get(LicenseApplication, world[name]["id"])
            assert row is not None
            state[name] = row.status
        for name in ("a", "d1", "d2"):
            asset = await session.get(IPAsset, world[name]["id"])
            assert asset is not None
            state[name] = asset.status
        for name in ("p1", "p2", "p3"):
            product = await session.get(Product, world[name]["id"])
            assert product is not None
            state[name] = product.status
            assert product.authenticity_verified is (product.status != "suspended")
    return state


async def _active_records(db: Database) -> set[str]:
    """License ids of the authorization-chain records still active."""
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(AuthorizationChain.license_id).where(AuthorizationChain.is_active.is_(True))
        )
        return {str(r) for r in rows.scalars()}


async def test_revocation_cascades_down_and_never_up(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given A → L1 → D1 → L2 → D2 → L3, with a product under each license
    rights = Rights(client, db)
    world = await rights.chain_of_three()
    creator, s1, s2, s3 = world["creator"], world["s1"], world["s2"], world["s3"]
    d1_terms = listing(await client.get(f"/v1/ip-assets/{world['d1']['id']}/licenses"))
    l1, l2, l3 = world["l1"]["id"], world["l2"]["id"], world["l3"]["id"]
    assert await _active_records(db) == {l1, l2, l3}

    async def authentic(name: str) -> bool:
        answer = (await client.get(f"/v1/products/{world[name]['id']}/verify")).json()["data"]
        return bool(answer["authentic"])

    assert [await authentic(p) for p in ("p1", "p2", "p3")] == [True, True, True]

    # when an administrator revokes the leaf license L3
    admin = await rights.reviewer()
    await rights.ok(
        await client.put(
            f"/v1/admin/licenses/{l3}/revoke",
            json={"reason": "Counterfeit tote bags"},
            headers=admin.auth,
        )
    )
    # then only its product is affected
    assert await _state(db, world) == {
        "l1": "approved",
        "l2": "approved",
        "l3": "revoked",
        "a": "active",
        "d1": "active",
        "d2": "active",
        "p1": "active",
        "p2": "active",
        "p3": "suspended",
    }
    assert [await authentic(p) for p in ("p1", "p2", "p3")] == [True, True, False]
    [leaf] = await events(db, "authorization.revoked")
    assert leaf == {
        "license_ids": [l3],
        "derivative_asset_ids": [],
        "cause": "revoked",
        "root_license_id": l3,
    }

    # when the creator revokes the root license L1
    revoked = await rights.ok(
        await client.put(
            f"/v1/licenses/{l1}/revoke", json={"reason": "Breach of terms"}, headers=creator.auth
        )
    )
    assert revoked["status"] == "revoked"
    # then every derivative below it is suspended, with every product, and the chain records
    # that rest on L1 and L2 are inactive
    assert await _state(db, world) == {
        "l1": "revoked",
        "l2": "approved",
        "l3": "revoked",
        "a": "active",
        "d1": "suspended",
        "d2": "suspended",
        "p1": "suspended",
        "p2": "suspended",
        "p3": "suspended",
    }
    assert await _active_records(db) == set()
    async with db.sessionmaker() as session:
        d1 = await session.get(IPAsset, world["d1"]["id"])
        assert d1 is not None and d1.status_reason == f"license {l1} was revoked"
    # announced once for the license and once for the cascade
    assert [e["license_id"] for e in await events(db, "license.revoked")] == [l3, l1]
    [_, root] = await events(db, "authorization.revoked")
    assert root == {
        "license_ids": sorted([l1, l2]),
        "derivative_asset_ids": [world["d1"]["id"], world["d2"]["id"]],
        "cause": "revoked",
        "root_license_id": l1,
    }
    [audit] = await audits(db, "license.revoked", l1)
    assert audit.user_id == creator.id
    assert audit.old_values == {"status": "approved"}
    # and the public sees it at once: nothing is authentic or listed, only A is browsable
    assert [await authentic(p) for p in ("p1", "p2", "p3")] == [False, False, False]
    assert listing(await client.get("/v1/products")) == []
    assert ids(listing(await client.get("/v1/ip-assets"))) == [world["a"]["id"]]
    check = await rights.ok(await client.get(f"/v1/licenses/{l2}/verify"))
    assert check["valid"] is False
    assert check["status"] == "approved"
    assert f"license {l1} is revoked" in check["reasons"]
    assert f"IP asset {world['d1']['id']} is suspended" in check["reasons"]
    # the licensees can no longer build on their licenses
    for holder, license_id in ((s1, l1), (s2, l2)):
        error(
            await client.post(
                "/v1/products",
                json={
                    "licenseId": license_id,
                    "title": "One more mug",
                    "description": "After the revocation.",
                    "category": "merchandise",
                    "price": 5,
                    "inventoryCount": 1,
                },
                headers=holder.auth,
            ),
            409,
            "LICENSE_EXPIRED",
        )
    error(
        await client.post(
            "/v1/ip-assets",
            json={
                "title": "Another tale",
                "description": "Under a revoked license.",
                "category": "stories",
                "contentType": "text",
                "parentLicenseId": l1,
            },
            headers=s1.auth,
        ),
        422,
        "VALIDATION_ERROR",
    )
    # the suspended derivative can be neither licensed nor changed, and stays as it was
    d1_id = world["d1"]["id"]
    before = await fingerprint(db)
    error(await apply(client, s3, d1_id, d1_terms[0]["id"]), 404, "NOT_FOUND")
    error(
        await client.put(f"/v1/ip-assets/{d1_id}", json={"title": "Fresh"}, headers=s1.auth),
        409,
        "CONFLICT",
    )
    error(await client.post(f"/v1/ip-assets/{d1_id}/verify", headers=s1.auth), 409, "CONFLICT")
    error(
        await client.post(
            f"/v1/ip-assets/{d1_id}/licenses",
            json={
                "licenseType": "standard",
                "revenueSharePercentage": 1,
                "territory": "WORLDWIDE",
                "duration": "P1Y",
            },
            headers=s1.auth,
        ),
        409,
        "CONFLICT",
    )
    error(
        await client.put(
            f"/v1/ip-assets/{d1_id}/licenses/{d1_terms[0]['id']}",
            json={"revenueSharePercentage": 1},
            headers=s1.auth,
        ),
        409,
        "CONFLICT",
    )
    assert await fingerprint(db) == before
    # while the original asset is untouched
    assert (await rights.ok(await client.get(f"/v1/ip-assets/{world['a']['id']}")))[
        "verificationStatus"
    ] == "approved"
