"""Exclusivity by territory: an exclusive license and any other license of the same asset
may not both be approved and unexpired over overlapping territories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from tests.licensing.support import apply, error, fingerprint, relogin
from tests.rights import Rights
from tests.support import Account


async def _approve(client: httpx.AsyncClient, who: Account, license_id: str) -> httpx.Response:
    return await client.put(f"/v1/licenses/{license_id}/approve", headers=who.auth)


async def test_an_exclusive_license_blocks_overlapping_territories(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given an exclusive license for the US
    rights = Rights(client, db)
    creator = await rights.user("creator")
    holder = await rights.user("secondary_creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator)
    admin = await rights.reviewer()

    async def terms(**fields: Any) -> str:
        return str((await rights.terms(creator, asset["id"], **fields))["id"])

    exclusive_us = await rights.license(
        holder, creator, asset["id"], await terms(licenseType="exclusive", territory=["US"])
    )
    assert exclusive_us["status"] == "approved"
    # and applications of another maker covering the US, the world, and France
    us = await rights.license(
        maker, creator, asset["id"], await terms(territory="US"), approve=False
    )
    world = await rights.license(
        maker, creator, asset["id"], await terms(territory="WORLDWIDE"), approve=False
    )
    north_america = await rights.license(
        maker,
        creator,
        asset["id"],
        await terms(licenseType="exclusive", territory=["CA", "US"]),
        approve=False,
    )
    france = await rights.license(
        maker, creator, asset["id"], await terms(territory="FR"), approve=False
    )
    # when the licensor (or an administrator) approves those overlapping the US, they are refused
    before = await fingerprint(db)
    for blocked in (us, world, north_america):
        err = error(await _approve(client, creator, blocked["id"]), 409, "CONFLICT")
        assert err["details"] == {"rule": "exclusivity"}
    err = error(
        await client.put(f"/v1/admin/licenses/{us['id']}/approve", headers=admin.auth),
        409,
        "CONFLICT",
    )
    assert "exclusive" in err["message"]
    # and nothing changed
    assert await fingerprint(db) == before
    # while France does not overlap
    assert (await rights.ok(await _approve(client, creator, france["id"])))["status"] == "approved"
    # auto-approving terms that overlap leave the application waiting for the licensor
    waiting = await rights.ok(
        await apply(
            client, maker, asset["id"], await terms(territory=["MX", "us"], autoApprove=True)
        ),
        201,
    )
    assert waiting["status"] == "pending"
    assert waiting["expiresAt"] is None
    # once the exclusive license is revoked, the US can be licensed again
    await rights.ok(
        await client.put(
            f"/v1/licenses/{exclusive_us['id']}/revoke",
            json={"reason": "Exclusive deal ended"},
            headers=creator.auth,
        )
    )
    assert (await rights.ok(await _approve(client, creator, us["id"])))["status"] == "approved"
    assert (await rights.ok(await _approve(client, creator, waiting["id"])))["status"] == "approved"


async def test_a_worldwide_license_blocks_an_exclusive_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a standard worldwide license
    rights = Rights(client, db)
    creator = await rights.user("creator")
    holder = await rights.user("secondary_creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator)

    async def terms(**fields: Any) -> str:
        return str((await rights.terms(creator, asset["id"], **fields))["id"])

    worldwide = await rights.license(
        holder, creator, asset["id"], await terms(territory="WORLDWIDE")
    )
    exclusive_fr = await rights.license(
        maker,
        creator,
        asset["id"],
        await terms(licenseType="exclusive", territory="FR"),
        approve=False,
    )
    exclusive_de = await rights.license(
        maker,
        creator,
        asset["id"],
        await terms(licenseType="exclusive", territory="DE"),
        approve=False,
    )
    # then no exclusive license can be approved anywhere
    before = await fingerprint(db)
    for blocked in (exclusive_fr, exclusive_de):
        err = error(await _approve(client, creator, blocked["id"]), 409, "CONFLICT")
        assert err["details"] == {"rule": "exclusivity"}
    assert await fingerprint(db) == before
    # while standard licenses do not exclude each other
    standard_fr = await rights.license(maker, creator, asset["id"], await terms(territory="FR"))
    assert standard_fr["status"] == "approved"
    # when the worldwide license is revoked, France is still held by the standard license
    await rights.ok(
        await client.put(
            f"/v1/licenses/{worldwide['id']}/revoke",
            json={"reason": "Ended"},
            headers=creator.auth,
        )
    )
    error(await _approve(client, creator, exclusive_fr["id"]), 409, "CONFLICT")
    # but Germany is free
    assert (await rights.ok(await _approve(client, creator, exclusive_de["id"])))[
        "status"
    ] == "approved"


async def test_expired_licenses_do_not_block(client: httpx.AsyncClient, db: Database) -> None:
    # given a one-month exclusive license for the US, granted in the past
    clock.freeze(datetime(2024, 3, 1, 12, 0, tzinfo=UTC))
    rights = Rights(client, db)
    creator = await rights.user("creator")
    holder = await rights.user("secondary_creator")
    maker = await rights.user("secondary_creator")
    asset = await rights.asset(creator)
    exclusive = await rights.terms(
        creator, asset["id"], licenseType="exclusive", territory="US", duration="P1M"
    )
    standard = await rights.terms(creator, asset["id"], territory="US")
    await rights.license(holder, creator, asset["id"], exclusive["id"])
    pending = await rights.license(maker, creator, asset["id"], standard["id"], approve=False)
    error(await _approve(client, creator, pending["id"]), 409, "CONFLICT")
    # when the month has passed (before any job marks it expired)
    clock.advance(timedelta(days=31, seconds=1))
    creator = await relogin(client, creator)
    # then the US is free again
    approved = await rights.ok(await _approve(client, creator, pending["id"]))
    assert approved["status"] == "approved"
