"""The double-entry ledger against the real database: balanced postings, replays, balances
derived from entries, the hold period's release and the payments jobs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import User
from ipmarket.kit.clock import clock, utcnow
from ipmarket.kit.db import Base, Database
from ipmarket.kit.ids import new_id
from ipmarket.payments.ledger import (
    HOLD_RELEASE,
    SALE,
    AccountRef,
    Balance,
    Line,
    balance,
    payouts_account,
    platform_revenue,
    platform_revenue_minor,
    post,
    provider_clearing,
    release_matured,
    user_available,
    user_pending,
)
from ipmarket.payments.ledger.splits import Split, split_refund, split_sale
from ipmarket.payments.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    Transaction,
)

# These tests post to the ledger directly, without the payments the postings would belong to.
pytestmark = pytest.mark.corrupts_ledger

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOLD = timedelta(days=7)


# --- helpers (also used by test_checks) -----------------------------------------------------------


async def new_users(db: Database, count: int) -> list[uuid.UUID]:
    ids = [new_id() for _ in range(count)]
    async with db.transaction() as session:
        for user_id in ids:
            name = f"ledger{user_id.hex[:12]}"
            session.add(
                User(
                    id=user_id,
                    username=name,
                    email=f"{name}@example.com",
                    password_hash="not-a-hash",
                    user_type="creator",
                )
            )
    return ids


def sale_split(amount: int, licensors: Sequence[uuid.UUID]) -> Split:
    """A 10% platform fee; licensors at 5%, 3%, 2%... up the chain."""
    percentages = [Decimal(5), Decimal(3), Decimal(2), Decimal(1)]
    return split_sale(
        amount,
        platform_fee_percentage=Decimal(10),
        shares=[(lic, new_id(), percentages[i]) for i, lic in enumerate(licensors)],
    )


def sale_lines(split: Split, seller_id: uuid.UUID, *, available_at: datetime | None) -> list[Line]:
    """A sale as the purchase flow posts it: the provider holds the gross, the platform
    earns its fee, every licensor and the seller their part, pending until `available_at`."""
    lines = [
        Line(provider_clearing(), -split.amount_minor),
        Line(platform_revenue(), split.platform_fee_minor),
        Line(user_pending(seller_id), split.seller_amount_minor, available_at),
        *(
            Line(user_pending(share.recipient_id), share.amount_minor, available_at)
            for share in split.shares
        ),
    ]
    return [line for line in lines if line.amount_minor != 0]


def refund_lines(
    refund: Split, seller_id: uuid.UUID, *, available_at: datetime | None
) -> list[Line]:
    """A refund before the earnings matured: every part taken back from pending."""
    return [
        Line(line.account, -line.amount_minor, line.available_at)
        for line in sale_lines(refund, seller_id, available_at=available_at)
    ]


async def count(session: AsyncSession, model: type[Base], *where: ColumnElement[bool]) -> int:
    stmt = select(func.count()).select_from(model).where(*where)
    return int(await session.scalar(stmt) or 0)


# --- posting --------------------------------------------------------------------------------------


async def test_a_sale_posting_credits_everyone_and_balances(db: Database) -> None:
    # given a seller and two licensors up the chain
    seller, first, second = await new_users(db, 3)
    split = sale_split(1000, [first, second])
    transaction_id = new_id()

    # when the sale is posted
    async with db.transaction() as session:
        posted = await post(
            session,
            kind=SALE,
            reference=str(transaction_id),
            lines=sale_lines(split, seller, available_at=None),
            transaction_id=transaction_id,
            memo="product sale",
        )

    # then one posting holds five entries summing to zero, on accounts created once
    assert posted is True
    async with db.sessionmaker() as session:
        posting = (await session.execute(select(LedgerPosting))).scalar_one()
        assert (posting.kind, posting.reference) == (SALE, str(transaction_id))
        assert posting.transaction_id == transaction_id
        assert posting.memo == "product sale"
        amounts = (await session.execute(select(LedgerEntry.amount_minor))).scalars().all()
        assert sorted(amounts) == [-1000, 30, 50, 100, 820]
        assert await count(session, LedgerAccount) == 5
        # and the balances say so
        assert await balance(session, seller) == Balance("USD", 820, 0)
        assert await balance(session, first) == Balance("USD", 50, 0)
        assert await balance(session, second) == Balance("USD", 30, 0)
        assert await platform_revenue_minor(session) == 100


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([Line(platform_revenue(), 100), Line(provider_clearing(), -99)], "sum to 1"),
        (
            [
                Line(platform_revenue(), 100),
                Line(provider_clearing(), -100),
                Line(payouts_account(), 0),
            ],
            "a line of zero",
        ),
        ([], "at least two lines"),
        ([Line(platform_revenue(), 0)], "at least two lines"),
        (
            [Line(platform_revenue(), 100), Line(provider_clearing("EUR"), -100)],
            "several currencies",
        ),
        (
            [Line(platform_revenue(), 100, T0), Line(provider_clearing(), -100)],
            "only pending earnings",
        ),
        (
            [
                Line(user_pending(uuid.UUID(int=1)), 100, datetime(2026, 1, 1)),  # noqa: DTZ001
                Line(provider_clearing(), -100),
            ],
            "timezone-aware",
        ),
    ],
)
async def test_lines_that_cannot_be_a_posting_are_refused_before_any_write(
    db: Database, lines: list[Line], message: str
) -> None:
    async with db.sessionmaker() as session:
        with pytest.raises(ValueError, match=message):
            await post(session, kind=SALE, reference="r-1", lines=lines)
        assert await count(session, LedgerPosting) == 0
        assert await count(session, LedgerAccount) == 0


def test_accounts_have_an_owner_exactly_when_they_are_a_users() -> None:
    with pytest.raises(ValueError, match="needs an owner"):
        AccountRef(AccountKind.USER_PENDING, None)
    with pytest.raises(ValueError, match="has no owner"):
        AccountRef(AccountKind.PLATFORM_REVENUE, uuid.UUID(int=1))
    with pytest.raises(ValueError, match="has no owner"):
        AccountRef(AccountKind.PAYOUTS_IN_FLIGHT, uuid.UUID(int=1))
    with pytest.raises(ValueError, match="ISO 4217"):
        platform_revenue("usd")
    assert user_available(uuid.UUID(int=1), "EUR").currency == "EUR"


async def test_the_database_refuses_an_unbalanced_posting_written_directly(db: Database) -> None:
    # given the platform's revenue account
    async with db.transaction() as session:
        await post(
            session,
            kind="opening",
            reference="1",
            lines=[Line(platform_revenue(), 1), Line(provider_clearing(), -1)],
        )
    async with db.sessionmaker() as session:
        account = await session.scalar(
            select(LedgerAccount.id).where(LedgerAccount.kind == AccountKind.PLATFORM_REVENUE)
        )
    assert account is not None

    async def write_half_a_posting(session: AsyncSession) -> None:
        posting_id = new_id()
        session.add(LedgerPosting(id=posting_id, kind="forged", reference=str(posting_id)))
        await session.flush()
        session.add(LedgerEntry(posting_id=posting_id, account_id=account, amount_minor=500))
        await session.flush()

    # when a posting of one +500 entry is written around the ledger module, then the
    # commit is refused (the trigger is deferred to the end of the transaction)
    with pytest.raises(IntegrityError, match="does not balance: entries sum to 500"):
        async with db.transaction() as session:
            await write_half_a_posting(session)

    # and with the constraint checked at once, the entry itself is refused
    async def at_once(session: AsyncSession) -> None:
        await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        await write_half_a_posting(session)

    with pytest.raises(IntegrityError, match="does not balance"):
        async with db.transaction() as session:
            await at_once(session)
    async with db.sessionmaker() as session:
        assert await count(session, LedgerPosting) == 1
        assert await count(session, LedgerEntry) == 2


async def test_the_ledger_is_append_only(db: Database) -> None:
    seller, licensor = await new_users(db, 2)
    async with db.transaction() as session:
        await post(
            session,
            kind=SALE,
            reference="t-1",
            lines=sale_lines(sale_split(100, [licensor]), seller, available_at=None),
        )
    for statement in (
        "UPDATE ledger_entries SET amount_minor = amount_minor * 2",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_postings SET reference = 'other'",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.transaction() as session:
                await session.execute(text(statement))


async def test_a_replayed_posting_posts_nothing(db: Database) -> None:
    # given a posted sale
    seller, licensor = await new_users(db, 2)
    split = sale_split(1000, [licensor])
    lines = sale_lines(split, seller, available_at=None)
    async with db.transaction() as session:
        assert await post(session, kind=SALE, reference="t-1", lines=lines) is True

    # when it is posted again, even with other amounts
    doubled = [Line(line.account, line.amount_minor * 2) for line in lines]
    async with db.transaction() as session:
        replayed = await post(session, kind=SALE, reference="t-1", lines=doubled)

    # then nothing is posted and the balances are those of the first posting
    assert replayed is False
    async with db.sessionmaker() as session:
        assert await count(session, LedgerPosting) == 1
        assert await count(session, LedgerEntry) == len(lines)
        assert await balance(session, seller) == Balance("USD", split.seller_amount_minor, 0)
    # and the same reference under another kind is another posting
    async with db.transaction() as session:
        assert await post(session, kind="other", reference="t-1", lines=lines) is True


async def test_concurrent_replays_post_once(db: Database) -> None:
    # given one sale posted by eight requests at the same time
    seller, licensor = await new_users(db, 2)
    lines = sale_lines(sale_split(1000, [licensor]), seller, available_at=None)

    async def attempt() -> bool:
        async with db.transaction() as session:
            return await post(session, kind=SALE, reference="t-race", lines=lines)

    results = await asyncio.gather(*(attempt() for _ in range(8)))

    # then exactly one posted it
    assert sorted(results) == [False] * 7 + [True]
    async with db.sessionmaker() as session:
        assert await count(session, LedgerPosting) == 1
        assert await balance(session, seller) == Balance("USD", 850, 0)


# --- balances -------------------------------------------------------------------------------------


async def test_balances_derive_from_the_entries(db: Database) -> None:
    # given a sale, its release, a partial refund taken from available and a payout
    clock.freeze(T0)
    seller, licensor = await new_users(db, 2)
    split = sale_split(2000, [licensor])
    async with db.transaction() as session:
        await post(
            session,
            kind=SALE,
            reference="t-1",
            lines=sale_lines(split, seller, available_at=T0),
        )
        assert await release_matured(session, now=T0) == 2
        refund = split_refund(split, 500)
        await post(
            session,
            kind="refund",
            reference="r-1",
            lines=[
                Line(provider_clearing(), refund.amount_minor),
                Line(platform_revenue(), -refund.platform_fee_minor),
                Line(user_available(seller), -refund.seller_amount_minor),
                Line(user_available(licensor), -refund.shares[0].amount_minor),
            ],
        )
        await post(
            session,
            kind="payout",
            reference="p-1",
            lines=[Line(user_available(seller), -1000), Line(payouts_account(), 1000)],
        )

    # then each balance is the sum of its account's entries
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(LedgerAccount.kind, LedgerAccount.owner_id, func.sum(LedgerEntry.amount_minor))
            .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
            .group_by(LedgerAccount.kind, LedgerAccount.owner_id)
        )
        sums = {(kind, owner): int(total) for kind, owner, total in rows}
        seller_balance = await balance(session, seller)
        assert seller_balance == Balance(
            "USD",
            sums.get(("user_pending", seller), 0),
            sums[("user_available", seller)],
        )
        # 1700 earned, 425 refunded, 1000 paid out
        assert seller_balance == Balance("USD", 0, 1700 - 425 - 1000)
        assert await balance(session, licensor) == Balance("USD", 0, 100 - 25)
        assert await platform_revenue_minor(session) == 200 - 50
        assert sum(sums.values()) == 0
        # a user without entries, or another currency, has nothing
        assert await balance(session, new_id()) == Balance("USD", 0, 0)
        assert await balance(session, seller, "EUR") == Balance("EUR", 0, 0)


async def test_a_balance_may_go_negative_after_a_refund(db: Database) -> None:
    (seller,) = await new_users(db, 1)
    async with db.transaction() as session:
        await post(
            session,
            kind="refund",
            reference="r-1",
            lines=[Line(user_available(seller), -300), Line(provider_clearing(), 300)],
        )
        assert await balance(session, seller) == Balance("USD", 0, -300)


# --- the hold period --------------------------------------------------------------------------------


async def test_earnings_become_available_once_their_hold_is_over(db: Database) -> None:
    # given, at T0, a sale held for seven days and a partial refund of it the next day
    clock.freeze(T0)
    seller, licensor = await new_users(db, 2)
    split = sale_split(1000, [licensor])
    matures = T0 + HOLD
    async with db.transaction() as session:
        await post(
            session,
            kind=SALE,
            reference="t-1",
            lines=sale_lines(split, seller, available_at=matures),
        )
    clock.freeze(T0 + timedelta(days=1))
    refund = split_refund(split, 100)
    async with db.transaction() as session:
        await post(
            session,
            kind="refund",
            reference="r-1",
            lines=refund_lines(refund, seller, available_at=matures),
        )

    # when the release runs a second before the end of the hold, then nothing moves
    clock.freeze(matures - timedelta(seconds=1))
    async with db.transaction() as session:
        assert await release_matured(session, now=utcnow()) == 0
        assert await balance(session, seller) == Balance("USD", 850 - 85, 0)

    # when it runs at the end of the hold, then the earnings and their reversal move
    clock.freeze(matures)
    async with db.transaction() as session:
        assert await release_matured(session, now=utcnow()) == 4
    async with db.sessionmaker() as session:
        assert await balance(session, seller) == Balance("USD", 0, 850 - 85)
        assert await balance(session, licensor) == Balance("USD", 0, 50 - 5)
        releases = (
            await session.execute(
                select(LedgerPosting.reference, LedgerPosting.transaction_id).where(
                    LedgerPosting.kind == HOLD_RELEASE
                )
            )
        ).all()
        pending_entries = (
            await session.execute(
                select(LedgerEntry.id)
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .where(
                    LedgerAccount.kind == AccountKind.USER_PENDING,
                    LedgerEntry.available_at.is_not(None),
                )
            )
        ).scalars()
        # one release per entry, referencing it
        assert sorted(reference for reference, _ in releases) == sorted(
            str(entry_id) for entry_id in pending_entries
        )

    # and running it again, now or later, moves nothing more
    clock.advance(timedelta(days=30))
    async with db.transaction() as session:
        assert await release_matured(session, now=utcnow()) == 0
    async with db.sessionmaker() as session:
        assert await count(session, LedgerPosting, LedgerPosting.kind == HOLD_RELEASE) == 4


async def test_earnings_posted_without_a_hold_stay_where_they_were_put(db: Database) -> None:
    (seller,) = await new_users(db, 1)
    async with db.transaction() as session:
        await post(
            session,
            kind=SALE,
            reference="t-1",
            lines=[Line(provider_clearing(), -100), Line(user_pending(seller), 100)],
        )
        assert await release_matured(session, now=T0 + timedelta(days=3650)) == 0
        assert await balance(session, seller) == Balance("USD", 100, 0)


async def test_release_takes_the_oldest_first_up_to_its_limit(db: Database) -> None:
    sellers = await new_users(db, 3)
    async with db.transaction() as session:
        for day, seller in enumerate(sellers):
            await post(
                session,
                kind=SALE,
                reference=f"t-{day}",
                lines=[
                    Line(provider_clearing(), -100),
                    Line(user_pending(seller), 100, T0 + timedelta(days=day)),
                ],
            )
    async with db.transaction() as session:
        assert await release_matured(session, now=T0 + timedelta(days=5), limit=2) == 2
        assert [(await balance(session, s)).available_minor for s in sellers] == [100, 100, 0]
        assert await release_matured(session, now=T0 + timedelta(days=5), limit=2) == 1
    with pytest.raises(ValueError, match="limit"):
        async with db.sessionmaker() as session:
            await release_matured(session, now=T0, limit=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        async with db.sessionmaker() as session:
            await release_matured(session, now=datetime(2026, 1, 1), limit=1)  # noqa: DTZ001


async def test_concurrent_releases_move_each_entry_exactly_once(db: Database) -> None:
    # given forty matured sales to ten sellers and their licensor
    clock.freeze(T0)
    users = await new_users(db, 11)
    sellers, licensor = users[:10], users[10]
    async with db.transaction() as session:
        for n in range(40):
            split = sale_split(1000 + n, [licensor])
            await post(
                session,
                kind=SALE,
                reference=f"t-{n}",
                lines=sale_lines(split, sellers[n % 10], available_at=T0),
            )
    async with db.sessionmaker() as session:
        before = {u: await balance(session, u) for u in users}

    # when four runs, each in its own transaction, release at the same time (each sees all
    # eighty entries matured and unreleased)
    async def run() -> int:
        async with db.transaction() as session:
            return await release_matured(session, now=utcnow())

    results = await asyncio.gather(*(run() for _ in range(4)))

    # then the eighty entries were released once in all: the runs that lost the race for
    # an entry waited for the winner and posted nothing for it
    assert sum(results) == 80
    assert sorted(results) == [0, 0, 0, 80]
    async with db.transaction() as session:
        assert await release_matured(session, now=utcnow()) == 0
    async with db.sessionmaker() as session:
        assert await count(session, LedgerPosting, LedgerPosting.kind == HOLD_RELEASE) == 80
        for user in users:
            assert await balance(session, user) == Balance("USD", 0, before[user].pending_minor)


# --- jobs ---------------------------------------------------------------------------------------


async def test_the_release_job_runs_every_minute_on_the_app_clock(db: Database) -> None:
    from ipmarket.kit.periodic import job_registry
    from ipmarket.payments import jobs
    from ipmarket.worker.scheduler import Scheduler

    job = job_registry.jobs["payments.release_matured_earnings"]
    assert job.interval == timedelta(minutes=1)
    assert job.func is jobs.release_matured_earnings

    # given earnings maturing at T0 + 7 days
    (seller,) = await new_users(db, 1)
    async with db.transaction() as session:
        await post(
            session,
            kind=SALE,
            reference="t-1",
            lines=[Line(provider_clearing(), -100), Line(user_pending(seller), 100, T0 + HOLD)],
        )
    scheduler = Scheduler(db, [job])

    # when the job runs before then, nothing moves; when it runs after, they are available
    clock.freeze(T0 + HOLD - timedelta(minutes=1))
    assert await scheduler.run_job(job) is True
    async with db.sessionmaker() as session:
        assert await balance(session, seller) == Balance("USD", 100, 0)
    clock.advance(timedelta(minutes=1))
    assert await scheduler.run_job(job) is True
    async with db.sessionmaker() as session:
        assert await balance(session, seller) == Balance("USD", 0, 100)


async def test_the_partition_job_creates_this_and_next_years_partitions(db: Database) -> None:
    from ipmarket.kit.periodic import job_registry
    from ipmarket.payments import jobs
    from ipmarket.worker.scheduler import Scheduler

    job = job_registry.jobs["payments.ensure_transaction_partitions"]
    assert job.interval == timedelta(days=1)
    assert job.func is jobs.ensure_transaction_partitions

    async def partitions() -> set[str]:
        async with db.sessionmaker() as session:
            rows = await session.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'transactions'::regclass"
                )
            )
            return {name for (name,) in rows}

    # given a clock in 2040, beyond the partitions the migration made
    clock.freeze(datetime(2040, 12, 31, 23, 0, tzinfo=UTC))
    assert not {"transactions_2040", "transactions_2041"} & await partitions()
    try:
        # when the job runs, twice
        scheduler = Scheduler(db, [job])
        assert await scheduler.run_job(job) is True
        assert await scheduler.run_job(job) is True

        # then this year's and next year's partitions exist, and take sales
        assert {"transactions_2040", "transactions_2041"} <= await partitions()
        buyer, seller = await new_users(db, 2)
        async with db.transaction() as session:
            for at in (
                datetime(2040, 12, 31, 23, 59, tzinfo=UTC),
                datetime(2041, 1, 1, tzinfo=UTC),
            ):
                session.add(
                    Transaction(
                        created_at=at,
                        transaction_type="product_sale",
                        buyer_id=buyer,
                        seller_id=seller,
                        amount_minor=100,
                        platform_fee_minor=10,
                        seller_amount_minor=90,
                    )
                )
        async with db.sessionmaker() as session:
            assert await count(session, Transaction) == 2
    finally:
        async with db.transaction() as session:
            await session.execute(text("DELETE FROM transactions WHERE created_at >= '2040-01-01'"))
            await session.execute(text("DROP TABLE IF EXISTS transactions_2040, transactions_2041"))
