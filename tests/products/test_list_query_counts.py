"""List endpoints issue a fixed number of SQL statements whatever the page size."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from ipmarket import provenance
from ipmarket.ip_assets import IPAsset
from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Database
from ipmarket.products import Product
from tests.provenance.support import app_engine, statements
from tests.rights import Rights
from tests.support import Account

ROWS = 21


async def add_products(db: Database, seller: Account, license_id: str, asset_id: str) -> None:
    """ROWS published products, written directly: the API is not what this test is about."""
    now = utcnow()
    async with db.transaction() as session:
        for i in range(ROWS):
            product = Product(
                id=uuid.uuid4(),
                creator_id=seller.id,
                license_id=uuid.UUID(license_id),
                ip_asset_id=uuid.UUID(asset_id),
                title=f"Lantern mug number {i}",
                description="A ceramic mug with a paper lantern.",
                category="merchandise",
                price_minor=1000 + i,
                currency="USD",
                inventory_count=5,
                image_file_ids=[],
                specifications={},
                status="active",
                published_at=now - timedelta(minutes=i),
            )
            session.add(product)
            await session.flush()
            await provenance.record_product(
                session,
                product_id=product.id,
                asset_id=product.ip_asset_id,
                license_id=product.license_id,
            )


async def test_list_endpoints_run_a_fixed_number_of_statements(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    # given more than a page of everything each list shows
    rights = Rights(client, db)
    creator = await rights.user("creator")
    seller = await rights.user("secondary_creator")
    admin = await rights.reviewer()
    assets = []
    for i in range(ROWS):
        asset = await rights.asset(creator, approve=False, title=f"Lantern world {i}")
        submitted = await client.post(f"/v1/ip-assets/{asset['id']}/verify", headers=creator.auth)
        assert submitted.status_code == 200, submitted.text
        assets.append(asset)
    asset_id = assets[0]["id"]
    # (the first asset approved through the API, the rest directly, once counted as pending)
    await rights.ok(
        await client.put(
            f"/v1/admin/ip-assets/{asset_id}/verify",
            json={"decision": "approved"},
            headers=admin.auth,
        )
    )
    applications = []
    for i in range(ROWS + 1):
        terms = await rights.terms(
            creator, asset_id, revenueSharePercentage=1, requirements=f"Batch {i}"
        )
        applications.append(
            await rights.license(seller, creator, asset_id, terms["id"], approve=False)
        )
    license_ = await rights.ok(
        await client.put(f"/v1/licenses/{applications[0]['id']}/approve", headers=creator.auth)
    )
    await add_products(db, seller, license_["id"], asset_id)

    engine = app_engine(app)

    async def count(path: str, headers: dict[str, str], params: dict[str, Any]) -> list[int]:
        """Statements for limit=1 and limit=20, after one warm-up request."""
        counts = []
        for limit in (20, 1, 20):
            with statements(engine) as seen:
                response = await client.get(
                    path, params={**params, "limit": limit}, headers=headers
                )
            assert response.status_code == 200, (path, response.text)
            body = response.json()
            assert len(body["data"]) == limit, (path, params, body["pagination"])
            assert body["pagination"]["total"] >= 20
            counts.append(len(seen))
        return counts[1:]

    # when each list is read with limit=1 and limit=20
    pending_assets = await count("/v1/admin/ip-assets/pending", admin.auth, {})
    async with db.transaction() as session:
        await session.execute(
            update(IPAsset)
            .where(IPAsset.verification_status == "pending")
            .values(verification_status="approved", reviewed_at=utcnow())
        )
    counts = {
        "admin ip-assets pending": pending_assets,
        "ip-assets": await count("/v1/ip-assets", {}, {}),
        "ip-assets, q": await count("/v1/ip-assets", creator.auth, {"q": "lantern"}),
        "ip-assets, mine": await count("/v1/ip-assets", creator.auth, {"mine": "true"}),
        "applications, applicant": await count("/v1/licenses/applications", seller.auth, {}),
        "applications, licensor": await count(
            "/v1/licenses/applications", creator.auth, {"role": "licensor"}
        ),
        "admin licenses pending": await count("/v1/admin/licenses/pending", admin.auth, {}),
        "products": await count("/v1/products", {}, {}),
        "products, signed in": await count("/v1/products", creator.auth, {}),
        "products, q": await count("/v1/products", {}, {"q": "lanturn mug", "sort": "relevance"}),
        "products, filtered": await count(
            "/v1/products",
            {},
            {"sort": "-price", "minPrice": 1, "ipAssetId": asset_id, "creatorId": str(seller.id)},
        ),
        "products, mine (with codes)": await count("/v1/products", seller.auth, {"mine": "true"}),
    }
    # then each issues as many statements for one row as for twenty
    assert {name: c for name, c in counts.items() if c[0] != c[1]} == {}, counts
    # and a page costs a handful of statements, not one per row
    assert all(c[0] <= 6 for c in counts.values()), counts
