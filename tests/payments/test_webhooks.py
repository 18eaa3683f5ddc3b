"""POST /v1/payments/webhooks/stripe: signed exactly as Stripe signs, checked with a 300 s
tolerance, each event id handled once, pending purchases settled."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from ipmarket.audit.models import AuditLog
from ipmarket.config import Settings
from ipmarket.kit.clock import clock, utcnow
from ipmarket.kit.db import Database
from ipmarket.payments import ledger
from ipmarket.payments.models import Payout, ProviderEvent, Transaction
from ipmarket.payments.providers import Intent, sign_stripe_payload
from tests.payments.shop import Shop, error_of, freeze

SECRET = "whsec_test_0123456789abcdef"
PATH = "/v1/payments/webhooks/stripe"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"stripe_webhook_secret": SecretStr(SECRET)})


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


def event(event_type: str, intent: dict[str, Any], event_id: str | None = None) -> bytes:
    body = {
        "id": event_id or f"evt_{abs(hash((event_type, intent['id'], utcnow())))}",
        "object": "event",
        "type": event_type,
        "created": int(utcnow().timestamp()),
        "livemode": False,
        "data": {"object": {"object": "payment_intent", **intent}},
    }
    return json.dumps(body).encode()


async def deliver(
    client: httpx.AsyncClient,
    payload: bytes,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    header: str | None = None,
) -> httpx.Response:
    signature = header or sign_stripe_payload(
        payload, secret, timestamp=timestamp if timestamp is not None else int(utcnow().timestamp())
    )
    return await client.post(
        PATH,
        content=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


async def pending_purchase(shop: Shop, stock: int = 3) -> tuple[dict[str, Any], dict[str, Any]]:
    product, _, _ = await shop.product(stock=stock)
    buyer = await shop.buyer()
    return product, await shop.bought(buyer, product["id"], payment_method=None)


async def pay_at_provider(shop: Shop, intent_id: str, method: str = "pm_card_visa") -> None:
    """The buyer pays the intent at the provider directly (as Stripe.js does)."""
    await shop.provider.confirm_intent(
        intent_id, payment_method=method, idempotency_key=f"client:{intent_id}"
    )


async def test_payment_intent_succeeded_completes_a_pending_purchase(shop: Shop) -> None:
    product, pending = await pending_purchase(shop)
    await pay_at_provider(shop, pending["paymentReference"])
    payload = event(
        "payment_intent.succeeded",
        {
            "id": pending["paymentReference"],
            "status": "succeeded",
            "amount": 1999,
            "amount_received": 1999,
            "payment_method": "pm_1Abc",
        },
        event_id="evt_succeeded_1",
    )
    # when Stripe tells us it was paid
    response = await deliver(shop.client, payload)
    # then the purchase is completed, once
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"received": True, "duplicate": False}
    [tx] = await shop.transactions()
    assert tx.status == "completed" and tx.payment_method == "pm_1Abc"
    assert (await shop.product_row(product["id"])).inventory_count == 2
    assert await shop.ledger_problems() == []
    before = await shop.fingerprint()
    postings = before["postings"]
    assert postings == 1
    # and the same event delivered again is acknowledged and does nothing
    again = await deliver(shop.client, payload)
    assert again.status_code == 200
    assert again.json()["data"] == {"received": True, "duplicate": True}
    assert await shop.fingerprint() == before
    assert await shop.count(ProviderEvent) == 1
    # and a second event about the same intent finds nothing left to do
    other = event(
        "payment_intent.succeeded",
        {"id": pending["paymentReference"], "amount": 1999, "amount_received": 1999},
        event_id="evt_succeeded_2",
    )
    assert (await deliver(shop.client, other)).status_code == 200
    assert (await shop.fingerprint())["postings"] == postings
    assert len(await shop.events("payment.completed")) == 1


async def test_payment_intent_payment_failed_releases_the_stock(shop: Shop) -> None:
    product, pending = await pending_purchase(shop, stock=1)
    assert (await shop.product_row(product["id"])).status == "sold_out"
    payload = event(
        "payment_intent.payment_failed",
        {
            "id": pending["paymentReference"],
            "status": "requires_payment_method",
            "amount": 1999,
            "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"},
        },
    )
    response = await deliver(shop.client, payload)
    assert response.status_code == 200, response.text
    [tx] = await shop.transactions()
    assert tx.status == "failed" and tx.failure_reason == "declined: insufficient_funds"
    row = await shop.product_row(product["id"])
    assert row.inventory_count == 1 and row.status == "active"
    assert (await shop.fingerprint())["postings"] == 0
    [failed] = await shop.events("payment.failed")
    assert failed["transaction_id"] == str(tx.id)


async def test_events_that_change_nothing(shop: Shop) -> None:
    _product, pending = await pending_purchase(shop)
    before = await shop.fingerprint()
    # an event claiming a payment the provider has not taken is not taken as one
    forged = event(
        "payment_intent.succeeded",
        {"id": pending["paymentReference"], "amount": 1999, "amount_received": 1999},
    )
    assert (await deliver(shop.client, forged)).status_code == 200
    # an intent that is not ours, an event type we do not handle, an object without id
    unknown = event("payment_intent.succeeded", {"id": "pi_elsewhere", "amount": 1999})
    assert (await deliver(shop.client, unknown)).status_code == 200
    other_type = event("charge.refunded", {"id": pending["paymentReference"]})
    assert (await deliver(shop.client, other_type)).status_code == 200
    [tx] = await shop.transactions()
    assert tx.status == "pending"
    assert await shop.fingerprint() == before
    # an event without an id is malformed
    no_id = json.dumps({"type": "payment_intent.succeeded", "data": {"object": {}}}).encode()
    error_of(await deliver(shop.client, no_id), 400, "VALIDATION_ERROR")


async def test_bad_or_stale_signatures_are_refused(shop: Shop) -> None:
    _product, pending = await pending_purchase(shop)
    await pay_at_provider(shop, pending["paymentReference"])
    payload = event(
        "payment_intent.succeeded",
        {"id": pending["paymentReference"], "amount": 1999, "amount_received": 1999},
        event_id="evt_signed_badly",
    )
    before = await shop.fingerprint()
    now = int(utcnow().timestamp())
    refused = [
        await deliver(shop.client, payload, secret="whsec_someone_else"),
        await deliver(shop.client, payload, timestamp=now - 301),
        await deliver(shop.client, payload, timestamp=now + 301),
        await deliver(shop.client, payload, header="t=1,v1=deadbeef"),
        await deliver(shop.client, payload, header="garbage"),
        await shop.client.post(PATH, content=payload),
        # the body changed after signing
        await shop.client.post(
            PATH,
            content=payload.replace(b"1999", b"1998"),
            headers={"Stripe-Signature": sign_stripe_payload(payload, SECRET, timestamp=now)},
        ),
    ]
    for response in refused:
        error = error_of(response, 400, "VALIDATION_ERROR")
        assert SECRET not in json.dumps(error)
    assert await shop.fingerprint() == before
    assert await shop.count(ProviderEvent) == 0
    # within the tolerance the same event is taken
    accepted = await deliver(shop.client, payload, timestamp=now - 299)
    assert accepted.status_code == 200, accepted.text
    [tx] = await shop.transactions()
    assert tx.status == "completed"


async def test_the_signature_is_checked_against_the_app_clock(shop: Shop) -> None:
    _, pending = await pending_purchase(shop)
    payload = event(
        "payment_intent.succeeded",
        {"id": pending["paymentReference"], "amount": 1999, "amount_received": 1999},
    )
    signed_at = int(utcnow().timestamp())
    clock.advance(timedelta(minutes=6))
    response = await deliver(shop.client, payload, timestamp=signed_at)
    error_of(response, 400, "VALIDATION_ERROR")


async def test_without_a_signing_secret_webhooks_are_refused(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    app.state.settings = settings.model_copy(update={"stripe_webhook_secret": None})
    payload = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
    response = await deliver(client, payload)
    error_of(response, 400, "VALIDATION_ERROR")


async def test_a_payment_after_the_sale_failed_is_refunded_in_full(shop: Shop) -> None:
    # given a pending purchase whose card was declined, and whose intent could not be
    # cancelled because the provider was briefly unreachable
    product, _, _ = await shop.product(stock=1)
    buyer = await shop.buyer()
    pending = await shop.bought(buyer, product["id"], payment_method=None)
    shop.provider.fail_next("cancel")
    declined = await shop.post(
        "/v1/payments/confirm",
        buyer,
        {"transactionId": pending["id"], "paymentMethod": "pm_card_chargeDeclined"},
    )
    error_of(declined, 402, "PAYMENT_FAILED")
    assert (await shop.product_row(product["id"])).inventory_count == 1
    # when the buyer pays the still-open intent anyway and Stripe tells us
    await pay_at_provider(shop, pending["paymentReference"])
    payload = event("payment_intent.succeeded", {"id": pending["paymentReference"], "amount": 1999})
    assert (await deliver(shop.client, payload)).status_code == 200
    # then the money goes back in full, nothing is sold and the ledger moved nothing
    [refund] = shop.provider.refunds()
    assert refund.intent_id == pending["paymentReference"] and refund.amount_minor == 1999
    [tx] = await shop.transactions()
    assert tx.status == "failed"
    assert (await shop.product_row(product["id"])).inventory_count == 1
    assert (await shop.fingerprint())["postings"] == 0
    assert await shop.ledger_problems() == []
    # and the same event again refunds nothing more
    again = event(
        "payment_intent.succeeded",
        {"id": pending["paymentReference"], "amount": 1999},
        event_id="evt_again",
    )
    assert (await deliver(shop.client, again)).status_code == 200
    assert len(shop.provider.refunds()) == 1


async def test_a_payment_is_matched_by_its_metadata_before_its_id_was_stored(
    shop: Shop,
) -> None:
    # given a purchase whose intent id was never stored (the process died right after the
    # provider created it)
    _product, pending = await pending_purchase(shop)
    async with shop.db.transaction() as session:
        await session.execute(
            update(Transaction)
            .where(Transaction.id == uuid.UUID(pending["id"]))
            .values(payment_reference=None)
        )
    await pay_at_provider(shop, pending["paymentReference"])
    # when Stripe tells us the intent was paid
    payload = event(
        "payment_intent.succeeded",
        {
            "id": pending["paymentReference"],
            "amount": 1999,
            "metadata": {"transaction_id": pending["id"]},
        },
    )
    assert (await deliver(shop.client, payload)).status_code == 200
    # then the purchase is completed and knows its intent
    [tx] = await shop.transactions()
    assert tx.status == "completed" and tx.payment_reference == pending["paymentReference"]
    assert await shop.ledger_problems() == []


async def test_a_payment_of_the_wrong_sum_is_refunded_not_taken(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a pending purchase the provider reports paid with another sum
    product, pending = await pending_purchase(shop, stock=1)
    await pay_at_provider(shop, pending["paymentReference"])
    real = shop.provider.retrieve_intent

    async def short_paid(intent_id: str) -> Intent:
        return dataclasses.replace(await real(intent_id), amount_captured_minor=1000)

    monkeypatch.setattr(shop.provider, "retrieve_intent", short_paid)
    # when its webhook arrives
    payload = event("payment_intent.succeeded", {"id": pending["paymentReference"]})
    assert (await deliver(shop.client, payload)).status_code == 200
    # then the sale fails, its stock is back, the sum taken goes back, nothing is posted
    [tx] = await shop.transactions()
    assert tx.status == "failed" and tx.failure_reason == "amount_mismatch"
    assert (await shop.product_row(product["id"])).inventory_count == 1
    [refund] = shop.provider.refunds()
    assert refund.amount_minor == 1000
    assert (await shop.fingerprint())["postings"] == 0


# --- money going out ----------------------------------------------------------------------------


def stripe_event(event_type: str, obj: dict[str, Any], event_id: str) -> bytes:
    body = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(utcnow().timestamp()),
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(body).encode()


async def test_a_payout_returned_by_the_bank_fails_and_the_money_is_available_again(
    shop: Shop,
) -> None:
    # given a seller with 16.00 available who was paid out 10.00
    await shop.settings(payoutHoldDays=0, minimumPayout=1)
    product, seller, _ = await shop.product(price=20.00)
    await shop.bought(await shop.buyer(), product["id"])
    paid = (await shop.payout(seller, 10.00)).json()["data"]
    assert paid["status"] == "paid"
    assert (await shop.balance_of(seller))["available"] == 6.0

    # when Stripe tells us the bank returned it
    payload = stripe_event(
        "payout.failed",
        {
            "id": paid["providerReference"],
            "object": "payout",
            "status": "failed",
            "amount": 1000,
            "failure_code": "account_closed",
            "failure_message": "The bank account has been closed.",
        },
        event_id="evt_payout_failed_1",
    )
    response = await deliver(shop.client, payload)

    # then the payout is failed with the bank's reason, and its money is available again
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"received": True, "duplicate": False}
    async with shop.db.sessionmaker() as session:
        [row] = (await session.execute(select(Payout))).scalars()
        returned = await ledger.account_total(session, ledger.payouts_account())
    assert row.status == "failed" and row.failure_reason is not None
    assert "account_closed" in row.failure_reason
    assert row.provider_reference == paid["providerReference"]
    assert returned == 0
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 0, "available": 16.0}
    assert await shop.ledger_problems() == []

    # and the event again, or another event about the same payout, moves nothing more
    before = await shop.fingerprint()
    again = await deliver(shop.client, payload)
    assert again.json()["data"] == {"received": True, "duplicate": True}
    other = stripe_event(
        "payout.failed",
        {"id": paid["providerReference"], "object": "payout", "status": "failed"},
        event_id="evt_payout_failed_2",
    )
    assert (await deliver(shop.client, other)).json()["data"]["duplicate"] is False
    assert await shop.fingerprint() == before
    assert (await shop.balance_of(seller))["available"] == 16.0
    # and a payout that is not ours is acknowledged and ignored
    stranger = stripe_event(
        "payout.failed", {"id": "po_elsewhere", "object": "payout"}, event_id="evt_po_x"
    )
    assert (await deliver(shop.client, stranger)).status_code == 200
    assert await shop.fingerprint() == before
    # and the money can be paid out again
    assert (await shop.payout(seller)).json()["data"]["status"] == "paid"
    assert await shop.ledger_problems() == []


async def test_a_refund_that_fails_after_it_was_made_is_flagged_not_moved(shop: Shop) -> None:
    # given a refund the provider made
    product, seller, _ = await shop.product()
    sale = await shop.bought(await shop.buyer(), product["id"])
    made = (await shop.refund(seller, sale["id"], 5.00)).json()["data"]
    assert made["status"] == "succeeded"
    before = await shop.fingerprint()

    # when Stripe tells us the refund failed after all (the buyer's card was closed)
    refund = {
        "id": made["providerReference"],
        "object": "refund",
        "status": "failed",
        "failure_reason": "expired_or_canceled_card",
    }
    for event_type, event_id in (("refund.failed", "evt_rf_1"), ("charge.refund.updated", "e2")):
        response = await deliver(shop.client, stripe_event(event_type, refund, event_id))
        assert response.status_code == 200, response.text

    # then no money moves (a person decides how to pay the buyer back), and it is flagged
    assert await shop.fingerprint() == before
    async with shop.db.sessionmaker() as session:
        flagged = (
            (
                await session.execute(
                    select(AuditLog).where(AuditLog.action == "refund.failed_at_provider")
                )
            )
            .scalars()
            .all()
        )
    assert [str(a.resource_id) for a in flagged] == [made["id"], made["id"]]
    assert await shop.ledger_problems() == []
