"""Money pages: balances, earnings, payouts, and a seller's refund of an order, driven as a
browser without JavaScript would."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.payments.models import Payout, Refund
from tests.payments.shop import DECLINED, Shop, freeze
from tests.support import Account
from tests.web.support import csrf_of, main_text, sign_in, statements_during

_KEY = re.compile(r'name="idempotencyKey" value="([^"]+)"')

Browser = Callable[[], httpx.AsyncClient]


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[Browser]:
    """A browser on the server, with its own cookies."""
    opened: list[httpx.AsyncClient] = []

    def open_one() -> httpx.AsyncClient:
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=("203.0.113.10", 5555)
        )
        opened.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
        return opened[-1]

    yield open_one
    for client in opened:
        await client.aclose()


async def signed_in(browser: Browser, account: Account) -> httpx.AsyncClient:
    client = browser()
    response = await sign_in(client, account.email, account.password)
    assert response.status_code == 303, response.text
    return client


def key_of(html: str) -> str:
    match = _KEY.search(html)
    assert match, "the form carries no idempotency key"
    return match.group(1)


async def send(
    client: httpx.AsyncClient, form_page: str | httpx.Response, action: str, **fields: Any
) -> httpx.Response:
    """Post the form of `form_page` (a URL, or a page as drawn) with its CSRF token and
    idempotency key."""
    page = await client.get(form_page) if isinstance(form_page, str) else form_page
    assert page.status_code in (200, 402, 409, 422), page.text
    data = {"csrf_token": csrf_of(page.text), "idempotencyKey": key_of(page.text), **fields}
    return await client.post(action, data=data)


async def a_sale(shop: Shop, *, price: float = 20.00) -> tuple[dict[str, Any], Account, Account]:
    """A completed sale of a product at `price` with a 10 % license share and the platform's
    10 % fee: (the sale, its seller, the licensor)."""
    product, seller, licensor = await shop.product(price=price, stock=50, share=10)
    sale = await shop.bought(await shop.buyer(), product["id"])
    return sale | {"title": product["title"], "product": product}, seller, licensor


# --- balances and earnings ------------------------------------------------------------------


async def test_an_earner_sees_balances_earnings_and_the_minimum_payout(
    shop: Shop, browser: Browser
) -> None:
    # given a sale of 20.00: 2.00 to the platform, 2.00 to the licensor, 16.00 to the seller
    sale, seller, licensor = await a_sale(shop)
    # and a purchase whose card was declined, which paid nobody
    declined = await shop.buy(await shop.buyer(), sale["product"]["id"], payment_method=DECLINED)
    assert declined.status_code == 402
    # when the seller opens their money page
    page = await (await signed_in(browser, seller)).get("/money")
    # then the balance is pending, with its currency, and the sale is in their earnings
    assert page.status_code == 200
    text = main_text(page.text)
    assert "Pending 16.00 USD" in text and "Available 0.00 USD" in text
    assert "The minimum payout is 10.00 USD" in text
    assert sale["title"] in text and "seller" in text
    assert f'href="/money/sales/{sale["id"]}"' in page.text
    assert page.text.count('href="/money/sales/') == 1  # not the declined one
    assert "below the minimum" in text  # nothing to pay out yet
    # and the licensor sees their share of the same sale (and no seller's view of it)
    theirs = await (await signed_in(browser, licensor)).get("/money")
    text = main_text(theirs.text)
    assert "Pending 2.00 USD" in text and sale["title"] in text and "licensor" in text
    assert f'href="/money/sales/{sale["id"]}"' not in theirs.text


async def test_money_pages_are_for_earners(shop: Shop, browser: Browser) -> None:
    buyer = await shop.buyer()
    client = await signed_in(browser, buyer)
    for path in ("/money", "/money/payouts"):
        assert (await client.get(path)).status_code == 403
    assert (await browser().get("/money")).status_code == 303  # to sign in


# --- payouts ----------------------------------------------------------------------------------


async def test_a_payout_request_pays_out_and_shows_in_the_history(
    shop: Shop, browser: Browser
) -> None:
    # given a seller whose 16.00 became available after the hold
    _, seller, _ = await a_sale(shop)
    clock.advance(timedelta(days=7, minutes=1))
    await shop.release_matured()
    client = await signed_in(browser, seller)
    form = await client.get("/money")
    assert "Available 16.00 USD" in main_text(form.text)
    # when they ask for 12.00, sending the form twice
    first = await send(client, form, "/money/payout", amount="12.00")
    again = await send(client, form, "/money/payout", amount="12.00")
    # then one payout of 12.00 is made, shown in the payout history
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == "/money/payouts"
    history = await client.get("/money/payouts")
    text = main_text(history.text)
    assert "12.00 USD" in text and "paid" in text and "Available 4.00 USD" in text
    assert await shop.count(Payout) == 1
    balance = await shop.ledger_balance(seller.id)
    assert (balance.pending_minor, balance.available_minor) == (0, 400)
    assert len(shop.provider.payouts()) == 1
    assert await shop.ledger_problems() == []


async def test_a_payout_below_the_minimum_is_refused_beside_its_field(
    shop: Shop, browser: Browser
) -> None:
    _, seller, _ = await a_sale(shop)
    clock.advance(timedelta(days=7, minutes=1))
    await shop.release_matured()
    client = await signed_in(browser, seller)
    before = await shop.fingerprint()
    refused = await send(client, "/money", "/money/payout", amount="5.00")
    assert refused.status_code == 422
    assert "The minimum payout is 10.00" in main_text(refused.text)
    assert 'id="e-amount"' in refused.text and 'value="5.00"' in refused.text
    too_much = await send(client, refused, "/money/payout", amount="99.00")
    assert too_much.status_code == 422
    assert "exceeds your available balance" in main_text(too_much.text)
    assert await shop.fingerprint() == before
    assert (await shop.ledger_balance(seller.id)).available_minor == 1600


# --- a seller's refund --------------------------------------------------------------------------


async def test_a_seller_refunds_part_then_the_rest_of_an_order(
    shop: Shop, browser: Browser
) -> None:
    # given a sale of 20.00 and its seller on the sale's page
    sale, seller, licensor = await a_sale(shop)
    client = await signed_in(browser, seller)
    page = await client.get(f"/money/sales/{sale['id']}")
    assert page.status_code == 200
    text = main_text(page.text)
    assert "Platform fee 2.00 USD" in text and "Your part 16.00 USD" in text
    assert "Up to 20.00 USD can be refunded" in text
    # when they refund 5.00 with a reason
    done = await send(
        client, page, f"/money/sales/{sale['id']}/refund", amount="5.00", reason="Chipped rim"
    )
    # then the refund is made and shown; every party gave back a quarter of their part
    assert done.status_code == 303
    assert done.headers["location"] == f"/money/sales/{sale['id']}"
    after = await client.get(done.headers["location"])
    text = main_text(after.text)
    assert "Refunded 5.00 USD to the buyer." in text
    assert "Chipped rim" in text and "succeeded" in text
    assert "Up to 15.00 USD can be refunded" in text
    assert (await shop.ledger_balance(seller.id)).pending_minor == 1200
    assert (await shop.ledger_balance(licensor.id)).pending_minor == 150
    assert len(shop.provider.refunds()) == 1
    # when they refund the rest (no amount)
    rest = await send(client, after, f"/money/sales/{sale['id']}/refund", reason="Out of stock")
    assert rest.status_code == 303
    final = main_text((await client.get(f"/money/sales/{sale['id']}")).text)
    assert "refunded in full" in final and "refunded" in final
    assert (await shop.ledger_balance(seller.id)).pending_minor == 0
    assert (await shop.ledger_balance(licensor.id)).pending_minor == 0
    assert await shop.ledger_problems() == []


async def test_the_buyer_sees_the_refunds_on_their_order(shop: Shop, browser: Browser) -> None:
    product, seller, _ = await shop.product(price=20.00, stock=5)
    buyer = await shop.buyer()
    sale = await shop.bought(buyer, product["id"])
    seller_client = await signed_in(browser, seller)
    done = await send(
        seller_client,
        f"/money/sales/{sale['id']}",
        f"/money/sales/{sale['id']}/refund",
        amount="7.50",
        reason="Late delivery",
    )
    assert done.status_code == 303
    order = main_text((await (await signed_in(browser, buyer)).get(f"/orders/{sale['id']}")).text)
    assert "7.50 USD" in order and "Late delivery" in order and "12.50 USD" in order


async def test_a_refund_form_with_bad_input_is_refused_and_changes_nothing(
    shop: Shop, browser: Browser
) -> None:
    sale, seller, _ = await a_sale(shop)
    client = await signed_in(browser, seller)
    before = await shop.fingerprint()
    action = f"/money/sales/{sale['id']}/refund"
    too_much = await send(
        client, f"/money/sales/{sale['id']}", action, amount="25.00", reason="x y z"
    )
    assert too_much.status_code == 422
    assert 'id="e-amount"' in too_much.text and "exceeds what remains" in main_text(too_much.text)
    no_reason = await send(client, too_much, action, amount="1.00")
    assert no_reason.status_code == 422
    assert 'id="e-reason"' in no_reason.text
    negative = await send(client, no_reason, action, amount="-3", reason="Broken")
    assert negative.status_code == 422 and 'id="e-amount"' in negative.text
    assert await shop.fingerprint() == before


async def test_only_the_seller_may_see_or_refund_a_sale(shop: Shop, browser: Browser) -> None:
    # given a sale, its buyer, its licensor and another seller
    product, seller, licensor = await shop.product(price=20.00, stock=5)
    buyer = await shop.buyer()
    sale = await shop.bought(buyer, product["id"])
    other_seller = await shop.rights.user("secondary_creator")
    own = await signed_in(browser, seller)
    form = await own.get(f"/money/sales/{sale['id']}")  # a genuine form, to replay elsewhere
    before = await shop.fingerprint()
    action = f"/money/sales/{sale['id']}/refund"
    # then another seller and the licensor get 404 on its page, and on its refund
    for account in (other_seller, licensor):
        client = await signed_in(browser, account)
        assert (await client.get(f"/money/sales/{sale['id']}")).status_code == 404
        page = await client.get("/money")
        refused = await client.post(
            action,
            data={
                "csrf_token": csrf_of(page.text),
                "idempotencyKey": key_of(form.text),
                "amount": "5.00",
                "reason": "Not mine to refund",
            },
        )
        assert refused.status_code == 404
    # and the buyer is refused the money pages altogether
    buyer_client = await signed_in(browser, buyer)
    page = await buyer_client.get(f"/orders/{sale['id']}")
    refused = await buyer_client.post(
        action, data={"csrf_token": csrf_of(page.text), "reason": "Refund myself please"}
    )
    assert refused.status_code == 403
    # and nothing changed
    assert await shop.fingerprint() == before
    assert await shop.count(Refund) == 0


# --- query counts ---------------------------------------------------------------------------


async def test_money_lists_run_as_many_statements_for_2_rows_as_for_20(
    shop: Shop, browser: Browser, app: FastAPI
) -> None:
    # given two sellers with 2 and 20 sales, each paid out as often, 1.00 at a time
    await shop.settings(minimumPayout=1)
    sellers = []
    for sales in (2, 20):
        product, seller, _ = await shop.product(price=2.00, stock=50)
        buyer = await shop.buyer()
        for _ in range(sales):
            await shop.bought(buyer, product["id"])
        sellers.append((seller, sales))
    clock.advance(timedelta(days=7, minutes=1))
    await shop.release_matured()
    for seller, sales in sellers:
        await shop.log_in_again(seller)
        for _ in range(sales):
            assert (await shop.payout(seller, 1.00)).status_code == 201

    async def count(account: Account, path: str, rows: int) -> int:
        client = await signed_in(browser, account)
        with statements_during(app.state.db) as seen:
            page = await client.get(path)
        assert page.status_code == 200
        assert main_text(page.text).count(" USD") >= rows
        return len(seen)

    (few, two), (many, twenty) = sellers
    assert await count(few, "/money", two) == await count(many, "/money", twenty)
    assert await count(few, "/money/payouts", two) == await count(many, "/money/payouts", twenty)
