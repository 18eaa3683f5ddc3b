"""A license's base fee: authorised when the application is made, captured when it is
approved (a license_fee transaction paying the platform's fee and the licensor), released
when it is rejected."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ipmarket.kit.db import Database
from ipmarket.payments.providers import IntentStatus
from tests.payments.shop import DECLINED, VISA, Shop, error_of, freeze
from tests.support import Account


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


async def offer(
    shop: Shop, **terms: Any
) -> tuple[Account, Account, dict[str, Any], dict[str, Any]]:
    """A creator's asset with terms asking a fee of 25.00, and a maker who wants them."""
    creator = await shop.rights.user("creator")
    maker = await shop.rights.user("secondary_creator")
    asset = await shop.rights.asset(creator)
    offered = await shop.rights.terms(creator, asset["id"], baseFee="25.00", **terms)
    return creator, maker, asset, offered


async def apply(
    shop: Shop, maker: Account, asset: dict[str, Any], terms: dict[str, Any], **extra: Any
) -> httpx.Response:
    return await shop.client.post(
        "/v1/licenses/apply",
        json={"ipAssetId": asset["id"], "licenseTermsId": terms["id"], **extra},
        headers=maker.auth,
    )


async def test_the_fee_is_authorised_on_apply_and_captured_on_approval(shop: Shop) -> None:
    creator, maker, asset, terms = await offer(shop)
    # when the maker applies with a card
    response = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    # then the fee is held on the card, not taken
    assert response.status_code == 201, response.text
    application = response.json()["data"]
    assert application["fee"] == 25.0 and application["feeStatus"] == "authorized"
    [tx] = await shop.transactions()
    assert tx.transaction_type == "license_fee" and tx.status == "pending"
    assert tx.license_id is not None and str(tx.license_id) == application["id"]
    assert (tx.buyer_id, tx.seller_id, tx.amount_minor) == (maker.id, creator.id, 2500)
    [intent] = [i for i in shop.provider.intents() if i.id == tx.payment_reference]
    assert intent.status == IntentStatus.REQUIRES_CAPTURE and intent.amount_captured_minor == 0
    assert (await shop.ledger_balance(creator.id)).pending_minor == 0

    # when the licensor approves the application
    approved = await shop.client.put(
        f"/v1/licenses/{application['id']}/approve", headers=creator.auth
    )
    # then the fee is captured: the platform keeps 10%, the licensor earns the rest
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["feeStatus"] == "captured"
    [tx] = await shop.transactions()
    assert tx.status == "completed" and tx.platform_fee_minor == 250
    assert tx.seller_amount_minor == 2250
    [intent] = [i for i in shop.provider.intents() if i.id == tx.payment_reference]
    assert intent.status == IntentStatus.SUCCEEDED and intent.amount_captured_minor == 2500
    assert await shop.balance_of(creator) == {"currency": "USD", "pending": 22.5, "available": 0}
    [completed] = await shop.events("payment.completed")
    assert completed["transaction_type"] == "license_fee"
    assert await shop.ledger_problems() == []
    # and it shows in both parties' histories
    mine = await shop.client.get("/v1/payments/history", headers=creator.auth)
    assert [(t["transactionType"], t["role"]) for t in mine.json()["data"]] == [
        ("license_fee", "seller")
    ]
    theirs = await shop.client.get("/v1/payments/history", headers=maker.auth)
    assert [(t["transactionType"], t["role"]) for t in theirs.json()["data"]] == [
        ("license_fee", "buyer")
    ]


async def test_the_fee_is_released_on_rejection(shop: Shop) -> None:
    creator, maker, asset, terms = await offer(shop)
    application = (await apply(shop, maker, asset, terms, paymentMethod=VISA)).json()["data"]
    # when the licensor rejects it
    rejected = await shop.client.put(
        f"/v1/licenses/{application['id']}/reject",
        json={"reason": "Not a fit for the brand"},
        headers=creator.auth,
    )
    # then the authorisation is released, nothing was taken and nobody earned anything
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["data"]["feeStatus"] == "released"
    [tx] = await shop.transactions()
    assert tx.status == "failed" and tx.failure_reason == "released: rejected"
    [intent] = [i for i in shop.provider.intents() if i.id == tx.payment_reference]
    assert intent.status == IntentStatus.CANCELED and intent.amount_captured_minor == 0
    assert (await shop.fingerprint())["postings"] == 0
    assert await shop.ledger_problems() == []


async def test_auto_approved_terms_take_the_fee_at_once(shop: Shop) -> None:
    creator, maker, asset, terms = await offer(shop, autoApprove=True)
    response = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    assert response.status_code == 201, response.text
    application = response.json()["data"]
    assert application["status"] == "approved" and application["feeStatus"] == "captured"
    [tx] = await shop.transactions()
    assert tx.status == "completed"
    assert (await shop.ledger_balance(creator.id)).pending_minor == 2250
    assert await shop.ledger_problems() == []


async def test_a_fee_needs_a_card_that_pays(shop: Shop) -> None:
    _, maker, asset, terms = await offer(shop)
    before = await shop.fingerprint()
    # without a payment method: a validation error naming the field
    missing = error_of(await apply(shop, maker, asset, terms), 422, "VALIDATION_ERROR")
    assert missing["details"]["errors"][0]["field"] == "paymentMethod"
    # a malformed one
    error_of(await apply(shop, maker, asset, terms, paymentMethod="x y"), 422, "VALIDATION_ERROR")
    # a declined card: no application, no transaction, no money
    declined = await apply(shop, maker, asset, terms, paymentMethod=DECLINED)
    error_of(declined, 402, "PAYMENT_FAILED")
    after = await shop.fingerprint()
    assert {k: v for k, v in after.items() if k != "intents"} == {
        k: v for k, v in before.items() if k != "intents"
    }
    assert all(
        i.status == IntentStatus.CANCELED for i in shop.provider.intents()[before["intents"] :]
    )
    listed = await shop.client.get("/v1/licenses/applications", headers=maker.auth)
    assert listed.json()["data"] == []
    # and it can then apply with a card that pays
    response = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    assert response.status_code == 201, response.text


async def test_free_terms_take_no_payment(shop: Shop) -> None:
    creator = await shop.rights.user("creator")
    maker = await shop.rights.user("secondary_creator")
    asset = await shop.rights.asset(creator)
    terms = await shop.rights.terms(creator, asset["id"])
    response = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["feeStatus"] == "none"
    assert await shop.transactions() == []
