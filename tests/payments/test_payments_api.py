"""The payment API beyond the purchase: refunds (full, partial, replayed, refused), balances,
payouts, history, the administrators' transactions, and the Idempotency-Key semantics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ipmarket.audit.models import AuditLog
from ipmarket.kit.clock import clock, utcnow
from ipmarket.kit.db import Database
from ipmarket.kit.idempotency import IdempotencyKey, purge_expired_keys, request_hash
from ipmarket.payments.ledger import platform_revenue_minor
from ipmarket.payments.models import Payout, Refund
from ipmarket.payments.providers import ProviderError
from tests.payments.shop import START, Shop, error_of, freeze, key
from tests.provenance.support import app_engine, statements
from tests.support import Account, create_admin


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


async def three_level_sale(shop: Shop) -> tuple[dict[str, Any], dict[str, Any], Account]:
    """The chain of three and a completed sale of 9.99 of S3's product: (chain, sale, buyer)."""
    chain = await shop.rights.chain_of_three()
    product = await shop.rights.product(chain["s3"], chain["l3"]["id"], price=3.33)
    buyer = await shop.buyer()
    sale = await shop.bought(buyer, product["id"], quantity=3)
    return chain, sale, buyer


async def pending_of(shop: Shop, accounts: list[Account]) -> list[int]:
    return [(await shop.ledger_balance(a.id)).pending_minor for a in accounts]


async def platform_revenue(shop: Shop) -> int:
    async with shop.db.sessionmaker() as session:
        return await platform_revenue_minor(session)


# --- refunds ---------------------------------------------------------------------------------


async def test_a_full_refund_reverses_every_share(shop: Shop) -> None:
    chain, sale, _buyer = await three_level_sale(shop)
    parties = [chain["creator"], chain["s1"], chain["s2"], chain["s3"]]
    assert await pending_of(shop, parties) == [100, 50, 50, 699]
    assert await platform_revenue(shop) == 100
    # when the seller refunds it all
    response = await shop.refund(chain["s3"], sale["id"])
    # then the whole amount goes back, and every party gives back exactly its part
    assert response.status_code == 200, response.text
    refund = response.json()["data"]
    assert refund["amount"] == 9.99 and refund["transactionId"] == sale["id"]
    assert refund["requestedBy"] == str(chain["s3"].id)
    assert refund["reason"] == "Damaged in transit"
    assert refund["status"] == "succeeded" and refund["processedAt"] is not None
    assert refund["transaction"]["status"] == "refunded"
    assert refund["transaction"]["refundedAmount"] == 9.99
    assert await pending_of(shop, parties) == [0, 0, 0, 0]
    assert await platform_revenue(shop) == 0
    [at_provider] = shop.provider.refunds()
    assert at_provider.amount_minor == 999 and at_provider.intent_id == sale["paymentReference"]
    assert refund["providerReference"] == at_provider.id
    [event] = await shop.events("refund.processed")
    assert event["fully_refunded"] is True and event["amount_minor"] == 999
    async with shop.db.sessionmaker() as session:
        [audit] = (
            await session.execute(select(AuditLog).where(AuditLog.action == "transaction.refunded"))
        ).scalars()
    assert audit.user_id == chain["s3"].id and str(audit.resource_id) == sale["id"]
    assert await shop.ledger_problems() == []
    # and nothing remains to refund
    error_of(await shop.refund(chain["s3"], sale["id"], 0.01), 409, "CONFLICT")


async def test_partial_refunds_reverse_in_proportion_and_add_up(shop: Shop) -> None:
    chain, sale, _ = await three_level_sale(shop)
    parties = [chain["creator"], chain["s1"], chain["s2"], chain["s3"]]
    # when a third is refunded
    first = await shop.refund(chain["s3"], sale["id"], 3.33)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["transaction"]["status"] == "completed"
    # then each part gave back its third (exact: 33.3, 16.65, 16.65, 33.3, 233.1)
    pending = await pending_of(shop, parties)
    given_back = [100 - pending[0], 50 - pending[1], 50 - pending[2], 699 - pending[3]]
    fee_back = 100 - await platform_revenue(shop)
    assert fee_back + sum(given_back) == 333
    for part, exact in zip([fee_back, *given_back], [33.3, 33.3, 16.65, 16.65, 233.1], strict=True):
        assert abs(part - exact) < 1
    # when another 2.00, then the rest (the amount left out)
    assert (await shop.refund(chain["s3"], sale["id"], 2.00)).status_code == 200
    last = await shop.refund(chain["s3"], sale["id"])
    assert last.status_code == 200, last.text
    assert last.json()["data"]["amount"] == 4.66
    # then together they reversed the sale exactly
    assert last.json()["data"]["transaction"]["status"] == "refunded"
    assert await pending_of(shop, parties) == [0, 0, 0, 0]
    assert await platform_revenue(shop) == 0
    assert sum(r.amount_minor for r in shop.provider.refunds()) == 999
    assert await shop.ledger_problems() == []


async def test_a_refund_after_a_payout_can_take_a_balance_below_zero(shop: Shop) -> None:
    # given earnings available at once, paid out in full
    await shop.settings(payoutHoldDays=0, minimumPayout=1)
    product, seller, licensor = await shop.product(price=20.00)
    buyer = await shop.buyer()
    sale = await shop.bought(buyer, product["id"])
    clock.advance(timedelta(minutes=1))
    assert (await shop.payout(seller)).status_code == 201
    # when the sale is refunded
    clock.advance(timedelta(minutes=1))
    assert (await shop.refund(seller, sale["id"])).status_code == 200
    # then the seller owes what they were paid, the licensor gives back their share
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 0, "available": -16.0}
    assert (await shop.balance_of(licensor))["available"] == 0
    assert await shop.ledger_problems() == []
    # and later earnings make up for it first
    clock.advance(timedelta(minutes=1))
    await shop.bought(buyer, product["id"])
    assert (await shop.balance_of(seller))["available"] == 0
    error_of(await shop.payout(seller), 422, "VALIDATION_ERROR")


async def test_a_refund_inside_the_hold_comes_out_of_pending(shop: Shop) -> None:
    product, seller, _ = await shop.product(price=20.00)
    buyer = await shop.buyer()
    sale = await shop.bought(buyer, product["id"])
    assert (await shop.refund(seller, sale["id"], 5.00)).status_code == 200
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 12.0, "available": 0}
    # and the hold ends for what is left
    clock.advance(timedelta(days=8))
    await shop.release_matured()
    await shop.log_in_again(seller)
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 0, "available": 12.0}
    assert await shop.ledger_problems() == []


async def test_a_replayed_refund_does_nothing_more(shop: Shop) -> None:
    chain, sale, _ = await three_level_sale(shop)
    idem = key()
    first = await shop.refund(chain["s3"], sale["id"], 1.00, idempotency_key=idem)
    assert first.status_code == 200, first.text
    before = await shop.fingerprint()
    again = await shop.refund(chain["s3"], sale["id"], 1.00, idempotency_key=idem)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await shop.fingerprint() == before
    assert await shop.count(Refund) == 1
    # the same key with another amount is refused
    other = await shop.refund(chain["s3"], sale["id"], 2.00, idempotency_key=idem)
    assert error_of(other, 422, "VALIDATION_ERROR")["details"]["reason"] == (
        "idempotency_key_reused"
    )
    assert await shop.fingerprint() == before


async def test_refunds_that_are_refused(shop: Shop, db: Database) -> None:
    chain, sale, buyer = await three_level_sale(shop)
    other_product, other_seller, _ = await shop.product()
    pending = await shop.bought(buyer, other_product["id"], payment_method=None)
    before = await shop.fingerprint()
    # above what remains
    error = error_of(await shop.refund(chain["s3"], sale["id"], 10.00), 422, "VALIDATION_ERROR")
    assert error["details"]["remaining"] == 9.99
    # by the buyer (who may not refund at all), a licensor on the chain, another seller
    error_of(await shop.refund(buyer, sale["id"]), 403, "FORBIDDEN")
    error_of(await shop.refund(chain["creator"], sale["id"]), 403, "FORBIDDEN")
    error_of(await shop.refund(other_seller, sale["id"]), 404, "NOT_FOUND")
    # an administrator without process_refunds
    content_admin = await create_admin(shop.client, db, departments=["content"])
    error_of(await shop.refund(content_admin, sale["id"]), 403, "FORBIDDEN")
    # a payment that was never made, a transaction that does not exist
    error_of(await shop.refund(other_seller, pending["id"]), 409, "CONFLICT")
    error_of(await shop.refund(chain["s3"], str(uuid.uuid4())), 404, "NOT_FOUND")
    # malformed: no reason, a zero or negative amount, three decimals, no key
    for body in (
        {"transactionId": sale["id"]},
        {"transactionId": sale["id"], "reason": "Broken", "amount": 0},
        {"transactionId": sale["id"], "reason": "Broken", "amount": -1},
        {"transactionId": sale["id"], "reason": "Broken", "amount": 1.001},
    ):
        response = await shop.post("/v1/payments/refund", chain["s3"], body)
        error_of(response, 422, "VALIDATION_ERROR")
    response = await shop.client.post(
        "/v1/payments/refund",
        json={"transactionId": sale["id"], "reason": "Broken"},
        headers=chain["s3"].auth,
    )
    error_of(response, 422, "VALIDATION_ERROR")
    assert await shop.fingerprint() == before
    assert await shop.ledger_problems() == []


async def test_an_administrator_refunds_and_it_is_audited(shop: Shop, db: Database) -> None:
    _chain, sale, _ = await three_level_sale(shop)
    admin = await create_admin(shop.client, db, departments=["payments"])
    response = await shop.post(
        f"/v1/admin/transactions/{sale['id']}/refund",
        admin,
        {"amount": 4.99, "reason": "Chargeback threatened"},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["amount"] == 4.99 and data["requestedBy"] == str(admin.id)
    assert data["status"] == "succeeded"
    assert data["transaction"]["refundedAmount"] == 4.99
    async with shop.db.sessionmaker() as session:
        [audit] = (
            await session.execute(select(AuditLog).where(AuditLog.action == "transaction.refunded"))
        ).scalars()
    assert audit.user_id == admin.id
    assert audit.new_values is not None and audit.new_values["amount"] == "4.99"
    assert audit.ip_address is not None
    # the seller's route refuses nobody with process_refunds either
    assert (await shop.refund(admin, sale["id"], 1.00)).status_code == 200
    # and an administrator without it is refused
    content_admin = await create_admin(shop.client, db, departments=["content"])
    refused = await shop.post(
        f"/v1/admin/transactions/{sale['id']}/refund", content_admin, {"reason": "Because"}
    )
    error_of(refused, 403, "FORBIDDEN")
    assert await shop.ledger_problems() == []


# --- balances and payouts ------------------------------------------------------------------


async def test_payouts_take_available_funds_above_the_minimum(shop: Shop) -> None:
    # given 16.00 available to the seller (a 20.00 sale, 10% fee, 10% licensor share)
    await shop.settings(payoutHoldDays=0, minimumPayout=10)
    product, seller, licensor = await shop.product(price=20.00)
    buyer = await shop.buyer()
    await shop.bought(buyer, product["id"])
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 0, "available": 16.0}
    before = await shop.fingerprint()
    # below the minimum, above what is available, malformed: refused, nothing moves
    error = error_of(await shop.payout(seller, 9.99), 422, "VALIDATION_ERROR")
    assert error["details"]["minimumPayout"] == 10.0
    error = error_of(await shop.payout(seller, 16.01), 422, "VALIDATION_ERROR")
    assert error["details"]["available"] == 16.0
    error_of(await shop.payout(licensor), 422, "VALIDATION_ERROR")  # 2.00 < 10.00
    error_of(await shop.payout(buyer), 422, "VALIDATION_ERROR")  # nothing at all
    for body in ({"amount": 0}, {"amount": "ten"}, {"amount": 10, "to": "elsewhere"}):
        error_of(await shop.post("/v1/payments/payout", seller, body), 422, "VALIDATION_ERROR")
    assert await shop.fingerprint() == before
    # when the seller asks for 10.00
    idem = key()
    response = await shop.payout(seller, 10.00, idempotency_key=idem)
    # then it is paid, and 6.00 remain
    assert response.status_code == 201, response.text
    payout = response.json()["data"]
    assert payout["amount"] == 10.0 and payout["status"] == "paid"
    [at_provider] = shop.provider.payouts()
    assert at_provider.amount_minor == 1000 and payout["providerReference"] == at_provider.id
    # out of the seller's own connected account, opened for them
    [account] = shop.provider.accounts()
    assert account.user_id == str(seller.id) and at_provider.destination == account.id
    assert (await shop.balance_of(seller))["available"] == 6.0
    async with shop.db.sessionmaker() as session:
        [audit] = (
            await session.execute(select(AuditLog).where(AuditLog.action == "payout.requested"))
        ).scalars()
    assert audit.user_id == seller.id and str(audit.resource_id) == payout["id"]
    # a replay pays nothing more
    again = await shop.payout(seller, 10.00, idempotency_key=idem)
    assert again.status_code == 201 and again.json() == response.json()
    assert len(shop.provider.payouts()) == 1 and await shop.count(Payout) == 1
    # and the rest cannot go below the minimum
    error_of(await shop.payout(seller), 422, "VALIDATION_ERROR")
    assert await shop.ledger_problems() == []


async def test_payouts_wait_for_the_hold_period(shop: Shop) -> None:
    await shop.settings(minimumPayout=1)
    product, seller, _ = await shop.product(price=20.00)
    buyer = await shop.buyer()
    await shop.bought(buyer, product["id"])
    error_of(await shop.payout(seller), 422, "VALIDATION_ERROR")
    clock.advance(timedelta(days=7, minutes=1))
    await shop.release_matured()
    await shop.log_in_again(seller)
    response = await shop.payout(seller)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["amount"] == 16.0
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 0, "available": 0}
    assert await shop.ledger_problems() == []


# --- history and the administrators' list ---------------------------------------------------


async def test_history_shows_each_party_their_part(shop: Shop) -> None:
    chain, sale, buyer = await three_level_sale(shop)
    clock.advance(timedelta(minutes=1))
    second = await shop.bought(buyer, chain["p3"]["id"], payment_method=None)

    async def history(account: Account, **params: Any) -> list[tuple[str, str, str]]:
        response = await shop.client.get(
            "/v1/payments/history", params=params, headers=account.auth
        )
        assert response.status_code == 200, response.text
        return [(t["id"], t["role"], t["status"]) for t in response.json()["data"]]

    assert await history(buyer) == [
        (second["id"], "buyer", "pending"),
        (sale["id"], "buyer", "completed"),
    ]
    assert await history(buyer, status="completed") == [(sale["id"], "buyer", "completed")]
    assert await history(buyer, role="seller") == []
    assert await history(chain["s3"]) == [
        (second["id"], "seller", "pending"),
        (sale["id"], "seller", "completed"),
    ]
    # a licensor up the chain sees the sales that paid them a share
    assert await history(chain["creator"], role="licensor") == [
        (second["id"], "licensor", "pending"),
        (sale["id"], "licensor", "completed"),
    ]
    assert await history(chain["creator"], type="license_fee") == []
    # pagination
    response = await shop.client.get(
        "/v1/payments/history", params={"limit": 1, "page": 2}, headers=buyer.auth
    )
    body = response.json()
    assert [t["id"] for t in body["data"]] == [sale["id"]]
    assert body["pagination"] == {"page": 2, "limit": 1, "total": 2, "totalPages": 2}
    # bad filters
    for params in ({"role": "thief"}, {"status": "lost"}, {"type": "gift"}, {"limit": 0}):
        error_of(
            await shop.client.get("/v1/payments/history", params=params, headers=buyer.auth),
            422,
            "VALIDATION_ERROR",
        )
    error_of(await shop.client.get("/v1/payments/history"), 401, "UNAUTHORIZED")


async def test_lists_run_a_fixed_number_of_statements(
    shop: Shop, app: FastAPI, db: Database
) -> None:
    product, _, _ = await shop.product(price=1.00, stock=100)
    buyer = await shop.buyer()
    for _ in range(21):
        await shop.bought(buyer, product["id"])
    admin = await create_admin(shop.client, db, departments=["payments"])
    engine = app_engine(app)

    async def count(path: str, account: Account) -> list[int]:
        counts = []
        for limit in (20, 1, 20):
            with statements(engine) as seen:
                response = await shop.client.get(
                    path, params={"limit": limit}, headers=account.auth
                )
            assert response.status_code == 200, response.text
            assert len(response.json()["data"]) == limit
            counts.append(len(seen))
        return counts[1:]

    history = await count("/v1/payments/history", buyer)
    assert history[0] == history[1], history
    listing = await count("/v1/admin/transactions", admin)
    assert listing[0] == listing[1], listing


async def test_administrators_list_transactions_with_filters(shop: Shop, db: Database) -> None:
    chain, sale, buyer = await three_level_sale(shop)
    clock.advance(timedelta(days=40))
    await shop.log_in_again(buyer)
    later = await shop.bought(buyer, chain["p3"]["id"], payment_method=None)
    admin = await create_admin(shop.client, db, departments=["payments"])

    async def listed(**params: Any) -> list[str]:
        response = await shop.client.get(
            "/v1/admin/transactions", params=params, headers=admin.auth
        )
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["data"]]

    assert await listed() == [later["id"], sale["id"]]
    assert await listed(status="pending") == [later["id"]]
    assert await listed(type="product_sale", status="completed") == [sale["id"]]
    assert await listed(type="license_fee") == []
    assert await listed(userId=str(chain["s1"].id)) == [later["id"], sale["id"]]
    assert await listed(userId=str(uuid.uuid4())) == []
    cut = (START + timedelta(days=20)).isoformat()
    assert await listed(**{"from": cut}) == [later["id"]]
    assert await listed(to=cut) == [sale["id"]]
    naive = await shop.client.get(
        "/v1/admin/transactions", params={"from": "2026-01-01T00:00:00"}, headers=admin.auth
    )
    error_of(naive, 422, "VALIDATION_ERROR")
    content_admin = await create_admin(shop.client, db, departments=["content"])
    refused = await shop.client.get("/v1/admin/transactions", headers=content_admin.auth)
    error_of(refused, 403, "FORBIDDEN")
    error_of(await shop.client.get("/v1/admin/transactions", headers=buyer.auth), 403, "FORBIDDEN")


# --- idempotency keys ------------------------------------------------------------------------


async def test_a_key_in_flight_is_a_conflict_until_it_goes_stale(shop: Shop) -> None:
    product, _, _ = await shop.product(stock=5)
    buyer = await shop.buyer()
    idem = key()
    path = f"/v1/products/{product['id']}/purchase"
    # given the same request under way elsewhere (its key claimed, no answer yet)
    async with shop.db.transaction() as session:
        session.add(
            IdempotencyKey(
                user_id=buyer.id,
                key=idem,
                method="POST",
                path=path,
                request_hash=request_hash(
                    "POST", path, b'{"paymentMethod": "pm_card_visa", "quantity": 1}'
                ),
                state="in_flight",
                created_at=utcnow(),
            )
        )
    before = await shop.fingerprint()
    # when it is retried: a conflict, and nothing moves
    busy = await shop.buy(buyer, product["id"], idempotency_key=idem)
    assert error_of(busy, 409, "CONFLICT")["details"]["reason"] == "idempotency_key_in_flight"
    assert await shop.fingerprint() == before
    # once the first request has clearly died (five minutes), a retry takes the key over
    clock.advance(timedelta(minutes=6))
    await shop.log_in_again(buyer)
    retried = await shop.buy(buyer, product["id"], idempotency_key=idem)
    assert retried.status_code == 201, retried.text
    assert len(await shop.transactions()) == 1


async def test_keys_belong_to_their_user_and_to_one_request(shop: Shop) -> None:
    product, _, _ = await shop.product(stock=5)
    alice, bob = await shop.buyer(), await shop.buyer()
    idem = key()
    first = await shop.buy(alice, product["id"], idempotency_key=idem)
    assert first.status_code == 201
    # another user's key space is their own
    theirs = await shop.buy(bob, product["id"], idempotency_key=idem)
    assert theirs.status_code == 201 and theirs.json()["data"]["id"] != first.json()["data"]["id"]
    # the same key on another route or with another body is refused
    other_body = await shop.buy(alice, product["id"], quantity=2, idempotency_key=idem)
    error_of(other_body, 422, "VALIDATION_ERROR")
    other_route = await shop.post(
        "/v1/payments/intent",
        alice,
        {"productId": product["id"], "quantity": 1},
        idempotency_key=idem,
    )
    error_of(other_route, 422, "VALIDATION_ERROR")
    # the same body written differently is the same request
    replay = await shop.client.post(
        f"/v1/products/{product['id']}/purchase",
        content=b'{ "paymentMethod":"pm_card_visa",  "quantity":1 }',
        headers={**alice.auth, "Idempotency-Key": idem, "Content-Type": "application/json"},
    )
    assert replay.status_code == 201 and replay.json() == first.json()
    # a malformed key
    for bad in ("", "with space", "x" * 256):
        response = await shop.client.post(
            f"/v1/products/{product['id']}/purchase",
            json={"quantity": 1},
            headers={**alice.auth, "Idempotency-Key": bad},
        )
        error_of(response, 422, "VALIDATION_ERROR")
    assert len(await shop.transactions()) == 2


def test_partitions_cover_the_frozen_clock() -> None:
    assert START.tzinfo is UTC and datetime(2025, 1, 1, tzinfo=UTC) <= START


async def test_a_provider_failure_releases_the_key_for_a_retry(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    product, _, _ = await shop.product(stock=2)
    buyer = await shop.buyer()
    before = await shop.fingerprint()
    real = shop.provider.create_intent

    async def unreachable(**kwargs: Any) -> Any:
        raise ProviderError("connection reset by peer")

    # when the provider cannot be reached
    monkeypatch.setattr(shop.provider, "create_intent", unreachable)
    idem = key()
    failed = await shop.buy(buyer, product["id"], idempotency_key=idem)
    # then it is a 500, nothing is kept, and the key is free again
    error_of(failed, 500, "INTERNAL_ERROR")
    assert await shop.fingerprint() == before
    assert await shop.keys() == 0
    # and a retry under the same key goes through once the provider is back
    monkeypatch.setattr(shop.provider, "create_intent", real)
    retried = await shop.buy(buyer, product["id"], idempotency_key=idem)
    assert retried.status_code == 201, retried.text
    assert (await shop.product_row(product["id"])).inventory_count == 1


async def test_keys_are_forgotten_after_a_day(shop: Shop) -> None:
    product, _, _ = await shop.product(stock=2)
    buyer = await shop.buyer()
    await shop.bought(buyer, product["id"], idempotency_key="order-1")
    async with shop.db.transaction() as session:
        assert await purge_expired_keys(session) == 0
    clock.advance(timedelta(hours=25))
    async with shop.db.transaction() as session:
        assert await purge_expired_keys(session) == 1
    # the key may then name a new purchase, which is a new transaction
    await shop.log_in_again(buyer)
    again = await shop.bought(buyer, product["id"], idempotency_key="order-1")
    assert len({t.id for t in await shop.transactions()}) == 2
    assert again["status"] == "completed"
    assert await shop.ledger_problems() == []
