"""POST /v1/payments/webhooks/stripe: signed exactly as Stripe signs, checked with a 300 s
tolerance, each event id handled once, pending purchases settled."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from ipmarket.config import Settings
from ipmarket.kit.clock import clock, utcnow
from ipmarket.kit.db import Database
from ipmarket.payments.models import ProviderEvent
from ipmarket.payments.providers import sign_stripe_payload
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


async def test_payment_intent_succeeded_completes_a_pending_purchase(shop: Shop) -> None:
    product, pending = await pending_purchase(shop)
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
    # an amount that does not match the purchase is not taken as its payment
    wrong = event(
        "payment_intent.succeeded",
        {"id": pending["paymentReference"], "amount": 1, "amount_received": 1},
    )
    assert (await deliver(shop.client, wrong)).status_code == 200
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
