"""Payouts are written first, then paid: a pending payout holds its money in flight until the
provider pays it (the request, or the reconciliation job later, under the same key) or refuses
it (then the money is available again). Scheduled payouts pay everyone once per period."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ipmarket.audit.models import AuditLog
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.kit.periodic import job_registry
from ipmarket.payments import ledger
from ipmarket.payments.jobs import reconcile_payouts, scheduled_payouts
from ipmarket.payments.models import PaymentAccount, Payout
from ipmarket.payments.money_out.payouts import period_start, scheduled_payout_id
from tests.payments.shop import START, Shop, error_of, freeze, key
from tests.support import Account


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()  # START is a Monday
    return Shop(client, db)


@dataclass
class Earnings:
    seller: Account
    licensor: Account
    buyer: Account
    product_id: str


async def sold(shop: Shop, **settings: Any) -> Earnings:
    """A 20.00 sale available at once: the seller has 16.00, the licensor 2.00."""
    await shop.settings(**{"payoutHoldDays": 0, "minimumPayout": 1, **settings})
    product, seller, licensor = await shop.product(price=20.00)
    buyer = await shop.buyer()
    await shop.bought(buyer, product["id"])
    return Earnings(seller, licensor, buyer, product["id"])


async def seller_with_16_available(shop: Shop, **settings: Any) -> Account:
    return (await sold(shop, **settings)).seller


async def run_reconcile(shop: Shop) -> None:
    async with shop.db.transaction() as session:
        await reconcile_payouts(session)


async def run_schedule(shop: Shop) -> None:
    async with shop.db.transaction() as session:
        await scheduled_payouts(session)


async def payouts(shop: Shop) -> list[Payout]:
    async with shop.db.sessionmaker() as session:
        rows = await session.execute(select(Payout).order_by(Payout.created_at, Payout.id))
        return list(rows.scalars())


async def total(shop: Shop, account: ledger.AccountRef) -> int:
    async with shop.db.sessionmaker() as session:
        return await ledger.account_total(session, account)


async def account_of(shop: Shop, user: Account) -> str:
    async with shop.db.sessionmaker() as session:
        found = await session.scalar(
            select(PaymentAccount.provider_account_id).where(PaymentAccount.user_id == user.id)
        )
    assert found is not None
    return found


def payout_keys(shop: Shop) -> list[tuple[str, str]]:
    return [(c.idempotency_key, c.outcome) for c in shop.provider.calls("payout")]


# --- a payout asked for ---------------------------------------------------------------------


async def test_a_payout_is_paid_from_the_connected_account_and_the_ledger_shows_it(
    shop: Shop,
) -> None:
    # given 16.00 available to the seller
    seller = await seller_with_16_available(shop)

    # when they ask for 10.00
    response = await shop.payout(seller, 10.00)

    # then it is paid out of their connected account, under a key of the payout
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert (data["amount"], data["status"], data["currency"]) == (10.0, "paid", "USD")
    [at_provider] = shop.provider.payouts()
    assert data["providerReference"] == at_provider.id
    assert at_provider.destination == await account_of(shop, seller)
    assert at_provider.destination.startswith("acct_test_")
    assert payout_keys(shop) == [(f"payout:{data['id']}", "ok")]
    [row] = await payouts(shop)
    assert (str(row.id), row.status, row.amount_minor) == (data["id"], "paid", 1000)
    # and the ledger: 6.00 left available, 10.00 paid out, nothing in flight
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 0, "available": 6.0}
    assert await total(shop, ledger.payouts_account()) == 1000
    assert await total(shop, ledger.payouts_in_flight()) == 0
    assert await shop.ledger_problems() == []


async def test_an_unreachable_provider_leaves_it_pending_until_the_job_pays_it_once(
    shop: Shop,
) -> None:
    # given a provider that cannot be reached for the next two payouts
    seller = await seller_with_16_available(shop)
    shop.provider.fail_next("payout", times=2)

    # when the seller asks for 10.00
    idem = key()
    response = await shop.payout(seller, 10.00, idempotency_key=idem)

    # then the payout is recorded, pending, its money in flight: neither available nor paid
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert (data["status"], data["providerReference"]) == ("pending", None)
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 0, "available": 6.0}
    assert await total(shop, ledger.payouts_in_flight()) == 1000
    assert shop.provider.payouts() == []
    assert await shop.ledger_problems() == []

    # when the job runs before a minute has passed: it leaves the request's payout alone
    await run_reconcile(shop)
    assert len(payout_keys(shop)) == 1

    # when it runs later, still unreachable, then reachable again
    clock.advance(timedelta(minutes=2))
    await run_reconcile(shop)
    assert [p.status for p in await payouts(shop)] == ["pending"]
    clock.advance(timedelta(minutes=1))
    await run_reconcile(shop)

    # then it was paid once, every attempt under the same key
    [row] = await payouts(shop)
    assert row.status == "paid"
    [at_provider] = shop.provider.payouts()
    assert (row.provider_reference, at_provider.amount_minor) == (at_provider.id, 1000)
    payout_key = f"payout:{data['id']}"
    assert payout_keys(shop) == [
        (payout_key, "unreachable"),
        (payout_key, "unreachable"),
        (payout_key, "ok"),
    ]
    assert await total(shop, ledger.payouts_in_flight()) == 0
    assert await total(shop, ledger.payouts_account()) == 1000

    # and nothing more happens on later runs, or on a retry of the request
    clock.advance(timedelta(minutes=5))
    await run_reconcile(shop)
    again = await shop.payout(seller, 10.00, idempotency_key=idem)
    assert again.status_code == 201 and again.json() == response.json()
    assert len(payout_keys(shop)) == 3 and len(await payouts(shop)) == 1
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 0, "available": 6.0}
    assert await shop.ledger_problems() == []


@pytest.mark.corrupts_ledger  # leaves a payout stuck on purpose, which the check names
async def test_a_payout_pending_for_over_a_day_is_left_to_a_person_and_named(
    shop: Shop,
) -> None:
    # given a payout the provider could not be reached for, for more than a day
    seller = await seller_with_16_available(shop)
    shop.provider.fail_next("payout", times=100)
    response = await shop.payout(seller, 10.00)
    assert response.json()["data"]["status"] == "pending"
    clock.advance(timedelta(hours=25))
    calls = len(payout_keys(shop))
    # when the job runs
    await run_reconcile(shop)
    # then it does not try again (the provider may have forgotten the key: a retry could
    # pay twice), and the ledger check names it for a person to look at the provider
    assert len(payout_keys(shop)) == calls
    [row] = await payouts(shop)
    assert row.status == "pending"
    [problem] = await shop.ledger_problems()
    assert problem.startswith(f"payout {row.id} to user {seller.id} has been pending since")


async def test_a_refused_payout_fails_and_the_money_is_available_again(shop: Shop) -> None:
    # given a provider that refuses the next payout for good
    seller = await seller_with_16_available(shop)
    shop.provider.fail_next("payout", rejected=True)

    # when the seller asks for everything
    response = await shop.payout(seller)

    # then the payout is refused and recorded as failed
    error = error_of(response, 402, "PAYMENT_FAILED")
    [row] = await payouts(shop)
    assert error["details"]["payoutId"] == str(row.id)
    assert row.status == "failed" and row.failure_reason
    assert shop.provider.payouts() == []
    # and the money is available again, nothing in flight or paid out
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 0, "available": 16.0}
    assert await total(shop, ledger.payouts_in_flight()) == 0
    assert await total(shop, ledger.payouts_account()) == 0
    assert await shop.ledger_problems() == []

    # and the seller can ask again
    again = await shop.payout(seller)
    assert again.status_code == 201 and again.json()["data"]["status"] == "paid"
    assert await shop.balance_of(seller) == {"currency": "USD", "pending": 0, "available": 0}
    assert await shop.ledger_problems() == []


async def test_a_payout_the_job_finds_refused_fails_and_gives_the_money_back(
    shop: Shop,
) -> None:
    # given a pending payout (the provider was unreachable)
    seller = await seller_with_16_available(shop)
    shop.provider.fail_next("payout")
    assert (await shop.payout(seller, 12.00)).json()["data"]["status"] == "pending"
    assert (await shop.balance_of(seller))["available"] == 4.0

    # when the job's attempt is refused for good
    shop.provider.fail_next("payout", rejected=True)
    clock.advance(timedelta(minutes=2))
    await run_reconcile(shop)

    # then the payout failed and its money is available again; later runs leave it be
    [row] = await payouts(shop)
    assert row.status == "failed"
    assert (await shop.balance_of(seller))["available"] == 16.0
    clock.advance(timedelta(minutes=2))
    await run_reconcile(shop)
    assert [outcome for _, outcome in payout_keys(shop)] == ["unreachable", "rejected"]
    assert await shop.ledger_problems() == []


async def test_a_payout_before_any_earnings_were_transferred_opens_the_account(
    shop: Shop,
) -> None:
    # given earnings whose transfers have not been made yet (no connected account)
    seller = await seller_with_16_available(shop)
    assert shop.provider.accounts() == []

    # when the seller is paid out
    response = await shop.payout(seller)

    # then their account was opened, once, and the payout made from it
    assert response.status_code == 201, response.text
    [account] = shop.provider.accounts()
    assert account.user_id == str(seller.id) and account.email == seller.email
    assert shop.provider.payouts()[0].destination == account.id


# --- scheduled payouts ---------------------------------------------------------------------


async def test_scheduled_payouts_pay_everyone_above_the_minimum_once_per_period(
    shop: Shop,
) -> None:
    # given weekly payouts of at least 5.00, and it is Monday: the seller has 16.00, the
    # licensor 2.00
    earnings = await sold(shop, payoutSchedule="weekly", minimumPayout=5)
    seller, licensor = earnings.seller, earnings.licensor
    assert START.weekday() == 0

    # when the job runs
    await run_schedule(shop)

    # then the seller was paid everything, the licensor nothing (below the minimum)
    [row] = await payouts(shop)
    assert (row.user_id, row.amount_minor, row.status) == (seller.id, 1600, "paid")
    assert row.id == scheduled_payout_id(seller.id, "weekly", START.date())
    assert payout_keys(shop) == [(f"payout:{row.id}", "ok")]
    assert (await shop.balance_of(seller))["available"] == 0
    assert (await shop.balance_of(licensor))["available"] == 2.0
    async with shop.db.sessionmaker() as session:
        [audit] = (
            await session.execute(select(AuditLog).where(AuditLog.action == "payout.scheduled"))
        ).scalars()
    assert audit.user_id is None and audit.resource_id == row.id

    # when the seller earns more the same Monday and the job runs again
    await shop.bought(earnings.buyer, earnings.product_id)
    assert (await shop.balance_of(seller))["available"] == 16.0
    clock.advance(timedelta(hours=1))
    await run_schedule(shop)

    # then nothing more is paid this period, nor on the days after
    assert len(await payouts(shop)) == 1
    for _ in range(6):
        clock.advance(timedelta(days=1))
        await run_schedule(shop)
    assert len(await payouts(shop)) == 1

    # and the next Monday pays the new earnings
    clock.advance(timedelta(days=1))
    assert clock.now().date() == date(2026, 3, 9)
    await run_schedule(shop)
    rows = await payouts(shop)
    assert [(p.amount_minor, p.status) for p in rows] == [(1600, "paid"), (1600, "paid")]
    assert rows[1].id == scheduled_payout_id(seller.id, "weekly", date(2026, 3, 9))
    assert len(shop.provider.payouts()) == 2
    assert await shop.ledger_problems() == []


async def test_a_scheduled_payout_the_provider_misses_is_completed_by_the_job(
    shop: Shop,
) -> None:
    # given daily payouts and a provider that cannot be reached
    seller = await seller_with_16_available(shop, payoutSchedule="daily")
    shop.provider.fail_next("payout", times=2)  # the seller's and the licensor's

    # when the scheduled payouts run, then the reconciliation a few minutes later
    await run_schedule(shop)
    assert {p.status for p in await payouts(shop)} == {"pending"}
    clock.advance(timedelta(minutes=5))
    await run_reconcile(shop)

    # then every payout was paid once, the seller's under its one key
    rows = await payouts(shop)
    assert {p.status for p in rows} == {"paid"}
    seller_payout = next(p for p in rows if p.user_id == seller.id)
    assert [o for k, o in payout_keys(shop) if k == f"payout:{seller_payout.id}"] == [
        "unreachable",
        "ok",
    ]
    assert await shop.ledger_problems() == []


@pytest.mark.parametrize(
    ("schedule", "day", "starts"),
    [
        ("daily", date(2026, 3, 4), date(2026, 3, 4)),
        ("weekly", date(2026, 3, 2), date(2026, 3, 2)),  # a Monday
        ("weekly", date(2026, 3, 8), None),  # a Sunday
        ("monthly", date(2026, 4, 1), date(2026, 4, 1)),
        ("monthly", date(2026, 4, 2), None),
    ],
)
def test_payout_periods_start_daily_on_mondays_or_on_the_first(
    schedule: str, day: date, starts: date | None
) -> None:
    late = datetime(day.year, day.month, day.day, 23, 59, tzinfo=UTC)
    assert period_start(schedule, late) == starts
    # UTC decides: 23:59 in UTC is the same day whatever the offset it was given in
    assert period_start(schedule, late.astimezone(timezone(timedelta(hours=2)))) == starts


def test_scheduled_payout_ids_are_one_per_user_and_period() -> None:
    user = uuid.uuid4()
    monday = date(2026, 3, 2)
    assert scheduled_payout_id(user, "weekly", monday) == scheduled_payout_id(
        user, "weekly", monday
    )
    assert scheduled_payout_id(user, "weekly", monday) != scheduled_payout_id(
        user, "weekly", date(2026, 3, 9)
    )
    assert scheduled_payout_id(user, "weekly", monday) != scheduled_payout_id(
        uuid.uuid4(), "weekly", monday
    )


def test_the_payout_jobs_are_registered() -> None:
    jobs = {job.name: job for job in job_registry}
    assert jobs["payments.reconcile_payouts"].interval == timedelta(minutes=1)
    assert jobs["payments.scheduled_payouts"].interval <= timedelta(hours=1)
