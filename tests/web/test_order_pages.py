"""Checkout, the order page and the order history, driven as a browser without JavaScript
would: plain forms, cookies, redirects."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ipmarket.kit.db import Database
from ipmarket.payments.models import Transaction
from tests.payments.shop import Shop
from tests.support import Account
from tests.web.support import csrf_of, main_text, sign_in, statements_during

VISA = "4242424242424242"
DECLINING = "4000000000000002"
_KEY = re.compile(r'name="idempotencyKey" value="([^"]+)"')

Browser = Callable[[], httpx.AsyncClient]


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    return Shop(client, db)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[Browser]:
    """Another browser on the same server: its own cookies."""
    opened: list[httpx.AsyncClient] = []

    def open_one() -> httpx.AsyncClient:
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=("203.0.113.9", 5555)
        )
        opened.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
        return opened[-1]

    yield open_one
    for client in opened:
        await client.aclose()


def key_of(html: str) -> str:
    match = _KEY.search(html)
    assert match, "the form carries no idempotency key"
    return match.group(1)


async def signed_in(client: httpx.AsyncClient, account: Account) -> None:
    response = await sign_in(client, account.email, account.password)
    assert response.status_code == 303, response.text


async def checkout_form(
    client: httpx.AsyncClient, product_id: str, quantity: int = 1
) -> httpx.Response:
    page = await client.get(f"/checkout/{product_id}", params={"quantity": quantity})
    assert page.status_code == 200, page.text
    return page


async def pay(
    client: httpx.AsyncClient, form: httpx.Response, product_id: str, card: str, **extra: Any
) -> httpx.Response:
    """Send the checkout form `form` (a page as drawn) with `card`."""
    quantity = re.search(r'name="quantity" value="(\d+)"', form.text.split('method="post"', 1)[1])
    assert quantity
    fields = {
        "csrf_token": csrf_of(form.text),
        "idempotencyKey": key_of(form.text),
        "quantity": quantity.group(1),
        "cardNumber": card,
        **extra,
    }
    return await client.post(f"/checkout/{product_id}", data=fields)


async def buy_on_the_web(
    client: httpx.AsyncClient, product_id: str, quantity: int = 1, card: str = VISA
) -> str:
    """A completed purchase through the pages; the order's id."""
    done = await pay(client, await checkout_form(client, product_id, quantity), product_id, card)
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    assert location.startswith("/orders/")
    return location.removeprefix("/orders/")


async def transaction(db: Database, order_id: str) -> Transaction:
    async with db.sessionmaker() as session:
        row = await session.scalar(select(Transaction).where(Transaction.id == uuid.UUID(order_id)))
        assert row is not None
        return row


# --- checkout -------------------------------------------------------------------------------


async def test_a_buyer_pays_with_a_test_card_and_sees_what_was_paid(
    shop: Shop, client: httpx.AsyncClient, db: Database
) -> None:
    # given a product on sale at 19.99 and a buyer signed in on the web
    product, seller, licensor = await shop.product(price=19.99, stock=10, share=10)
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    # when they press buy on the product page (a form that posts the quantity)
    page = await client.get("/account")
    pressed = await client.post(
        f"/checkout/{product['id']}", data={"csrf_token": csrf_of(page.text), "quantity": "2"}
    )
    # then they are sent to the checkout form, which states the total and the test cards
    assert pressed.status_code == 303
    assert pressed.headers["location"] == f"/checkout/{product['id']}?quantity=2"
    form = await client.get(pressed.headers["location"])
    text = main_text(form.text)
    assert product["title"] in text and "39.98 USD" in text
    assert "4242 4242 4242 4242" in text and "4000 0000 0000 0002" in text
    assert "Declined" in text and "Pays" in text
    assert "<script" not in form.text.split('<main id="main">', 1)[1]  # a plain form
    # when they pay with the Visa test card
    done = await pay(client, form, product["id"], VISA)
    # then the order page shows what was paid, with its currency, and the way to verify it
    assert done.status_code == 303
    order_url = done.headers["location"]
    order = await client.get(order_url)
    assert order.status_code == 200
    text = main_text(order.text)
    assert "Thank you: your order is paid." in text
    assert "completed" in text and "39.98 USD" in text and "19.99 USD" in text
    assert seller.username in text
    code = re.search(r'href="/verify/([^"]+)"', order.text)
    assert code, "the order links to the product's verification"
    # and not how it was split
    assert "Platform fee" not in text and "share" not in text.lower()
    # and the money moved: the stock, the transaction, the parties' pending balances
    assert (await shop.product_row(product["id"])).inventory_count == 8
    tx = await transaction(db, order_url.removeprefix("/orders/"))
    assert (tx.status, tx.amount_minor, tx.quantity, tx.product_title) == (
        "completed",
        3998,
        2,
        product["title"],
    )
    assert (await shop.ledger_balance(seller.id)).pending_minor == tx.seller_amount_minor > 0
    assert (await shop.ledger_balance(licensor.id)).pending_minor == 400  # 10 % of 39.98
    assert await shop.ledger_problems() == []
    # and the verification link is the product's own code
    verified = await client.get(f"/v1/verify/{code.group(1)}")
    assert verified.status_code == 200
    assert verified.json()["data"]["product"]["id"] == product["id"]


async def test_a_form_sent_twice_buys_once(shop: Shop, client: httpx.AsyncClient) -> None:
    # given a buyer on the checkout form
    product, _, _ = await shop.product(stock=5)
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    form = await checkout_form(client, product["id"])
    # when the same form is sent twice (a double click)
    first = await pay(client, form, product["id"], VISA)
    second = await pay(client, form, product["id"], VISA)
    # then both lead to the same order, and one unit was bought
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    again = await client.get(second.headers["location"])
    assert "placed already" in main_text(again.text)
    assert (await shop.product_row(product["id"])).inventory_count == 4
    assert len(await shop.transactions()) == 1
    # and a freshly drawn form is a new purchase
    await buy_on_the_web(client, product["id"])
    assert (await shop.product_row(product["id"])).inventory_count == 3


async def test_a_declined_card_is_shown_and_moves_nothing(
    shop: Shop, client: httpx.AsyncClient
) -> None:
    # given a buyer on the checkout form
    product, seller, licensor = await shop.product(stock=3)
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    form = await checkout_form(client, product["id"])
    before = await shop.fingerprint()
    # when they pay with the declining test card
    declined = await pay(client, form, product["id"], DECLINING)
    # then the form comes back with the decline, status 402, and a new key
    assert declined.status_code == 402
    assert "declined" in main_text(declined.text).lower()
    assert key_of(declined.text) != key_of(form.text)
    assert DECLINING not in declined.text  # a card number is never sent back
    # and no stock, posting or balance moved (the failed attempt is recorded, as on the API)
    after = await shop.fingerprint()
    assert after["stock"] == before["stock"]
    assert (after["postings"], after["entries"]) == (before["postings"], before["entries"])
    for party in (seller, licensor, buyer):
        balance = await shop.ledger_balance(party.id)
        assert (balance.pending_minor, balance.available_minor) == (0, 0)
    [failed] = await shop.transactions()
    assert failed.status == "failed"
    # when they pay on the redrawn form with a card that pays
    paid = await pay(client, declined, product["id"], VISA)
    # then the order is made
    assert paid.status_code == 303
    assert (await shop.product_row(product["id"])).inventory_count == 2
    assert await shop.ledger_problems() == []


async def test_a_card_that_is_not_a_test_card_is_refused_on_its_field(
    shop: Shop, client: httpx.AsyncClient
) -> None:
    product, _, _ = await shop.product(stock=3)
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    form = await checkout_form(client, product["id"])
    before = await shop.fingerprint()
    refused = await pay(client, form, product["id"], "1234 5678 9012 3456")
    assert refused.status_code == 422
    assert 'id="e-cardNumber"' in refused.text
    assert "1234 5678" not in refused.text
    assert await shop.fingerprint() == before


async def test_more_than_the_stock_is_refused_and_nothing_is_taken(
    shop: Shop, client: httpx.AsyncClient
) -> None:
    # given a product with 2 left
    product, _, _ = await shop.product(stock=2)
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    # when the buyer asks for 3, the checkout form says so beside the quantity
    form = await checkout_form(client, product["id"], quantity=3)
    assert "Only 2 left in stock" in main_text(form.text)
    assert 'id="e-quantity"' in form.text
    # and paying for 3 anyway is refused with 409, nothing taken
    before = await shop.fingerprint()
    refused = await pay(client, form, product["id"], VISA)
    assert refused.status_code == 409
    assert "Only 2 left in stock" in main_text(refused.text)
    assert await shop.fingerprint() == before
    # when the last units are sold, the checkout says it is sold out
    await buy_on_the_web(client, product["id"], quantity=2)
    sold_out = await client.get(f"/checkout/{product['id']}")
    assert sold_out.status_code == 409
    assert "sold out" in main_text(sold_out.text)


async def test_a_suspended_product_cannot_be_bought_and_nothing_changes(
    shop: Shop, client: httpx.AsyncClient
) -> None:
    # given a buyer on the checkout form of a product whose license is then revoked
    product, _, licensor = await shop.product(stock=3)
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    form = await checkout_form(client, product["id"])
    await revoke_license(shop, product, licensor)
    before = await shop.fingerprint()
    # when they pay
    refused = await pay(client, form, product["id"], VISA)
    # then the page says the product is suspended, with the API's status, and nothing moved
    assert refused.status_code == 409
    assert "suspended" in main_text(refused.text)
    assert await shop.fingerprint() == before
    assert (await client.get(f"/checkout/{product['id']}")).status_code == 409


async def test_checkout_needs_a_buyer_signed_in(
    shop: Shop, client: httpx.AsyncClient, browser: Browser
) -> None:
    product, seller, _ = await shop.product()
    # a visitor is sent to sign in, and back
    visitor = await client.get(f"/checkout/{product['id']}")
    assert visitor.status_code == 303
    assert visitor.headers["location"] == f"/sign-in?next=/checkout/{product['id']}"
    # a seller may not buy (not a buyer's permission)
    seller_browser = browser()
    await signed_in(seller_browser, seller)
    assert (await seller_browser.get(f"/checkout/{product['id']}")).status_code == 403
    # an unknown product is not found
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    assert (await client.get(f"/checkout/{uuid.uuid4()}")).status_code == 404
    # a form without its CSRF token changes nothing
    form = await checkout_form(client, product["id"])
    before = await shop.fingerprint()
    forged = await client.post(
        f"/checkout/{product['id']}",
        data={"idempotencyKey": key_of(form.text), "quantity": "1", "cardNumber": VISA},
    )
    assert forged.status_code == 403
    assert await shop.fingerprint() == before


# --- orders ---------------------------------------------------------------------------------


async def revoke_license(shop: Shop, product: dict[str, Any], licensor: Account) -> None:
    await shop.log_in_again(licensor)
    revoked = await shop.client.put(
        f"/v1/licenses/{product['licenseId']}/revoke",
        json={"reason": "Breach of terms"},
        headers=licensor.auth,
    )
    assert revoked.status_code == 200, revoked.text


async def test_an_order_of_a_product_later_suspended_still_shows_what_was_bought(
    shop: Shop, client: httpx.AsyncClient, browser: Browser
) -> None:
    # given a buyer who bought a product whose license was revoked afterwards
    product, _, licensor = await shop.product(price=12.50, stock=4)
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    order_id = await buy_on_the_web(client, product["id"])
    await revoke_license(shop, product, licensor)
    # then the product itself is no longer public
    gone = await shop.client.get(f"/v1/products/{product['id']}", headers=buyer.auth)
    assert gone.status_code == 404
    # but their order still shows what they bought, at what price, and why it is off sale
    order = await client.get(f"/orders/{order_id}")
    assert order.status_code == 200
    text = main_text(order.text)
    assert product["title"] in text and "12.50 USD" in text
    assert "No longer on sale" in text and "suspended" in text and "license revoked" in text
    assert f'href="/products/{product["id"]}"' not in order.text  # no link to a 404
    history = await client.get("/orders")
    assert product["title"] in main_text(history.text)
    assert "No longer on sale" in main_text(history.text)
    # and the API's history says the same
    await shop.log_in_again(buyer)
    api = await shop.client.get("/v1/payments/history", headers=buyer.auth)
    [item] = api.json()["data"]
    assert item["productTitle"] == product["title"]
    assert item["productAvailability"] == "suspended"
    assert "license revoked" in item["productUnavailableReason"]
    # and another user sees nothing of it
    stranger = browser()
    await signed_in(stranger, await shop.buyer())
    assert (await stranger.get(f"/orders/{order_id}")).status_code == 404


async def test_an_order_of_a_removed_product_says_it_was_removed(
    shop: Shop, client: httpx.AsyncClient
) -> None:
    product, seller, _ = await shop.product(stock=4)
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    order_id = await buy_on_the_web(client, product["id"])
    await shop.log_in_again(seller)
    deleted = await shop.client.delete(f"/v1/products/{product['id']}", headers=seller.auth)
    assert deleted.status_code == 200, deleted.text
    text = main_text((await client.get(f"/orders/{order_id}")).text)
    assert product["title"] in text and "removed" in text


async def test_another_users_order_is_not_found(
    shop: Shop, client: httpx.AsyncClient, browser: Browser
) -> None:
    # given two buyers, one of whom bought something
    product, seller, _ = await shop.product(stock=4)
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    order_id = await buy_on_the_web(client, product["id"])
    other = browser()
    await signed_in(other, await shop.buyer())
    # then the other buyer gets 404 on it and an empty history
    refused = await other.get(f"/orders/{order_id}")
    assert refused.status_code == 404
    assert product["title"] not in refused.text
    history = await other.get("/orders")
    assert history.status_code == 200
    assert "not ordered anything yet" in main_text(history.text)
    # and the seller's own view is under /money, not /orders
    seller_browser = browser()
    await signed_in(seller_browser, seller)
    assert (await seller_browser.get(f"/orders/{order_id}")).status_code == 404
    # and a signed-out visitor is sent to sign in
    assert (await browser().get(f"/orders/{order_id}")).status_code == 303


async def test_the_order_history_shows_status_and_refunds_and_is_paginated(
    shop: Shop, client: httpx.AsyncClient
) -> None:
    # given a buyer with 21 orders, one declined and one partly refunded
    product, seller, _ = await shop.product(price=1.00, stock=100)
    buyer = await shop.buyer()
    await signed_in(client, buyer)
    declined = await pay(
        client, await checkout_form(client, product["id"]), product["id"], DECLINING
    )
    assert declined.status_code == 402
    refunded = await buy_on_the_web(client, product["id"])
    refund = await shop.refund(seller, refunded, 0.40, reason="Chipped rim")
    assert refund.status_code == 200, refund.text
    for _ in range(19):
        await buy_on_the_web(client, product["id"])
    # then the first page holds the 20 newest, the second the oldest (the declined one)
    first = await client.get("/orders")
    assert first.text.count('href="/orders/') == 20
    assert "Page 1 of 2" in main_text(first.text) and "failed" not in main_text(first.text)
    second = await client.get("/orders", params={"page": 2})
    assert second.text.count('href="/orders/') == 1
    assert "failed" in main_text(second.text)
    # and the refunded order (the oldest on the first page) shows its refund
    assert "0.40 USD" in main_text(first.text) and "1 refund" in main_text(first.text)
    order = main_text((await client.get(f"/orders/{refunded}")).text)
    assert "0.40 USD" in order and "Chipped rim" in order and "0.60 USD" in order


async def test_the_order_history_runs_as_many_statements_for_2_orders_as_for_20(
    shop: Shop, browser: Browser, app: FastAPI
) -> None:
    # given two buyers, with 2 and 20 orders
    product, _, _ = await shop.product(price=1.00, stock=100)
    few, many = await shop.buyer(), await shop.buyer()
    for _ in range(2):
        await shop.bought(few, product["id"])
    for _ in range(20):
        await shop.bought(many, product["id"])

    async def count(account: Account) -> int:
        client = browser()
        await signed_in(client, account)
        with statements_during(app.state.db) as seen:
            page = await client.get("/orders")
        assert page.status_code == 200
        assert page.text.count('href="/orders/') == (2 if account is few else 20)
        return len(seen)

    assert await count(few) == await count(many)
