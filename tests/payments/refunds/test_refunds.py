"""Refunds are written first, then made: a pending refund has its posting and counts in the
transaction's refunded amount until the provider makes it (the request, or the
reconciliation job later, under the same key) or refuses it (then its posting is reversed
and the amount may be refunded again). Transfers are reversed only for refunds made."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ipmarket.audit.models import AuditLog
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.kit.periodic import job_registry
from ipmarket.payments import ledger
from ipmarket.payments.jobs import reconcile_refunds
from ipmarket.payments.models import LedgerPosting, Refund, Transaction
from ipmarket.payments.refunds.service import RefundService
from tests.payments.money_out.test_transfers import deliver, parties, reversals, three_level_sale
from tests.payments.shop import Shop, error_of, freeze, key
from tests.support import Account, create_admin


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


async def books(shop: Shop, accounts: list[Account]) -> dict[str, Any]:
    """Every balance a refund moves: each party's pending and available, the platform's
    revenue, the provider's clearing account."""
    async with shop.db.sessionmaker() as session:
        users = {}
        for account in accounts:
            found = await ledger.balance(session, account.id)
            users[str(account.id)] = (found.pending_minor, found.available_minor)
        return {
            "users": users,
            "platform": await ledger.account_total(session, ledger.platform_revenue()),
            "clearing": await ledger.account_total(session, ledger.provider_clearing()),
        }


async def refund_rows(shop: Shop) -> list[Refund]:
    async with shop.db.sessionmaker() as session:
        rows = await session.execute(select(Refund).order_by(Refund.created_at, Refund.id))
        return list(rows.scalars())


async def transaction(shop: Shop, transaction_id: str) -> Transaction:
    async with shop.db.sessionmaker() as session:
        found = await session.scalar(
            select(Transaction).where(Transaction.id == uuid.UUID(transaction_id))
        )
        assert found is not None
        return found


async def posting_kinds(shop: Shop, reference: str) -> list[str]:
    async with shop.db.sessionmaker() as session:
        rows = await session.execute(
            select(LedgerPosting.kind)
            .where(LedgerPosting.reference == reference)
            .order_by(LedgerPosting.created_at, LedgerPosting.kind)
        )
        return list(rows.scalars())


async def run_reconcile(shop: Shop) -> None:
    async with shop.db.transaction() as session:
        await reconcile_refunds(session)


def refund_calls(shop: Shop) -> list[tuple[str, str]]:
    return [(c.idempotency_key, c.outcome) for c in shop.provider.calls("refund")]


# --- made at once -----------------------------------------------------------------------------


async def test_a_refund_the_provider_makes_at_once_is_succeeded(shop: Shop) -> None:
    # given a sale under a chain of three
    chain, sale = await three_level_sale(shop)

    # when the seller refunds 2.00 of it
    response = await shop.refund(chain["s3"], sale["id"], 2.00)

    # then the refund is made, once, under a key of the refund, and answered as succeeded
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["status"], data["amount"], data["failureReason"]) == ("succeeded", 2.0, None)
    [at_provider] = shop.provider.refunds()
    assert data["providerReference"] == at_provider.id and data["processedAt"] is not None
    assert refund_calls(shop) == [(f"refund:{data['id']}", "ok")]
    assert data["transaction"]["status"] == "completed"
    assert data["transaction"]["refundedAmount"] == 2.0
    [row] = await refund_rows(shop)
    assert (str(row.id), row.status, row.amount_minor) == (data["id"], "succeeded", 200)
    assert await posting_kinds(shop, data["id"]) == ["refund"]
    [event] = await shop.events("refund.processed")
    assert event["refund_id"] == data["id"] and event["fully_refunded"] is False
    assert await shop.ledger_problems() == []


# --- the provider unreachable -------------------------------------------------------------------


async def test_an_unreachable_provider_leaves_it_pending_until_the_job_makes_it_once(
    shop: Shop,
) -> None:
    # given a sale whose transfers were made, and a provider that cannot be reached for the
    # next two refunds
    chain, sale = await three_level_sale(shop)
    await deliver(shop)
    before = await books(shop, parties(chain))
    shop.provider.fail_next("refund", times=2)

    # when the seller refunds it all
    idem = key()
    response = await shop.refund(chain["s3"], sale["id"], idempotency_key=idem)

    # then the refund is recorded, pending: its posting made and its amount counted as
    # refunded, nothing refunded at the provider, nothing announced, no transfer reversed
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["status"], data["providerReference"], data["processedAt"]) == (
        "pending",
        None,
        None,
    )
    assert data["transaction"]["status"] == "completed"
    assert data["transaction"]["refundedAmount"] == 9.99
    assert shop.provider.refunds() == []
    assert await shop.events("refund.processed") == []
    assert await posting_kinds(shop, data["id"]) == ["refund"]
    after = await books(shop, parties(chain))
    assert after["platform"] == before["platform"] - 100
    assert after["clearing"] == before["clearing"] + 999
    assert await shop.ledger_problems() == []

    # and meanwhile no other refund of the payment is started
    error = error_of(await shop.refund(chain["s3"], sale["id"], 0.01), 409, "CONFLICT")
    assert error["message"] == "The payment was refunded in full already"

    # when the job runs before a minute has passed: it leaves the request's refund alone
    await run_reconcile(shop)
    assert len(refund_calls(shop)) == 1

    # when it runs later, still unreachable, then reachable again
    clock.advance(timedelta(minutes=2))
    await run_reconcile(shop)
    assert [r.status for r in await refund_rows(shop)] == ["pending"]
    clock.advance(timedelta(minutes=1))
    await run_reconcile(shop)

    # then it was made once, every attempt under the same key
    [row] = await refund_rows(shop)
    [at_provider] = shop.provider.refunds()
    assert (row.status, row.provider_reference) == ("succeeded", at_provider.id)
    assert at_provider.amount_minor == 999
    refund_key = f"refund:{data['id']}"
    assert refund_calls(shop) == [
        (refund_key, "unreachable"),
        (refund_key, "unreachable"),
        (refund_key, "ok"),
    ]
    assert (await transaction(shop, sale["id"])).status == "refunded"
    # and announced once, so the transfers are reversed once, in full
    [event] = await shop.events("refund.processed")
    assert event["refund_id"] == data["id"] and event["fully_refunded"] is True
    await deliver(shop)
    made = await reversals(shop)
    assert {r.refund_id for r in made} == {row.id}
    assert sum(r.amount_minor for r in made) == 999 - 100  # all but the platform's fee
    assert await books(shop, parties(chain)) == after

    # and nothing more happens on later runs, or on a retry of the request
    clock.advance(timedelta(minutes=5))
    await run_reconcile(shop)
    again = await shop.refund(chain["s3"], sale["id"], idempotency_key=idem)
    assert again.status_code == 200 and again.json() == response.json()
    await deliver(shop)
    assert len(refund_calls(shop)) == 3 and len(await refund_rows(shop)) == 1
    assert len(await shop.events("refund.processed")) == 1
    assert len(await reversals(shop)) == len(made)
    assert await shop.ledger_problems() == []


# --- refused for good ---------------------------------------------------------------------------


@pytest.mark.parametrize("hold_days", [7, 0], ids=["earnings-pending", "earnings-available"])
async def test_a_refused_refund_fails_and_the_books_are_as_before(
    shop: Shop, db: Database, hold_days: int
) -> None:
    # given a sale, its transfers made, and a provider that refuses the next refund for good
    await shop.settings(payoutHoldDays=hold_days)
    chain, sale = await three_level_sale(shop)
    await deliver(shop)
    before = await books(shop, parties(chain))
    shop.provider.fail_next("refund", rejected=True)

    # when the seller refunds 5.00 of it
    idem = key()
    response = await shop.refund(chain["s3"], sale["id"], 5.00, idempotency_key=idem)

    # then the refund is refused, and recorded as failed with the provider's reason
    error = error_of(response, 402, "PAYMENT_FAILED")
    [row] = await refund_rows(shop)
    assert error["details"]["refundId"] == str(row.id)
    assert error["details"]["transactionId"] == sale["id"]
    assert error["details"]["remaining"] == 9.99
    assert (row.status, row.amount_minor, row.provider_reference) == ("failed", 500, None)
    assert row.failure_reason and error["details"]["reason"] == row.failure_reason
    assert refund_calls(shop) == [(f"refund:{row.id}", "rejected")]
    # and its posting is reversed: every balance is what it was, nothing counts as refunded
    assert await posting_kinds(shop, str(row.id)) == ["refund", "refund_failed"]
    assert await books(shop, parties(chain)) == before
    tx = await transaction(shop, sale["id"])
    assert (tx.status, tx.refunded_minor) == ("completed", 0)
    # and nothing was announced, no transfer reversed
    assert await shop.events("refund.processed") == []
    await deliver(shop)
    assert await reversals(shop) == []
    async with db.sessionmaker() as session:
        [audit] = (
            await session.execute(
                select(AuditLog).where(AuditLog.action == "transaction.refund_failed")
            )
        ).scalars()
    assert audit.new_values is not None and audit.new_values["refundId"] == str(row.id)
    assert await shop.ledger_problems() == []

    # and the same request again answers the same, refunding nothing
    again = await shop.refund(chain["s3"], sale["id"], 5.00, idempotency_key=idem)
    assert again.status_code == 402 and again.json() == response.json()
    assert len(refund_calls(shop)) == 1

    # and the whole amount can still be refunded
    full = await shop.refund(chain["s3"], sale["id"])
    assert full.status_code == 200, full.text
    assert full.json()["data"]["status"] == "succeeded"
    assert full.json()["data"]["transaction"]["status"] == "refunded"
    assert [r.amount_minor for r in shop.provider.refunds()] == [999]
    await deliver(shop)
    assert sum(r.amount_minor for r in await reversals(shop)) == 999 - 100
    assert await shop.ledger_problems() == []


async def test_a_refund_the_job_finds_refused_fails_and_is_refundable_again(shop: Shop) -> None:
    # given a pending refund of 3.00 (the provider was unreachable)
    chain, sale = await three_level_sale(shop)
    before = await books(shop, parties(chain))
    shop.provider.fail_next("refund")
    first = await shop.refund(chain["s3"], sale["id"], 3.00)
    assert first.json()["data"]["status"] == "pending"
    assert (await transaction(shop, sale["id"])).refunded_minor == 300

    # when the job's attempt is refused for good
    shop.provider.fail_next("refund", rejected=True)
    clock.advance(timedelta(minutes=2))
    await run_reconcile(shop)

    # then the refund failed, its posting was reversed and the 3.00 is refundable again
    [row] = await refund_rows(shop)
    assert row.status == "failed" and row.processed_at is not None
    assert await books(shop, parties(chain)) == before
    assert (await transaction(shop, sale["id"])).refunded_minor == 0
    assert await shop.events("refund.processed") == []
    # and later runs leave it be
    clock.advance(timedelta(minutes=2))
    await run_reconcile(shop)
    assert [outcome for _, outcome in refund_calls(shop)] == ["unreachable", "rejected"]
    assert await shop.ledger_problems() == []
    again = await shop.refund(chain["s3"], sale["id"])
    assert again.status_code == 200 and again.json()["data"]["amount"] == 9.99
    assert await shop.ledger_problems() == []


async def test_a_refund_whose_hold_ended_before_it_failed_gives_back_to_available(
    shop: Shop,
) -> None:
    # given earnings held for a day, and a refund near the end of the hold that stays
    # pending (taken from earnings still on hold)
    await shop.settings(payoutHoldDays=1)
    chain, sale = await three_level_sale(shop)
    before = await books(shop, parties(chain))
    clock.advance(timedelta(hours=23, minutes=30))
    await shop.log_in_again(chain["s3"])
    shop.provider.fail_next("refund")
    assert (await shop.refund(chain["s3"], sale["id"], 4.00)).json()["data"]["status"] == (
        "pending"
    )

    # when the hold ends (sale and refund released to available), then the refund fails
    clock.advance(timedelta(hours=1))
    await shop.release_matured()
    shop.provider.fail_next("refund", rejected=True)
    await run_reconcile(shop)

    # then every party has all of its earnings available again, nothing pending
    [row] = await refund_rows(shop)
    assert row.status == "failed"
    after = await books(shop, parties(chain))
    assert after["platform"] == before["platform"]
    assert after["users"] == {u: (0, pending) for u, (pending, _) in before["users"].items()}
    await shop.release_matured()
    assert await books(shop, parties(chain)) == after
    assert await shop.ledger_problems() == []


# --- retried -----------------------------------------------------------------------------------


async def test_a_retry_after_a_lost_answer_refunds_once(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a refund the provider made, whose request died before it could record it
    chain, sale = await three_level_sale(shop)
    settle = RefundService.settle
    calls = 0

    async def dies_once(self: RefundService, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the database went away")
        return await settle(self, *args, **kwargs)

    monkeypatch.setattr(RefundService, "settle", dies_once)
    idem = key()
    lost = await shop.refund(chain["s3"], sale["id"], 1.50, idempotency_key=idem)
    assert lost.status_code == 500
    assert len(shop.provider.refunds()) == 1
    [row] = await refund_rows(shop)
    assert row.status == "pending"

    # when the client retries under the same key
    again = await shop.refund(chain["s3"], sale["id"], 1.50, idempotency_key=idem)

    # then the same refund is carried on: the provider replays its refund, nothing more
    assert again.status_code == 200, again.text
    data = again.json()["data"]
    assert (data["id"], data["status"]) == (str(row.id), "succeeded")
    [at_provider] = shop.provider.refunds()
    assert data["providerReference"] == at_provider.id and at_provider.amount_minor == 150
    assert refund_calls(shop) == [(f"refund:{row.id}", "ok"), (f"refund:{row.id}", "replayed")]
    assert len(await refund_rows(shop)) == 1
    assert await posting_kinds(shop, str(row.id)) == ["refund"]
    assert (await transaction(shop, sale["id"])).refunded_minor == 150
    assert len(await shop.events("refund.processed")) == 1
    assert await shop.ledger_problems() == []


async def test_a_second_refund_waits_for_a_pending_one(shop: Shop) -> None:
    # given a pending partial refund
    chain, sale = await three_level_sale(shop)
    shop.provider.fail_next("refund")
    first = (await shop.refund(chain["s3"], sale["id"], 1.00)).json()["data"]
    assert first["status"] == "pending"

    # when another refund of the payment is asked for: refused until the first is settled,
    # with what remains counting the pending one
    error = error_of(await shop.refund(chain["s3"], sale["id"], 1.00), 409, "CONFLICT")
    assert error["details"] == {"refundId": first["id"], "remaining": 8.99}
    # and above what remains it is refused as before
    error_of(await shop.refund(chain["s3"], sale["id"], 9.00), 422, "VALIDATION_ERROR")

    # then once the job made the first, the second goes through
    clock.advance(timedelta(minutes=2))
    await run_reconcile(shop)
    second = await shop.refund(chain["s3"], sale["id"], 1.00)
    assert second.status_code == 200 and second.json()["data"]["status"] == "succeeded"
    assert second.json()["data"]["transaction"]["refundedAmount"] == 2.0
    assert await shop.ledger_problems() == []


def test_the_reconciliation_job_is_registered() -> None:
    jobs = {job.name: job for job in job_registry}
    assert jobs["payments.reconcile_refunds"].interval == timedelta(minutes=1)


async def test_the_administrators_route_answers_a_pending_refund_the_same_way(
    shop: Shop, db: Database
) -> None:
    # given a sale, and a provider that cannot be reached for the next refund
    _chain, sale = await three_level_sale(shop)
    admin = await create_admin(shop.client, db, departments=["payments"])
    shop.provider.fail_next("refund")

    # when an administrator refunds 4.99 of it
    response = await shop.post(
        f"/v1/admin/transactions/{sale['id']}/refund", admin, {"amount": 4.99, "reason": "Late"}
    )

    # then the refund is answered pending, with the status code of a refund made
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["status"], data["requestedBy"]) == ("pending", str(admin.id))
    # and the job makes it later, announcing it once
    clock.advance(timedelta(minutes=2))
    await run_reconcile(shop)
    [row] = await refund_rows(shop)
    assert row.status == "succeeded" and row.requested_by == admin.id
    [event] = await shop.events("refund.processed")
    assert event["requested_by"] == str(admin.id) and event["reason"] == "Late"
    assert await shop.ledger_problems() == []
