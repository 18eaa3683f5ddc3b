"""Expiry with a frozen clock: a license authorises nothing from approval + duration on,
at once; the periodic job then marks it expired and cascades like a revocation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ipmarket.ip_assets import IPAsset
from ipmarket.kit.cache import MemoryCache
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.licensing import LicenseApplication
from ipmarket.licensing.service import expire_due
from ipmarket.products.models import Product
from ipmarket.provenance import AuthorizationChain, configure_verification_cache
from ipmarket.provenance.cache import verification_cache
from tests.licensing.support import audits, error, events, ids, listing, relogin
from tests.rights import Rights

START = datetime(2024, 1, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def own_verification_cache(app: FastAPI) -> Iterator[None]:
    """A verification cache of this test's own: the shared Redis epoch is bumped by every
    other test run, which could hide a stale answer."""
    shared = verification_cache()
    configure_verification_cache(MemoryCache())
    yield
    configure_verification_cache(shared)


@pytest.mark.usefixtures("own_verification_cache")
async def test_a_license_expires_at_once_and_the_job_cascades(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given, in the past, a six-month license L1 on A with a product, and a perpetual
    # license L2 on the derivative D1 made under L1, with its own product
    clock.freeze(START)
    rights = Rights(client, db)
    creator = await rights.user("creator")
    s1 = await rights.user("secondary_creator")
    s2 = await rights.user("secondary_creator")
    a = await rights.asset(creator)
    t1 = await rights.terms(creator, a["id"], duration="P6M")
    l1 = await rights.license(s1, creator, a["id"], t1["id"])
    assert datetime.fromisoformat(l1["expiresAt"]) == datetime(2024, 7, 10, 8, 0, tzinfo=UTC)
    d1 = await rights.asset(s1, parent_license_id=l1["id"])
    t2 = await rights.terms(s1, d1["id"], duration="PERPETUAL")
    l2 = await rights.license(s2, s1, d1["id"], t2["id"])
    assert l2["expiresAt"] is None
    p1 = await rights.product(s1, l1["id"])
    p2 = await rights.product(s2, l2["id"])

    async def authentic(product_id: str) -> bool:
        answer = (await client.get(f"/v1/products/{product_id}/verify")).json()["data"]
        return bool(answer["authentic"])

    async def valid(license_id: str) -> dict[str, object]:
        return await rights.ok(await client.get(f"/v1/licenses/{license_id}/verify"))

    async def listed() -> list[str]:
        return ids(listing(await client.get("/v1/products", params={"limit": 100})))

    # the products verify as authentic (and the answers are cached, for five minutes)
    assert await authentic(p1["id"]) and await authentic(p2["id"])
    # a second before the end, everything still holds
    clock.freeze(datetime(2024, 7, 10, 7, 59, 59, tzinfo=UTC))
    assert (await valid(l1["id"]))["valid"] is True
    assert (await valid(l2["id"]))["valid"] is True
    assert set(await listed()) == {p1["id"], p2["id"]}

    # when the clock reaches the expiry, before any job has run
    clock.freeze(datetime(2024, 7, 10, 8, 0, tzinfo=UTC))
    # then L1 is expired, and so is everything resting on it
    check = await valid(l1["id"])
    assert check["valid"] is False
    assert check["status"] == "expired"
    assert check["reasons"] == [f"license {l1['id']} expired at 2024-07-10T08:00:00+00:00"]
    below = await valid(l2["id"])
    assert below["valid"] is False
    assert below["status"] == "approved"
    assert below["reasons"] == check["reasons"]
    assert not await authentic(p1["id"])
    assert not await authentic(p2["id"])
    assert p1["id"] not in await listed()
    async with db.sessionmaker() as session:
        row = await session.get(LicenseApplication, l1["id"])
        assert row is not None and row.status == "approved"  # the job has not run yet

    # when the expiry job runs
    async with db.transaction() as session:
        assert await expire_due(session) == 1
    # then L1 is marked expired, its products and derivatives suspended, chain records off
    async with db.sessionmaker() as session:
        l1_row = await session.get(LicenseApplication, l1["id"])
        l2_row = await session.get(LicenseApplication, l2["id"])
        assert l1_row is not None and l1_row.status == "expired"
        assert l2_row is not None and l2_row.status == "approved"
        products = {
            str(p.id): p
            for p in (
                await session.execute(select(Product).where(Product.id.in_([p1["id"], p2["id"]])))
            ).scalars()
        }
        assert {p.status for p in products.values()} == {"suspended"}
        assert not any(p.authenticity_verified for p in products.values())
        d1_row = await session.get(IPAsset, d1["id"])
        a_row = await session.get(IPAsset, a["id"])
        assert d1_row is not None and d1_row.status == "suspended"
        assert a_row is not None and a_row.status == "active"
        records = (
            await session.execute(
                select(AuthorizationChain).where(
                    AuthorizationChain.license_id.in_([l1["id"], l2["id"]])
                )
            )
        ).scalars()
        assert [r.is_active for r in records] == [False, False, False]
    [event] = await events(db, "authorization.revoked")
    assert event == {
        "license_ids": sorted([l1["id"], l2["id"]]),
        "derivative_asset_ids": [d1["id"]],
        "cause": "expired",
        "root_license_id": l1["id"],
    }
    [audit] = await audits(db, "license.expired", l1["id"])
    assert audit.user_id is None
    assert audit.new_values == {"status": "expired"}
    assert await listed() == []
    assert (await valid(l1["id"]))["status"] == "expired"
    # the job is done: a second run finds nothing
    async with db.transaction() as session:
        assert await expire_due(session) == 0
    assert len(await events(db, "authorization.revoked")) == 1
    # and the expired license cannot be used for a new product
    s1 = await relogin(client, s1)
    error(
        await client.post(
            "/v1/products",
            json={
                "licenseId": l1["id"],
                "title": "Late mug",
                "description": "Too late.",
                "category": "merchandise",
                "price": 9.99,
                "inventoryCount": 1,
            },
            headers=s1.auth,
        ),
        409,
        "LICENSE_EXPIRED",
    )
