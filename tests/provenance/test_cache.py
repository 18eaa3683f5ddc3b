"""Cached verification answers: served without touching the database, and never outliving a
change up the chain (revocation, expiry, suspension, unpublishing, deletion, an asset that
stops being licensable, a new title)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text

from ipmarket import provenance
from ipmarket.kit.cache import MemoryCache, RedisCache
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database, commit, discard_after_commit
from ipmarket.kit.hooks import dispatch
from ipmarket.licensing import AuthorizationWithdrawn, LicenseStatus
from ipmarket.licensing.service import expire_due
from ipmarket.provenance.cache import ANSWER_TTL_SECONDS, EPOCH_KEY
from tests.conftest import REDIS_URL
from tests.products.support import open_shop
from tests.provenance.support import (
    app_engine,
    derivative_product,
    listed_ids,
    product_row,
    statements,
    verify,
)
from tests.rights import Rights


def both_paths(product: dict[str, Any]) -> tuple[str, str]:
    """A product's two verification URLs: by id and by code."""
    return (f"/v1/products/{product['id']}/verify", f"/v1/verify/{product['verificationCode']}")


async def answer_and_statements(
    app: FastAPI, client: httpx.AsyncClient, path: str
) -> tuple[dict[str, Any], list[str]]:
    with statements(app_engine(app)) as seen:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()["data"]
    return answer, seen


async def cached_authentic(
    app: FastAPI, client: httpx.AsyncClient, product: dict[str, Any]
) -> None:
    """Verify by product and by code twice; the second answers come from the cache."""
    for path in both_paths(product):
        first, queried = await answer_and_statements(app, client, path)
        assert first["authentic"] is True, first
        assert any("authorization_chain" in s for s in queried)
        second, requeried = await answer_and_statements(app, client, path)
        assert second == first
        assert requeried == [], requeried  # not one statement: the answer was cached


async def test_answers_are_served_from_the_cache(
    app: FastAPI, client: httpx.AsyncClient, db: Database, redis_prefix: str
) -> None:
    shop = await open_shop(client, db)
    product = await shop.product()
    await cached_authentic(app, client, product)
    # in Redis, under this test's prefix, for a while only
    redis = Redis.from_url(REDIS_URL)
    try:
        for key in (
            # the API's answers carry their evidence, and are cached with it
            f"verify:product:{product['id']}:evidence",
            f"verify:code:{product['verificationCode']}:evidence",
        ):
            assert 0 < await redis.ttl(redis_prefix + key) <= ANSWER_TTL_SECONDS
    finally:
        await redis.aclose()
    # and an unknown code is not cached as anything: it stays a 404
    code = uuid.uuid4().hex
    for _ in range(2):
        assert (await client.get(f"/v1/verify/{code}")).status_code == 404


async def test_a_revocation_changes_the_answer_at_once(
    app: FastAPI, client: httpx.AsyncClient, db: Database, verification_cache: RedisCache
) -> None:
    shop = await open_shop(client, db)
    product = await shop.product()
    await cached_authentic(app, client, product)
    epoch = await verification_cache.get(EPOCH_KEY)
    revoked = await client.put(
        f"/v1/licenses/{shop.license['id']}/revoke",
        json={"reason": "Breach"},
        headers=shop.creator.auth,
    )
    assert revoked.status_code == 200
    assert await verification_cache.get(EPOCH_KEY) != epoch
    for path in both_paths(product):
        answer, queried = await answer_and_statements(app, client, path)
        assert queried, "answered from a stale cache"
        assert answer["authentic"] is False
        assert answer["chain"][0]["license"]["status"] == "revoked"
        assert f"license {shop.license['id']} is revoked" in answer["reasons"]


async def test_an_expiry_changes_the_answer_at_once(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    # given, 40 days ago, a product under a 30-day license, verified and cached a day before
    # the license expires
    clock.freeze(datetime.now(UTC) - timedelta(days=40))
    shop = await open_shop(client, db, duration="P30D")
    product = await shop.product()
    expires = datetime.fromisoformat(shop.license["expiresAt"])
    clock.freeze(expires - timedelta(days=1))
    await cached_authentic(app, client, product)
    # when the clock passes the expiry, before any job has marked the license expired
    clock.freeze(expires + timedelta(seconds=1))
    # then the cached answer is not served: the license is expired
    for path in both_paths(product):
        answer, _ = await answer_and_statements(app, client, path)
        assert answer["authentic"] is False, answer
        assert answer["chain"][0]["license"]["status"] == "expired"
        assert f"license {shop.license['id']} is expired" in answer["reasons"]
    # and when the job marks it expired, the product is suspended and the answer agrees
    async with db.transaction() as session:
        assert await expire_due(session) == 1
    assert (await product_row(db, product["id"])).status == "suspended"
    answer = await verify(client, product["id"])
    assert answer["authentic"] is False
    assert answer["chain"][0]["license"]["status"] == LicenseStatus.EXPIRED
    assert "the product is suspended" in answer["reasons"]


async def test_a_product_suspension_changes_the_answer_at_once(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    shop = await open_shop(client, db)
    product = await shop.product()
    await cached_authentic(app, client, product)
    # when licensing tells products, in a transaction, that the license stopped authorising
    async with db.transaction() as session:
        await dispatch(
            session,
            AuthorizationWithdrawn(
                license_ids=frozenset({uuid.UUID(shop.license["id"])}), reason="license revoked"
            ),
        )
    # then the product is suspended and its cached answer is gone
    assert (await product_row(db, product["id"])).status == "suspended"
    answer = await verify(client, product["id"])
    assert answer["authentic"] is False
    assert answer["reasons"] == ["the product is suspended"]


async def test_unpublishing_and_deleting_change_the_answer_at_once(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    shop = await open_shop(client, db)
    product = await shop.product()
    await cached_authentic(app, client, product)
    # unpublished
    assert (await shop.put(product["id"], shop.seller, status="draft")).status_code == 200
    assert (await verify(client, product["id"]))["reasons"] == ["the product is draft"]
    # published again, and cached again
    assert (await shop.put(product["id"], shop.seller, status="active")).status_code == 200
    await cached_authentic(app, client, product)
    # deleted
    assert (
        await client.delete(f"/v1/products/{product['id']}", headers=shop.seller.auth)
    ).status_code == 200
    by_code = (await client.get(f"/v1/verify/{product['verificationCode']}")).json()["data"]
    assert by_code["reasons"] == ["the product was withdrawn by its seller"]


async def test_a_new_title_shows_at_once(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    shop = await open_shop(client, db)
    product = await shop.product(title="Fox mug")
    await cached_authentic(app, client, product)
    renamed = await shop.put(product["id"], shop.seller, title="Moonlit Fox mug, second edition")
    assert renamed.status_code == 200
    for path in both_paths(product):
        answer, _ = await answer_and_statements(app, client, path)
        assert answer["product"]["title"] == "Moonlit Fox mug, second edition"
        assert answer["authentic"] is True
    # while a change verification does not show (the price) leaves the cached answers alone
    assert (await shop.put(product["id"], shop.seller, price=25)).status_code == 200
    for path in both_paths(product):
        answer, queried = await answer_and_statements(app, client, path)
        assert queried == []
        assert answer["product"]["title"] == "Moonlit Fox mug, second edition"


async def test_an_asset_suspended_up_the_chain_changes_the_answer_at_once(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    # given a product under a license of a derivative asset D1, its answer cached
    world = await derivative_product(Rights(client, db))
    await cached_authentic(app, client, world["p"])
    # when the license D1 was made under is revoked, D1 is suspended
    revoked = await client.put(
        f"/v1/licenses/{world['l1']['id']}/revoke",
        json={"reason": "Breach"},
        headers=world["creator"].auth,
    )
    assert revoked.status_code == 200
    # then the product's answer names the suspended asset at once
    answer = await verify(client, world["p"]["id"])
    assert answer["authentic"] is False
    assert f"IP asset {world['d1']['id']} is suspended" in answer["reasons"]
    assert [link["active"] for link in answer["chain"]] == [False, False]


async def test_a_licensed_asset_cannot_leave_review_under_its_products(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    # given a product under a license of a derivative asset D1, its answer cached
    world = await derivative_product(Rights(client, db))
    await cached_authentic(app, client, world["p"])
    # when the owner of the original asset A tries a material edit
    edited = await client.put(
        f"/v1/ip-assets/{world['a']['id']}",
        json={"description": "Redrawn from scratch."},
        headers=world["creator"].auth,
    )
    # then it is refused: what was licensed stays as it was, and so does the answer
    assert edited.status_code == 409
    assert edited.json()["error"]["details"]["rule"] == "licensed_content_is_fixed"
    answer = await verify(client, world["p"]["id"])
    assert answer["authentic"] is True


async def test_the_in_process_cache_is_invalidated_the_same_way(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    # without Redis, answers are cached in the process
    provenance.configure_verification_cache(MemoryCache())
    shop = await open_shop(client, db)
    product = await shop.product()
    await cached_authentic(app, client, product)
    revoked = await client.put(
        f"/v1/licenses/{shop.license['id']}/revoke",
        json={"reason": "Breach"},
        headers=shop.creator.auth,
    )
    assert revoked.status_code == 200
    assert (await verify(client, product["id"]))["authentic"] is False


async def test_invalidation_follows_each_commit_of_a_session(
    db: Database, verification_cache: RedisCache
) -> None:
    async def epoch() -> int:
        raw = await verification_cache.get(EPOCH_KEY)
        return int(raw) if raw else 0

    async with db.sessionmaker() as session:
        # a transaction that asks twice invalidates once, after it commits
        await session.execute(text("SELECT 1"))
        provenance.invalidate_after_commit(session)
        provenance.invalidate_after_commit(session)
        assert await epoch() == 0
        await commit(session)
        assert await epoch() == 1
        # a rolled-back transaction does not
        await session.execute(text("SELECT 1"))
        provenance.invalidate_after_commit(session)
        discard_after_commit(session)  # as a request or job does when it fails
        await session.rollback()
        assert await epoch() == 1
        # and the next transaction of the same session invalidates again
        await session.execute(text("SELECT 1"))
        provenance.invalidate_after_commit(session)
        await commit(session)
        assert await epoch() == 2


async def test_an_expiry_up_the_chain_changes_the_answer_at_once(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    # given, 40 days ago, a derivative D1 made under a 30-day license L1, and a product under
    # a one-year license L2 of D1, its answer cached a day before L1 expires
    clock.freeze(datetime.now(UTC) - timedelta(days=40))
    world = await derivative_product(Rights(client, db), l1_duration="P30D")
    product = world["p"]
    expires = datetime.fromisoformat(world["l1"]["expiresAt"])
    assert datetime.fromisoformat(world["l2"]["expiresAt"]) > expires
    clock.freeze(expires - timedelta(days=1))
    await cached_authentic(app, client, product)
    # when the clock passes L1's expiry
    clock.freeze(expires + timedelta(seconds=1))
    # then the product is not authentic, by its upper link
    answer = await verify(client, product["id"])
    assert answer["authentic"] is False
    assert [link["license"]["status"] for link in answer["chain"]] == ["approved", "expired"]
    assert [link["active"] for link in answer["chain"]] == [True, False]
    assert answer["reasons"] == [f"license {world['l1']['id']} is expired"]
    # and once the job has marked L1 expired, the cascade suspends D1 and the product,
    # which leaves the catalogue
    async with db.transaction() as session:
        assert await expire_due(session) == 1
    assert (await product_row(db, product["id"])).status == "suspended"
    assert product["id"] not in await listed_ids(client)
    answer = await verify(client, product["id"])
    assert f"IP asset {world['d1']['id']} is suspended" in answer["reasons"]


async def test_an_expiry_up_the_chain_unlists_at_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    clock.freeze(datetime.now(UTC) - timedelta(days=40))
    world = await derivative_product(Rights(client, db), l1_duration="P30D")
    clock.freeze(datetime.fromisoformat(world["l1"]["expiresAt"]) + timedelta(seconds=1))
    assert world["p"]["id"] not in await listed_ids(client)
