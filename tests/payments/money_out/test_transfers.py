"""Separate charges and transfers: a completed sale sends each recipient's part to their
connected account, grouped by the transaction; refunds reverse those transfers in proportion,
once per refund."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ipmarket.eventbus import Event, EventType
from ipmarket.eventbus.delivery import RetryPolicy
from ipmarket.eventbus.models import OutboxEvent, ProcessedEvent
from ipmarket.eventbus.registry import ConsumerRegistry, registry
from ipmarket.eventbus.relay import OutboxRelay
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.payments.consumers import (
    REVERSAL_CONSUMER,
    TRANSFER_CONSUMER,
    reverse_transfers,
    transfer_earnings,
)
from ipmarket.payments.models import PaymentAccount, Transfer, TransferReversal
from tests.payments.shop import Shop, freeze
from tests.support import Account


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


def relay(db: Database, *consumers: str) -> OutboxRelay:
    """A relay of the transfer consumers only (all of them when none is named), retrying a
    failed delivery at once."""
    mine = ConsumerRegistry()
    for name in consumers or (TRANSFER_CONSUMER, REVERSAL_CONSUMER):
        mine.add(registry.get(name))
    return OutboxRelay(db, registry=mine, retry_policy=RetryPolicy(base=timedelta(0), jitter=0))


async def deliver(shop: Shop, *consumers: str) -> None:
    await relay(shop.db, *consumers).run_until_idle()


async def three_level_sale(shop: Shop) -> tuple[dict[str, Any], dict[str, Any]]:
    """The chain of three and a completed sale of 9.99 of S3's product: platform 1.00,
    creator 1.00, S1 0.50, S2 0.50 and the seller S3 6.99."""
    chain = await shop.rights.chain_of_three()
    product = await shop.rights.product(chain["s3"], chain["l3"]["id"], price=3.33)
    buyer = await shop.buyer()
    sale = await shop.bought(buyer, product["id"], quantity=3)
    return chain, sale


def parties(chain: dict[str, Any]) -> list[Account]:
    return [chain["creator"], chain["s1"], chain["s2"], chain["s3"]]


async def connected_accounts(shop: Shop) -> dict[uuid.UUID, str]:
    async with shop.db.sessionmaker() as session:
        rows = await session.execute(
            select(PaymentAccount.user_id, PaymentAccount.provider_account_id)
        )
        return dict(rows.all())


async def transfers(shop: Shop) -> dict[uuid.UUID, Transfer]:
    async with shop.db.sessionmaker() as session:
        rows = await session.execute(select(Transfer))
        return {t.recipient_id: t for t in rows.scalars()}


async def reversals(shop: Shop) -> list[TransferReversal]:
    async with shop.db.sessionmaker() as session:
        rows = await session.execute(select(TransferReversal).order_by(TransferReversal.created_at))
        return list(rows.scalars())


async def reversed_by_user(shop: Shop, refund_id: str) -> dict[uuid.UUID, int]:
    async with shop.db.sessionmaker() as session:
        rows = await session.execute(
            select(Transfer.recipient_id, TransferReversal.amount_minor)
            .join(Transfer, Transfer.id == TransferReversal.transfer_id)
            .where(TransferReversal.refund_id == uuid.UUID(refund_id))
        )
        return dict(rows.all())


async def outbox_event(shop: Shop, event_type: EventType) -> Event:
    async with shop.db.sessionmaker() as session:
        row = (
            await session.execute(
                select(OutboxEvent)
                .where(OutboxEvent.event_type == event_type.value)
                .order_by(OutboxEvent.occurred_at.desc())
                .limit(1)
            )
        ).scalar_one()
        return Event(
            id=row.id, type=event_type, payload=dict(row.payload), occurred_at=row.occurred_at
        )


async def pending_minor(shop: Shop, accounts: list[Account]) -> dict[uuid.UUID, int]:
    return {a.id: (await shop.ledger_balance(a.id)).pending_minor for a in accounts}


# --- transfers ------------------------------------------------------------------------------


async def test_a_sale_transfers_each_recipients_part_grouped_by_the_transaction(
    shop: Shop,
) -> None:
    # given a completed sale under a chain of three licenses
    chain, sale = await three_level_sale(shop)
    assert shop.provider.transfers() == []  # nothing moves inside the request

    # when its payment.completed event is delivered
    await deliver(shop)

    # then each recipient got one transfer of their part, in the sale's transfer group, to
    # their own connected account; the platform's fee stayed with the platform
    creator, s1, s2, s3 = parties(chain)
    expected = {creator.id: 100, s1.id: 50, s2.id: 50, s3.id: 699}
    accounts = await connected_accounts(shop)
    assert set(accounts) == set(expected)
    assert all(account.startswith("acct_test_") for account in accounts.values())
    at_provider = shop.provider.transfers()
    assert {t.destination: t.amount_minor for t in at_provider} == {
        accounts[user]: amount for user, amount in expected.items()
    }
    assert {t.transfer_group for t in at_provider} == {sale["id"]}
    assert {t.source_payment for t in at_provider} == {sale["paymentReference"]}
    assert sum(t.amount_minor for t in at_provider) == 999 - 100
    assert sorted(c.idempotency_key for c in shop.provider.calls("transfer")) == sorted(
        f"transfer:{sale['id']}:{user}" for user in expected
    )
    # and each is recorded with the provider's id
    rows = await transfers(shop)
    assert {user: row.amount_minor for user, row in rows.items()} == expected
    assert {row.provider_reference for row in rows.values()} == {t.id for t in at_provider}
    assert {(row.status, row.reversed_minor) for row in rows.values()} == {("transferred", 0)}
    assert {str(row.transaction_id) for row in rows.values()} == {sale["id"]}
    assert await shop.ledger_problems() == []


async def test_a_replayed_sale_event_transfers_nothing_more(shop: Shop) -> None:
    # given a sale whose transfers were made
    _chain, _sale = await three_level_sale(shop)
    await deliver(shop)
    calls = len(shop.provider.calls())

    # when its event is handled again
    event = await outbox_event(shop, EventType.PAYMENT_COMPLETED)
    async with shop.db.transaction() as session:
        await transfer_earnings(session, event)

    # then nothing was asked of the provider and nothing was recorded
    assert len(shop.provider.calls()) == calls
    assert len(shop.provider.transfers()) == 4
    assert len(await transfers(shop)) == 4


async def test_a_provider_outage_is_retried_under_the_same_keys(shop: Shop) -> None:
    # given a sale, and a provider that fails its third transfer
    chain, sale = await three_level_sale(shop)
    shop.provider.fail_next("transfer", after=2)

    # when its event is delivered: the first attempt fails and is rolled back, the relay
    # tries again
    await deliver(shop)

    # then the retry reused the keys: the two transfers made before the outage were not
    # made again, and every part was transferred once
    keys = sorted(f"transfer:{sale['id']}:{a.id}" for a in parties(chain))
    assert [(c.idempotency_key, c.outcome) for c in shop.provider.calls("transfer")] == [
        (keys[0], "ok"),
        (keys[1], "ok"),
        (keys[2], "unreachable"),
        (keys[0], "replayed"),
        (keys[1], "replayed"),
        (keys[2], "ok"),
        (keys[3], "ok"),
    ]
    assert len(shop.provider.transfers()) == 4
    assert len(await transfers(shop)) == 4
    async with shop.db.sessionmaker() as session:
        delivery = (
            await session.execute(
                select(ProcessedEvent).where(ProcessedEvent.consumer == TRANSFER_CONSUMER)
            )
        ).scalar_one()
    assert (delivery.status, delivery.attempts) == ("processed", 2)
    assert await shop.ledger_problems() == []


# --- reversals ------------------------------------------------------------------------------


async def test_partial_and_full_refunds_reverse_the_transfers_proportionally(
    shop: Shop,
) -> None:
    # given a sale whose transfers were made
    chain, sale = await three_level_sale(shop)
    await deliver(shop)
    everyone = parties(chain)
    before = await pending_minor(shop, everyone)

    # when 2.00 of it is refunded and the refund's event delivered
    response = await shop.refund(chain["s3"], sale["id"], 2.00)
    assert response.status_code == 200, response.text
    refund_id = response.json()["data"]["id"]
    await deliver(shop)

    # then each transfer was reversed by exactly what the refund took from that recipient
    # on the ledger
    after = await pending_minor(shop, everyone)
    taken = {user: before[user] - after[user] for user in before}
    assert await reversed_by_user(shop, refund_id) == {u: a for u, a in taken.items() if a}
    assert sum(taken.values()) == 200 - 20  # the platform gives back its 10% itself
    rows = await transfers(shop)
    assert {u: r.reversed_minor for u, r in rows.items()} == taken
    assert {r.status for r in rows.values()} == {"partially_reversed"}
    assert {r.transfer_id: r.amount_minor for r in shop.provider.reversals()} == {
        rows[u].provider_reference: a for u, a in taken.items() if a
    }
    assert sorted(c.idempotency_key for c in shop.provider.calls("reverse_transfer")) == sorted(
        f"reversal:{refund_id}:{u}" for u, a in taken.items() if a
    )

    # when the rest is refunded
    clock.advance(timedelta(seconds=1))
    rest = await shop.refund(chain["s3"], sale["id"])
    assert rest.status_code == 200, rest.text
    await deliver(shop)

    # then every transfer is reversed in full, at the provider too
    rows = await transfers(shop)
    assert {u: (r.status, r.reversed_minor) for u, r in rows.items()} == {
        u: ("reversed", r.amount_minor) for u, r in rows.items()
    }
    assert {t.amount_reversed_minor for t in shop.provider.transfers()} == {
        t.amount_minor for t in shop.provider.transfers()
    }
    assert len(await reversals(shop)) == 8
    assert await shop.ledger_problems() == []


async def test_a_replayed_refund_event_reverses_nothing_more(shop: Shop) -> None:
    # given a partial refund whose reversals were made
    chain, sale = await three_level_sale(shop)
    await deliver(shop)
    assert (await shop.refund(chain["s3"], sale["id"], 5.00)).status_code == 200
    await deliver(shop)
    reversed_before = {u: t.reversed_minor for u, t in (await transfers(shop)).items()}
    calls = len(shop.provider.calls())

    # when the refund's event is handled again
    event = await outbox_event(shop, EventType.REFUND_PROCESSED)
    async with shop.db.transaction() as session:
        await reverse_transfers(session, event)

    # then nothing more was reversed, at the provider or in the database
    assert len(shop.provider.calls()) == calls
    assert len(shop.provider.reversals()) == 4
    assert {u: t.reversed_minor for u, t in (await transfers(shop)).items()} == reversed_before
    assert len(await reversals(shop)) == 4
    assert await shop.ledger_problems() == []


async def test_a_refund_handled_before_its_sale_makes_the_transfers_first(shop: Shop) -> None:
    # given a sale refunded in full before its payment.completed event was delivered
    chain, sale = await three_level_sale(shop)
    assert (await shop.refund(chain["s3"], sale["id"])).status_code == 200

    # when the refund's event is delivered first, then the sale's
    await deliver(shop, REVERSAL_CONSUMER)
    await deliver(shop, TRANSFER_CONSUMER)

    # then each part was transferred once and reversed in full
    assert len(shop.provider.transfers()) == 4
    assert {(t.amount_minor, t.amount_reversed_minor) for t in shop.provider.transfers()} == {
        (100, 100),
        (50, 50),
        (699, 699),
    }
    assert {t.status for t in (await transfers(shop)).values()} == {"reversed"}
    assert await shop.ledger_problems() == []


async def test_a_connected_account_is_opened_once_per_user(shop: Shop) -> None:
    # given two sales with the same recipients
    chain = await shop.rights.chain_of_three()
    product = await shop.rights.product(chain["s3"], chain["l3"]["id"], price=3.33)
    buyer = await shop.buyer()
    await shop.bought(buyer, product["id"])
    await shop.bought(buyer, product["id"])

    # when both are delivered
    await deliver(shop)

    # then each recipient has one account, opened once at the provider, with their email
    assert len(shop.provider.transfers()) == 8
    accounts = shop.provider.accounts()
    assert sorted(a.user_id for a in accounts) == sorted(str(a.id) for a in parties(chain))
    assert {a.email for a in accounts} == {a.email for a in parties(chain)}
    assert len(await connected_accounts(shop)) == 4
    assert len(shop.provider.calls("create_account")) == 4
