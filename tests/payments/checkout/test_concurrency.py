"""Contention: many buyers at once, some retrying, never oversell and never charge twice."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter, defaultdict

import httpx

from ipmarket.kit.db import Database
from ipmarket.payments.providers import IntentStatus
from tests.payments.shop import Shop, freeze, key

REQUESTS = 200
STOCK = 10
BUYERS = 8


async def test_200_simultaneous_purchases_of_ten_units(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a product with ten units and eight buyers
    freeze()
    shop = Shop(client, db)
    product, seller, licensor = await shop.product(price=5.00, stock=STOCK)
    buyers = [await shop.buyer() for _ in range(BUYERS)]
    # and 200 purchase requests: 160 with keys of their own, 40 retrying one of those
    rng = random.Random(4)
    originals = [(buyers[i % BUYERS], key()) for i in range(REQUESTS * 4 // 5)]
    retries = [rng.choice(originals) for _ in range(REQUESTS - len(originals))]
    requests = originals + retries
    rng.shuffle(requests)

    # when they all arrive at once
    responses = await asyncio.gather(
        *(
            shop.buy(buyer, product["id"], quantity=1, idempotency_key=idem)
            for buyer, idem in requests
        )
    )

    # then every answer is a sale or a conflict (sold out, or the same key in flight)
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    # and exactly ten units were sold, to ten different keys
    sold_by_key: dict[tuple[uuid.UUID, str], set[str]] = defaultdict(set)
    for (buyer, idem), response in zip(requests, responses, strict=True):
        if response.status_code == 201:
            data = response.json()["data"]
            assert data["status"] == "completed"
            sold_by_key[(buyer.id, idem)].add(data["id"])
    assert len(sold_by_key) == STOCK
    # a key's answers name one transaction, whether first or replayed
    assert all(len(ids) == 1 for ids in sold_by_key.values())
    # and the stock is gone, never below zero
    row = await shop.product_row(product["id"])
    assert row.inventory_count == 0 and row.status == "sold_out"
    # and the database agrees: ten completed sales of one unit, none pending
    transactions = await shop.transactions()
    completed = [t for t in transactions if t.status == "completed"]
    assert len(completed) == STOCK and sum(t.quantity for t in completed) == STOCK
    assert not [t for t in transactions if t.status == "pending"]
    assert {str(t.id) for t in completed} == {i for ids in sold_by_key.values() for i in ids}
    # and the provider charged ten times, once for each of those transactions
    charged = [i for i in shop.provider.intents() if i.status == IntentStatus.SUCCEEDED]
    charged = [i for i in charged if i.metadata.get("product_id") == product["id"]]
    assert len(charged) == STOCK
    assert Counter(i.metadata["transaction_id"] for i in charged) == Counter(
        str(t.id) for t in completed
    )
    assert all(i.amount_captured_minor == 500 for i in charged)
    # and the ledger balances, paying the seller and the licensor for ten units
    assert await shop.ledger_problems() == []
    assert (await shop.ledger_balance(seller.id)).pending_minor == STOCK * 400
    assert (await shop.ledger_balance(licensor.id)).pending_minor == STOCK * 50
