"""Buying a product: the sale pays the platform, every licensor up the chain and the seller
exactly, stock is reserved and released, pending purchases are paid later or expire, and bad
input moves no money and no stock."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from ipmarket.kit.clock import clock, utcnow
from ipmarket.kit.db import Database
from ipmarket.kit.idempotency import IdempotencyKey, request_hash
from ipmarket.kit.idempotency.repository import IdempotencyKeyRepository
from ipmarket.payments.checkout.reservations import expire_reservations
from ipmarket.payments.providers import Intent, IntentStatus, ProviderError
from ipmarket.products.models import Product
from tests.payments.shop import DECLINED, START, VISA, Shop, error_of, freeze, key


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


def cents(value: float) -> int:
    return round(value * 100)


async def test_a_sale_under_a_three_level_chain_pays_everyone_exactly(shop: Shop) -> None:
    # given the chain original → L1 (10%) → D1 → L2 (5%) → D2 → L3 (5%), the platform's
    # fee at 10%, and S3's product under L3 at 3.33
    chain = await shop.rights.chain_of_three()
    creator, s1, s2, s3 = chain["creator"], chain["s1"], chain["s2"], chain["s3"]
    product = await shop.rights.product(s3, chain["l3"]["id"], price=3.33, inventoryCount=5)
    buyer = await shop.buyer()

    # when a buyer buys three (9.99: every exact part has a fraction of a cent)
    sale = await shop.bought(buyer, product["id"], quantity=3)

    # then the sale is completed, and its parts are rounded by largest remainder:
    # exact fee 99.9, L3 49.95, L2 49.95, L1 99.9, seller 699.3 → 100, 50, 50, 100, 699
    assert sale["status"] == "completed"
    assert sale["transactionType"] == "product_sale"
    assert sale["buyerId"] == str(buyer.id) and sale["sellerId"] == str(s3.id)
    assert sale["productId"] == product["id"] and sale["quantity"] == 3
    assert sale["amount"] == 9.99 and sale["currency"] == "USD"
    assert sale["platformFee"] == 1.00
    assert sale["revenueShares"] == [
        {
            "recipientId": str(s2.id),
            "licenseId": chain["l3"]["id"],
            "percentage": 5.0,
            "amount": 0.50,
        },
        {
            "recipientId": str(s1.id),
            "licenseId": chain["l2"]["id"],
            "percentage": 5.0,
            "amount": 0.50,
        },
        {
            "recipientId": str(creator.id),
            "licenseId": chain["l1"]["id"],
            "percentage": 10.0,
            "amount": 1.00,
        },
    ]
    assert sale["sellerAmount"] == 6.99
    parts = [sale["platformFee"], *(s["amount"] for s in sale["revenueShares"])]
    assert sum(cents(p) for p in parts) + cents(sale["sellerAmount"]) == cents(sale["amount"])
    assert sale["paymentMethod"] == VISA and sale["paymentReference"].startswith("pi_")
    assert sale["processedAt"] is not None and sale["createdAt"] is not None
    # and the stock went down by three
    assert (await shop.product_row(product["id"])).inventory_count == 2

    # and each party's earnings are pending for the hold period (7 days)
    expected = [(creator, 1.00), (s1, 0.50), (s2, 0.50), (s3, 6.99)]
    for account, amount in expected:
        assert await shop.balance_of(account) == {
            "currency": "USD",
            "pending": amount,
            "available": 0.0,
        }
    assert await shop.balance_of(buyer) == {"currency": "USD", "pending": 0.0, "available": 0.0}
    # then available once the hold is over
    clock.advance(timedelta(days=7, seconds=1))
    await shop.release_matured()
    await shop.log_in_again(*(account for account, _ in expected))
    for account, amount in expected:
        assert await shop.balance_of(account) == {
            "currency": "USD",
            "pending": 0.0,
            "available": amount,
        }
    # and the provider charged exactly the amount, once
    [intent] = [i for i in shop.provider.intents() if i.id == sale["paymentReference"]]
    assert intent.amount_captured_minor == 999
    # and the ledger is sound
    assert await shop.ledger_problems() == []
    # and the sale was announced
    [purchased] = await shop.events("product.purchased")
    assert purchased["transaction_id"] == sale["id"] and purchased["quantity"] == 3
    [completed] = await shop.events("payment.completed")
    assert completed["amount_minor"] == 999 and completed["platform_fee_minor"] == 100


async def test_a_single_unit_whose_split_needs_rounding(shop: Shop) -> None:
    # given the three-level chain and S3's product at 0.07, with no hold period
    await shop.settings(payoutHoldDays=0)
    chain = await shop.rights.chain_of_three()
    product = await shop.rights.product(chain["s3"], chain["l3"]["id"], price=0.07)
    buyer = await shop.buyer()
    # when it is bought
    sale = await shop.bought(buyer, product["id"])
    # then exact parts 0.7 / 0.35 / 0.35 / 0.7 / 4.9 round to 1 / 0 / 0 / 1 / 5 cents:
    # the seller's .9 first, then the root licensor's .7 before the platform's equal .7
    assert cents(sale["platformFee"]) == 1
    assert [cents(s["amount"]) for s in sale["revenueShares"]] == [0, 0, 1]
    assert cents(sale["sellerAmount"]) == 5
    # and with no hold the earnings are available at once
    assert (await shop.balance_of(chain["s3"]))["available"] == 0.05
    assert (await shop.balance_of(chain["creator"]))["available"] == 0.01
    assert (await shop.balance_of(chain["s1"])) == {
        "currency": "USD",
        "pending": 0.0,
        "available": 0.0,
    }
    assert await shop.ledger_problems() == []


async def test_the_last_units_sell_out_the_product(shop: Shop) -> None:
    product, _, _ = await shop.product(stock=2)
    buyer = await shop.buyer()
    await shop.bought(buyer, product["id"], quantity=2)
    row = await shop.product_row(product["id"])
    assert row.inventory_count == 0 and row.status == "sold_out"
    error_of(await shop.buy(buyer, product["id"]), 409, "CONFLICT")
    assert await shop.ledger_problems() == []


async def test_a_declined_card_releases_the_stock_and_records_the_failure(shop: Shop) -> None:
    # given a product with one unit left
    product, _, _ = await shop.product(stock=1)
    buyer = await shop.buyer()
    # when the buyer's card is declined
    idem = key()
    response = await shop.buy(buyer, product["id"], payment_method=DECLINED, idempotency_key=idem)
    # then it is a 402, the unit is back on sale, and the failed transaction is kept
    error = error_of(response, 402, "PAYMENT_FAILED")
    assert error["details"]["declineCode"] == "generic_decline"
    row = await shop.product_row(product["id"])
    assert row.inventory_count == 1 and row.status == "active"
    [tx] = await shop.transactions()
    assert tx.status == "failed" and tx.failure_reason == "declined: generic_decline"
    assert str(tx.id) == error["details"]["transactionId"]
    [failed] = await shop.events("payment.failed")
    assert failed["transaction_id"] == str(tx.id)
    assert await shop.events("payment.completed") == []
    # and no money moved
    assert await shop.ledger_problems() == []
    assert (await shop.ledger_balance(tx.seller_id)).pending_minor == 0
    # and a retry with the same key gets the same answer, doing nothing more
    again = await shop.buy(buyer, product["id"], payment_method=DECLINED, idempotency_key=idem)
    assert again.status_code == 402 and again.json() == response.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await shop.transactions()) == 1
    # and the unit can be bought with another card
    await shop.bought(buyer, product["id"])


async def test_a_pending_purchase_is_paid_later(shop: Shop) -> None:
    # given a purchase without a payment method
    product, seller, _ = await shop.product(stock=3)
    buyer = await shop.buyer()
    pending = await shop.bought(buyer, product["id"], quantity=2, payment_method=None)
    # then it holds the stock until the reservation ends (15 minutes by default)
    assert pending["status"] == "pending" and pending["paymentReference"].startswith("pi_")
    assert pending["expiresAt"] is not None
    assert (await shop.product_row(product["id"])).inventory_count == 1
    assert (await shop.balance_of(seller))["pending"] == 0.0
    # when the buyer confirms it with a card
    clock.advance(timedelta(minutes=14))
    confirmed = await shop.post(
        "/v1/payments/confirm", buyer, {"transactionId": pending["id"], "paymentMethod": VISA}
    )
    # then it is completed and the seller's earnings are pending
    assert confirmed.status_code == 200, confirmed.text
    data = confirmed.json()["data"]
    assert data["status"] == "completed" and data["expiresAt"] is None
    assert (await shop.balance_of(seller))["pending"] == data["sellerAmount"]
    # and confirming again is a conflict
    again = await shop.post(
        "/v1/payments/confirm", buyer, {"transactionId": pending["id"], "paymentMethod": VISA}
    )
    error_of(again, 409, "CONFLICT")
    assert await shop.ledger_problems() == []


async def test_payments_intent_starts_a_pending_purchase(shop: Shop) -> None:
    product, _, _ = await shop.product(stock=3)
    buyer = await shop.buyer()
    response = await shop.post(
        "/v1/payments/intent", buyer, {"productId": product["id"], "quantity": 1}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["status"] == "pending" and data["quantity"] == 1
    [intent] = [i for i in shop.provider.intents() if i.id == data["paymentReference"]]
    assert intent.status == "requires_payment_method" and intent.amount_minor == 1999
    assert intent.metadata["transaction_id"] == data["id"]


async def test_an_unpaid_reservation_expires_and_returns_its_stock(
    shop: Shop, db: Database
) -> None:
    # given a pending purchase of the last two units
    product, _, _ = await shop.product(stock=2)
    buyer = await shop.buyer()
    pending = await shop.bought(buyer, product["id"], quantity=2, payment_method=None)
    assert (await shop.product_row(product["id"])).status == "sold_out"
    # when the job runs before the reservation ends, nothing happens
    clock.advance(timedelta(minutes=14))
    async with db.transaction() as session:
        assert await expire_reservations(session) == 0
    # when it runs after
    clock.advance(timedelta(minutes=2))
    async with db.transaction() as session:
        assert await expire_reservations(session) == 1
    # then the stock is back on sale, the transaction failed, the intent cancelled
    row = await shop.product_row(product["id"])
    assert row.inventory_count == 2 and row.status == "active"
    [tx] = await shop.transactions()
    assert tx.status == "failed" and tx.failure_reason == "reservation_expired"
    [intent] = [i for i in shop.provider.intents() if i.id == pending["paymentReference"]]
    assert intent.status == "canceled"
    [failed] = await shop.events("payment.failed")
    assert failed["reason"] == "reservation_expired"
    # and a late confirmation is refused
    await shop.log_in_again(buyer)
    late = await shop.post(
        "/v1/payments/confirm", buyer, {"transactionId": pending["id"], "paymentMethod": VISA}
    )
    error_of(late, 409, "CONFLICT")
    assert await shop.ledger_problems() == []


async def test_a_late_confirmation_expires_the_reservation_itself(shop: Shop) -> None:
    # given a pending purchase whose reservation ended before the job ran
    product, _, _ = await shop.product(stock=1)
    buyer = await shop.buyer()
    pending = await shop.bought(buyer, product["id"], payment_method=None)
    clock.advance(timedelta(minutes=16))
    await shop.log_in_again(buyer)
    # when the buyer confirms it
    late = await shop.post(
        "/v1/payments/confirm", buyer, {"transactionId": pending["id"], "paymentMethod": VISA}
    )
    # then it is refused, and the expiry is kept: stock back, transaction failed
    error = error_of(late, 409, "CONFLICT")
    assert error["details"]["reason"] == "reservation_expired"
    assert (await shop.product_row(product["id"])).inventory_count == 1
    [tx] = await shop.transactions()
    assert tx.status == "failed" and tx.failure_reason == "reservation_expired"


async def test_a_revoked_chain_stops_sales(shop: Shop) -> None:
    # given the three-level chain whose root license is revoked
    chain = await shop.rights.chain_of_three()
    buyer = await shop.buyer()
    before_revocation = await shop.fingerprint()
    response = await shop.client.put(
        f"/v1/licenses/{chain['l1']['id']}/revoke",
        json={"reason": "Breach of the terms"},
        headers=chain["creator"].auth,
    )
    assert response.status_code == 200, response.text
    # when a buyer tries the product at the bottom of the chain
    refused = await shop.buy(buyer, chain["p3"]["id"])
    # then it is refused with the reason, and nothing moved
    error = error_of(refused, 409, "LICENSE_EXPIRED")
    assert error["details"]["reasons"]
    assert await shop.fingerprint() == before_revocation


async def test_an_expired_license_stops_sales_at_once(shop: Shop) -> None:
    # given a product under a 90-day license, when the license has expired (before any
    # expiry job ran)
    creator = await shop.rights.user("creator")
    seller = await shop.rights.user("secondary_creator")
    asset = await shop.rights.asset(creator)
    terms = await shop.rights.terms(creator, asset["id"], duration="P90D")
    held = await shop.rights.license(seller, creator, asset["id"], terms["id"])
    product = await shop.rights.product(seller, held["id"])
    buyer = await shop.buyer()
    clock.advance(timedelta(days=91))
    await shop.log_in_again(buyer)
    before = await shop.fingerprint()
    # then a purchase is refused with the reason
    error = error_of(await shop.buy(buyer, product["id"]), 409, "LICENSE_EXPIRED")
    assert any("expired" in reason for reason in error["details"]["reasons"])
    assert await shop.fingerprint() == before


async def test_bad_purchases_move_no_money_and_no_stock(shop: Shop) -> None:
    product, seller, _ = await shop.product(stock=3)
    buyer = await shop.buyer()
    draft = await shop.rights.product(
        seller, product["licenseId"], publish=False, title="Unreleased mug"
    )
    big, _, _ = await shop.product(price=999_999.99, stock=5)
    before = await shop.fingerprint()
    path = f"/v1/products/{product['id']}/purchase"

    async def attempt(
        account: Any, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await shop.client.post(
            path, json=body, headers={**account.auth, **(headers or {"Idempotency-Key": key()})}
        )

    # quantity below one, or not a number
    for quantity in (0, -1, "two", 1.5):
        error_of(await attempt(buyer, {"quantity": quantity}), 422, "VALIDATION_ERROR")
    # above the stock
    error = error_of(await attempt(buyer, {"quantity": 4}), 409, "CONFLICT")
    assert error["details"] == {"available": 3, "requested": 4}
    # an unknown field, a bad payment method
    error_of(await attempt(buyer, {"quantity": 1, "coupon": "FREE"}), 422, "VALIDATION_ERROR")
    error_of(
        await attempt(buyer, {"quantity": 1, "paymentMethod": "pm card"}), 422, "VALIDATION_ERROR"
    )
    # no Idempotency-Key
    missing = await shop.client.post(path, json={"quantity": 1}, headers=buyer.auth)
    error = error_of(missing, 422, "VALIDATION_ERROR")
    assert "Idempotency-Key" in missing.text
    # the seller buying their own product: forbidden (the seller cannot buy at all)
    error_of(await attempt(seller, {"quantity": 1}), 403, "FORBIDDEN")
    # anonymous
    anonymous = await shop.client.post(
        path, json={"quantity": 1}, headers={"Idempotency-Key": key()}
    )
    error_of(anonymous, 401, "UNAUTHORIZED")
    # a product that does not exist, or is not on sale
    nowhere = f"/v1/products/{uuid.uuid4()}/purchase"
    response = await shop.client.post(
        nowhere, json={"quantity": 1}, headers={**buyer.auth, "Idempotency-Key": key()}
    )
    error_of(response, 404, "NOT_FOUND")
    response = await shop.client.post(
        f"/v1/products/{draft['id']}/purchase",
        json={"quantity": 1},
        headers={**buyer.auth, "Idempotency-Key": key()},
    )
    error_of(response, 404, "NOT_FOUND")
    # an order above the largest chargeable amount
    error_of(await shop.buy(buyer, big["id"], quantity=2), 422, "VALIDATION_ERROR")
    assert await shop.fingerprint() == before
    # a declined card moves no money either (the failure is recorded, the stock is back)
    error_of(await shop.buy(buyer, product["id"], payment_method=DECLINED), 402, "PAYMENT_FAILED")
    after = await shop.fingerprint()
    assert after["stock"] == before["stock"]
    assert (after["postings"], after["entries"]) == (before["postings"], before["entries"])
    assert await shop.ledger_problems() == []


async def test_an_admin_who_may_buy_cannot_buy_their_own_product(shop: Shop, db: Database) -> None:
    # a super administrator holds every permission, including creating and buying
    from tests.support import create_admin

    admin = await create_admin(shop.client, db, level="super_admin")
    product, _, _ = await shop.product()
    async with db.transaction() as session:
        from sqlalchemy import update

        from ipmarket.products import Product

        await session.execute(
            update(Product)
            .where(Product.id == uuid.UUID(product["id"]))
            .values(creator_id=admin.id)
        )
    before = await shop.fingerprint()
    error = error_of(await shop.buy(admin, product["id"]), 403, "FORBIDDEN")
    assert "own product" in error["message"]
    assert await shop.fingerprint() == before


def test_start_is_inside_the_partitioned_years() -> None:
    assert 2025 <= START.year <= 2027


# --- provider failures and retries -----------------------------------------------------------


def charge_then_lose_the_answer(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider charges the card, then the connection drops before it answers."""
    real = shop.provider.confirm_intent

    async def charged_but_unanswered(intent_id: str, **kwargs: Any) -> Intent:
        await real(intent_id, **kwargs)
        monkeypatch.setattr(shop.provider, "confirm_intent", real)
        raise ProviderError("connection reset by peer")

    monkeypatch.setattr(shop.provider, "confirm_intent", charged_but_unanswered)


async def test_a_charge_whose_answer_was_lost_is_finished_by_the_retry(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a card charged whose answer never reached us
    product, seller, _ = await shop.product(stock=2)
    buyer = await shop.buyer()
    charge_then_lose_the_answer(shop, monkeypatch)
    idem = key()
    lost = await shop.buy(buyer, product["id"], idempotency_key=idem)
    # then the buyer is told to try again, and the sale stays pending with its unit held:
    # it may have been paid, so it is neither completed nor given up
    error_of(lost, 500, "INTERNAL_ERROR")
    [tx] = await shop.transactions()
    assert tx.status == "pending" and tx.payment_reference is not None
    assert (await shop.product_row(product["id"])).inventory_count == 1
    # when the buyer retries with the same key
    retried = await shop.buy(buyer, product["id"], idempotency_key=idem)
    # then the same sale completes, charged once, and the unit is not taken twice
    assert retried.status_code == 201, retried.text
    assert retried.json()["data"]["id"] == str(tx.id)
    assert retried.json()["data"]["status"] == "completed"
    assert len(await shop.transactions()) == 1
    [intent] = shop.provider.intents()
    assert intent.status == "succeeded" and intent.amount_captured_minor == intent.amount_minor
    assert (await shop.product_row(product["id"])).inventory_count == 1
    assert (await shop.balance_of(seller))["pending"] == retried.json()["data"]["sellerAmount"]
    assert len(await shop.events("payment.completed")) == 1
    assert await shop.ledger_problems() == []


async def test_a_charge_whose_answer_was_lost_is_settled_by_the_expiry_job(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a card charged whose answer never reached us, and no retry
    product, _, _ = await shop.product(stock=1)
    buyer = await shop.buyer()
    charge_then_lose_the_answer(shop, monkeypatch)
    error_of(await shop.buy(buyer, product["id"]), 500, "INTERNAL_ERROR")
    # when the reservation's time is up and the job runs
    clock.advance(timedelta(minutes=16))
    async with shop.db.transaction() as session:
        assert await expire_reservations(session) == 1
    # then the provider's word counts: it was paid, so the sale completes and stays sold
    [tx] = await shop.transactions()
    assert tx.status == "completed"
    assert (await shop.product_row(product["id"])).status == "sold_out"
    assert await shop.ledger_problems() == []


async def test_a_stalled_request_whose_key_is_taken_over_continues_the_same_sale(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    # given a purchase charged whose answer was lost, its key then held by an attempt that
    # stalled (claimed six minutes ago and never finished)
    product, _, _ = await shop.product(stock=3)
    buyer = await shop.buyer()
    charge_then_lose_the_answer(shop, monkeypatch)
    idem = key()
    error_of(await shop.buy(buyer, product["id"], idempotency_key=idem), 500, "INTERNAL_ERROR")
    path = f"/v1/products/{product['id']}/purchase"
    stalled = uuid.uuid4()
    async with db.transaction() as session:
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
                created_at=utcnow() - timedelta(minutes=6),
                attempt=stalled,
            )
        )
    # when the buyer retries
    taken_over = await shop.buy(buyer, product["id"], idempotency_key=idem)
    # then the retry takes the key over and finishes the same sale, charged once
    assert taken_over.status_code == 201, taken_over.text
    [tx] = await shop.transactions()
    assert taken_over.json()["data"]["id"] == str(tx.id) and tx.status == "completed"
    assert len(shop.provider.intents()) == 1
    assert (await shop.product_row(product["id"])).inventory_count == 2
    # and the stalled attempt, waking up, can no longer answer for the key
    async with db.transaction() as session:
        repository = IdempotencyKeyRepository(session)
        assert not await repository.complete_key(
            buyer.id, idem, attempt=stalled, status=500, body={}, now=utcnow()
        )
        await repository.release_key(buyer.id, idem, attempt=stalled)
    replay = await shop.buy(buyer, product["id"], idempotency_key=idem)
    assert replay.status_code == 201 and replay.json() == taken_over.json()


async def test_no_lock_on_the_product_is_held_while_the_card_is_charged(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    # given a product, and a provider that takes its time
    product, _, _ = await shop.product(stock=5)
    buyer = await shop.buyer()
    real = shop.provider.confirm_intent
    seen: list[int] = []

    async def slow_confirm(intent_id: str, **kwargs: Any) -> Intent:
        # while the card is being charged, another session can lock and read the product
        async with db.transaction() as session:
            await session.execute(text("SET LOCAL lock_timeout = '500ms'"))
            stock = await session.scalar(
                select(Product.inventory_count)
                .where(Product.id == uuid.UUID(product["id"]))
                .with_for_update()
            )
            seen.append(int(stock or 0))
        return await real(intent_id, **kwargs)

    monkeypatch.setattr(shop.provider, "confirm_intent", slow_confirm)
    # when a unit is bought
    sale = await shop.bought(buyer, product["id"])
    # then the unit was already reserved (and committed) before the charge, without a lock
    assert seen == [4]
    assert sale["status"] == "completed"


async def test_two_confirmations_of_one_purchase_complete_it_once_and_refund_nothing(
    shop: Shop,
) -> None:
    # given a pending purchase
    product, seller, _ = await shop.product(stock=2)
    buyer = await shop.buyer()
    pending = await shop.bought(buyer, product["id"], payment_method=None)
    # when the buyer's client confirms it twice at once, under two keys (a double click)
    body = {"transactionId": pending["id"], "paymentMethod": VISA}
    first, second = await asyncio.gather(
        shop.post("/v1/payments/confirm", buyer, body),
        shop.post("/v1/payments/confirm", buyer, body),
    )
    # then the sale is completed once: one answer completes it, the other finds it completed
    # (or not pending any more), and the card is charged once and refunded nothing
    statuses = sorted([first.status_code, second.status_code])
    assert statuses in ([200, 200], [200, 409]), (first.text, second.text)
    [tx] = await shop.transactions()
    assert tx.status == "completed"
    assert shop.provider.refunds() == []
    [intent] = shop.provider.intents()
    assert intent.amount_captured_minor == tx.amount_minor
    assert len(await shop.events("payment.completed")) == 1
    assert (await shop.balance_of(seller))["pending"] == pending["sellerAmount"]


async def test_one_reservation_that_cannot_end_does_not_hold_back_the_others(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two unpaid reservations, the first of which the provider reports paid with the
    # wrong sum while refunds cannot be made (so it cannot be ended now)
    product, _, _ = await shop.product(stock=2)
    buyer = await shop.buyer()
    stuck = await shop.bought(buyer, product["id"], payment_method=None)
    other = await shop.bought(buyer, product["id"], payment_method=None)
    real = shop.provider.retrieve_intent

    async def stuck_is_short_paid(intent_id: str) -> Intent:
        intent = await real(intent_id)
        if intent_id != stuck["paymentReference"]:
            return intent
        return dataclasses.replace(intent, status=IntentStatus.SUCCEEDED, amount_captured_minor=1)

    monkeypatch.setattr(shop.provider, "retrieve_intent", stuck_is_short_paid)
    shop.provider.fail_next("refund", times=5)
    # when their time is up and the job runs
    clock.advance(timedelta(minutes=16))
    async with shop.db.transaction() as session:
        ended = await expire_reservations(session)
    # then the other one ended and its unit is back, and the stuck one is as it was
    assert ended == 1
    statuses = {str(t.id): t.status for t in await shop.transactions()}
    assert statuses == {stuck["id"]: "pending", other["id"]: "failed"}
    assert (await shop.product_row(product["id"])).inventory_count == 1
