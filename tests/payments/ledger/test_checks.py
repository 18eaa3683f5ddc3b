"""`check_ledger` and `ipmarket ledger check`: clean on a consistent ledger, and naming each
kind of discrepancy planted around the ledger module (the append-only and balance triggers
are bypassed with session_replication_role, inside the test's own transaction)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from ipmarket.cli import app
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.kit.ids import new_id
from ipmarket.payments.ledger import (
    PAYOUT,
    PAYOUT_FAILED,
    PAYOUT_PAID,
    PAYOUT_RETURNED,
    SALE,
    Line,
    balance,
    payouts_account,
    payouts_in_flight,
    platform_revenue,
    post,
    provider_clearing,
    release_matured,
    user_available,
    user_pending,
)
from ipmarket.payments.ledger.checks import check_ledger, ledger_size
from ipmarket.payments.ledger.splits import Split, add_splits, split_refund
from ipmarket.payments.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    Payout,
    Refund,
    Transaction,
    Transfer,
    TransferReversal,
)
from tests.payments.ledger.test_postings import new_users, sale_lines, sale_split
from tests.payments.money_out.test_transfers import deliver, three_level_sale
from tests.payments.shop import Shop, freeze

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
HOLD = timedelta(days=7)


@dataclass
class World:
    buyer: uuid.UUID
    seller: uuid.UUID
    licensors: list[uuid.UUID]
    sale: Transaction
    fee: Transaction


def _shares_json(split: Split) -> list[dict[str, Any]]:
    return [
        {
            "recipientId": str(share.recipient_id),
            "licenseId": str(share.license_id),
            "percentage": str(share.percentage),
            "amountMinor": share.amount_minor,
        }
        for share in split.shares
    ]


async def settle(
    session: AsyncSession,
    *,
    buyer: uuid.UUID,
    seller: uuid.UUID,
    split: Split,
    transaction_type: str = "product_sale",
    status: str = "completed",
    posted: bool = True,
) -> Transaction:
    """A transaction and, when `posted`, its sale posting, as the purchase flow makes them."""
    transaction = Transaction(
        id=new_id(),
        created_at=clock.now(),
        transaction_type=transaction_type,
        buyer_id=buyer,
        seller_id=seller,
        amount_minor=split.amount_minor,
        platform_fee_minor=split.platform_fee_minor,
        seller_amount_minor=split.seller_amount_minor,
        revenue_shares=_shares_json(split),
        status=status,
        refunded_minor=0,
    )
    session.add(transaction)
    await session.flush()
    if posted:
        await post(
            session,
            kind=SALE,
            reference=str(transaction.id),
            lines=sale_lines(split, seller, available_at=clock.now() + HOLD),
            transaction_id=transaction.id,
        )
    return transaction


async def refund(
    session: AsyncSession,
    transaction: Transaction,
    original: Split,
    amount: int,
    already: Split | None,
) -> Split:
    """A refund of matured earnings, made: every part taken back from available."""
    part = split_refund(original, amount, already_refunded=already)
    made = Refund(
        id=new_id(),
        transaction_id=transaction.id,
        amount_minor=amount,
        reason="Returned",
        requested_by=transaction.seller_id,
        status="succeeded",
        provider_reference=f"re_{uuid.uuid4().hex[:12]}",
        created_at=clock.now(),
        processed_at=clock.now(),
    )
    session.add(made)
    await session.flush()
    lines = [
        Line(provider_clearing(), part.amount_minor),
        Line(platform_revenue(), -part.platform_fee_minor),
        Line(user_available(transaction.seller_id), -part.seller_amount_minor),
        *(Line(user_available(s.recipient_id), -s.amount_minor) for s in part.shares),
    ]
    await post(
        session,
        kind="refund",
        reference=str(made.id),
        lines=[line for line in lines if line.amount_minor],
        transaction_id=transaction.id,
    )
    total = part if already is None else add_splits(already, part)
    status = "refunded" if total.amount_minor == original.amount_minor else "completed"
    await session.execute(
        update(Transaction)
        .where(Transaction.id == transaction.id)
        .values(refunded_minor=total.amount_minor, status=status)
    )
    return total


async def payout(
    session: AsyncSession, user_id: uuid.UUID, amount: int, *, status: str = "paid"
) -> Payout:
    """A payout as the payout flow makes it: recorded (available → in flight), then paid
    (in flight → payouts) or failed (in flight → available); `returned`: paid, then returned
    by the bank (payouts → available), and failed."""
    row = Payout(
        id=new_id(),
        user_id=user_id,
        amount_minor=amount,
        currency="USD",
        status="failed" if status == "returned" else status,
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    reference = str(row.id)
    await post(
        session,
        kind=PAYOUT,
        reference=reference,
        lines=[Line(user_available(user_id), -amount), Line(payouts_in_flight(), amount)],
    )
    if status in ("paid", "returned"):
        await post(
            session,
            kind=PAYOUT_PAID,
            reference=reference,
            lines=[Line(payouts_in_flight(), -amount), Line(payouts_account(), amount)],
        )
    if status == "returned":
        await post(
            session,
            kind=PAYOUT_RETURNED,
            reference=reference,
            lines=[Line(payouts_account(), -amount), Line(user_available(user_id), amount)],
        )
    elif status == "failed":
        await post(
            session,
            kind=PAYOUT_FAILED,
            reference=reference,
            lines=[Line(payouts_in_flight(), -amount), Line(user_available(user_id), amount)],
        )
    return row


async def consistent_world(db: Database) -> World:
    """A sale under a two-licensor chain, a license fee, a pending purchase; the hold
    passes; a partial refund, a payout, then the rest refunded (the seller goes below zero,
    as a refund after a payout may)."""
    clock.freeze(T0)
    buyer, seller, first, second = await new_users(db, 4)
    split = sale_split(999, [first, second])
    fee_split = sale_split(5000, [])
    async with db.transaction() as session:
        sale = await settle(session, buyer=buyer, seller=seller, split=split)
        fee = await settle(
            session, buyer=seller, seller=first, split=fee_split, transaction_type="license_fee"
        )
        await settle(
            session, buyer=buyer, seller=seller, split=split, status="pending", posted=False
        )
    clock.advance(HOLD)
    async with db.transaction() as session:
        assert await release_matured(session, now=clock.now()) == 4
    clock.advance(timedelta(hours=1))
    async with db.transaction() as session:
        so_far = await refund(session, sale, split, 333, None)
    clock.advance(timedelta(hours=1))
    async with db.transaction() as session:
        available = (await balance(session, seller)).available_minor
        await payout(session, seller, available - 10)
    clock.advance(timedelta(hours=1))
    async with db.transaction() as session:
        await refund(session, sale, split, 999 - 333, so_far)
        assert (await balance(session, seller)).available_minor < 0
    return World(buyer, seller, [first, second], sale, fee)


async def replica(session: AsyncSession) -> None:
    """Triggers off for the rest of this session's transaction (never committed here)."""
    await session.execute(text("SET LOCAL session_replication_role = replica"))


async def account_id(
    session: AsyncSession, kind: AccountKind, owner: uuid.UUID | None
) -> uuid.UUID:
    found = await session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.kind == kind.value,
            LedgerAccount.owner_id.is_(None) if owner is None else LedgerAccount.owner_id == owner,
        )
    )
    assert found is not None
    return found


# --- check_ledger -------------------------------------------------------------------------------


async def test_a_consistent_ledger_has_no_discrepancy(db: Database) -> None:
    await consistent_world(db)
    async with db.sessionmaker() as session:
        assert await check_ledger(session) == []
        size = await ledger_size(session)
    # 2 sales, 4 releases (3 parts of the sale, 1 of the fee), 2 refunds, 1 payout (recorded,
    # then paid); 3 transactions
    assert (size.postings, size.transactions) == (10, 3)


@pytest.mark.corrupts_ledger
async def test_sales_are_checked_in_batches(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # given seven settled sales, the last without its posting, read two at a time
    from ipmarket.payments.ledger.checks import common

    monkeypatch.setattr(common, "BATCH", 2)
    clock.freeze(T0)
    buyer, seller = await new_users(db, 2)
    async with db.transaction() as session:
        for n in range(7):
            clock.advance(timedelta(minutes=1))
            last = await settle(
                session, buyer=buyer, seller=seller, split=sale_split(100 + n, []), posted=n < 6
            )
    # then every batch is checked, the last one included
    async with db.sessionmaker() as session:
        assert await check_ledger(session) == [
            f"transaction {last.id} (product_sale): has no sale posting"
        ]


async def test_an_empty_ledger_has_no_discrepancy(db: Database) -> None:
    async with db.sessionmaker() as session:
        assert await check_ledger(session) == []


async def test_an_unbalanced_posting_is_named(db: Database) -> None:
    await consistent_world(db)
    async with db.sessionmaker() as session:
        # given a posting of one +7 entry, written with the balance trigger off
        await replica(session)
        revenue = await account_id(session, AccountKind.PLATFORM_REVENUE, None)
        posting_id = new_id()
        session.add(LedgerPosting(id=posting_id, kind="forged", reference="f-1"))
        await session.flush()
        session.add(LedgerEntry(posting_id=posting_id, account_id=revenue, amount_minor=7))
        await session.flush()

        # then the check names it, its single entry, and the ledger's total
        assert await check_ledger(session) == [
            f"posting {posting_id} (forged f-1): its USD entries sum to 7, not to zero",
            f"posting {posting_id} (forged f-1) has 1 entry; a posting has at least two",
            "the ledger's USD accounts sum to 7, not to zero",
        ]


async def test_a_posting_without_entries_is_named(db: Database) -> None:
    async with db.sessionmaker() as session:
        posting_id = new_id()
        session.add(LedgerPosting(id=posting_id, kind="adjustment", reference="a-1"))
        await session.flush()
        assert await check_ledger(session) == [
            f"posting {posting_id} (adjustment a-1) has 0 entries; a posting has at least two"
        ]


async def test_a_sale_whose_parts_do_not_add_up_is_named(db: Database) -> None:
    world = await consistent_world(db)
    async with db.sessionmaker() as session:
        await session.execute(
            update(Transaction)
            .where(Transaction.id == world.fee.id)
            .values(seller_amount_minor=Transaction.seller_amount_minor - 1)
        )
        assert await check_ledger(session) == [
            (
                f"transaction {world.fee.id} (license_fee): platform fee 500 + revenue shares 0 "
                "+ seller's amount 4499 = 4999, not the amount 5000"
            )
        ]


async def test_malformed_revenue_shares_are_named(db: Database) -> None:
    world = await consistent_world(db)
    async with db.sessionmaker() as session:
        shares = _shares_json(sale_split(999, world.licensors))
        del shares[1]["amountMinor"]
        shares[0]["recipientId"] = "nobody"
        await session.execute(
            update(Transaction).where(Transaction.id == world.sale.id).values(revenue_shares=shares)
        )
        assert await check_ledger(session) == [
            f"transaction {world.sale.id} (product_sale): revenue share #1 has no valid recipientId",
            f"transaction {world.sale.id} (product_sale): revenue share #2 has no integer amountMinor",
        ]


async def test_a_refund_beyond_the_amount_is_named(db: Database) -> None:
    world = await consistent_world(db)
    async with db.sessionmaker() as session:
        # given the table's own check constraint dropped, in this transaction only
        await session.execute(
            text("ALTER TABLE transactions DROP CONSTRAINT ck_transactions_refund_within_amount")
        )
        await session.execute(
            update(Transaction).where(Transaction.id == world.sale.id).values(refunded_minor=1000)
        )
        assert await check_ledger(session) == [
            f"transaction {world.sale.id} (product_sale): refunded 1000 of an amount of 999",
            (
                f"transaction {world.sale.id} (product_sale): counts 1000 refunded, its refunds "
                "that did not fail come to 999"
            ),
        ]


async def test_a_settled_sale_without_its_posting_is_named(db: Database) -> None:
    clock.freeze(T0)
    buyer, seller = await new_users(db, 2)
    async with db.sessionmaker() as session:
        sale = await settle(
            session, buyer=buyer, seller=seller, split=sale_split(100, []), posted=False
        )
        assert await check_ledger(session) == [
            f"transaction {sale.id} (product_sale): has no sale posting"
        ]


async def test_a_sale_posting_that_does_not_match_the_parts_is_named(db: Database) -> None:
    # given a sale whose posting gives the platform a cent of the seller's and a licensor
    # a cent of the gross the provider never held
    clock.freeze(T0)
    buyer, seller, licensor = await new_users(db, 3)
    split = sale_split(1000, [licensor])  # 100 fee, 50 licensor, 850 seller
    async with db.sessionmaker() as session:
        sale = await settle(session, buyer=buyer, seller=seller, split=split, posted=False)
        await post(
            session,
            kind=SALE,
            reference=str(sale.id),
            lines=[
                Line(provider_clearing(), -1001),
                Line(platform_revenue(), 101),
                Line(user_pending(seller), 849),
                Line(user_pending(licensor), 51),
            ],
        )
        posting_id = await session.scalar(
            select(LedgerPosting.id).where(LedgerPosting.reference == str(sale.id))
        )
        where = f"transaction {sale.id} (product_sale): its sale posting {posting_id}"
        assert sorted(await check_ledger(session)) == sorted(
            [
                f"{where} moves 101 for platform revenue, expected 100",
                f"{where} moves -1001 for provider clearing, expected -1000",
                f"{where} moves 849 for user {seller}, expected 850",
                f"{where} moves 51 for user {licensor}, expected 50",
            ]
        )


async def test_a_sale_posting_in_another_currency_is_named(db: Database) -> None:
    clock.freeze(T0)
    buyer, seller = await new_users(db, 2)
    async with db.sessionmaker() as session:
        sale = await settle(
            session, buyer=buyer, seller=seller, split=sale_split(100, []), posted=False
        )
        await post(
            session,
            kind=SALE,
            reference=str(sale.id),
            lines=[
                Line(provider_clearing("EUR"), -100),
                Line(platform_revenue("EUR"), 10),
                Line(user_pending(seller, "EUR"), 90),
            ],
        )
        problems = await check_ledger(session)
        assert len(problems) == 1
        assert problems[0].startswith(f"transaction {sale.id} (product_sale): its sale posting")
        assert problems[0].endswith("has entries in EUR, the sale is in USD")


async def test_sale_postings_without_a_settled_sale_are_named(db: Database) -> None:
    clock.freeze(T0)
    buyer, seller = await new_users(db, 2)
    split = sale_split(100, [])
    async with db.sessionmaker() as session:
        pending = await settle(session, buyer=buyer, seller=seller, split=split, status="pending")
        await post(
            session,
            kind=SALE,
            reference="no-such-transaction",
            lines=sale_lines(split, seller, available_at=None),
        )
        rows = await session.execute(select(LedgerPosting.reference, LedgerPosting.id))
        postings = {row.reference: row.id for row in rows}
        assert sorted(await check_ledger(session)) == sorted(
            [
                (
                    f"posting {postings[str(pending.id)]} (sale {pending.id}) moves money for "
                    f"transaction {pending.id}, a product_sale that is pending"
                ),
                (
                    f"posting {postings['no-such-transaction']} (sale no-such-transaction) "
                    "belongs to no transaction"
                ),
            ]
        )


async def test_a_payout_beyond_earnings_is_named(db: Database) -> None:
    # given a seller who earned 90 and, an hour later, was paid out 150
    clock.freeze(T0)
    buyer, seller = await new_users(db, 2)
    async with db.transaction() as session:
        await settle(session, buyer=buyer, seller=seller, split=sale_split(100, []))
    clock.advance(timedelta(hours=1))
    async with db.sessionmaker() as session:
        await payout(session, seller, 150)
        # then the check names the seller and when it happened
        assert await check_ledger(session) == [
            (
                f"user {seller}: payouts of 150 USD exceed their earnings of 90 as of "
                f"{(T0 + timedelta(hours=1)).isoformat()}"
            )
        ]


async def test_a_payout_within_earnings_later_refunded_is_no_discrepancy(db: Database) -> None:
    # given a seller paid out all of their 90, whose sale is then refunded in full
    clock.freeze(T0)
    buyer, seller = await new_users(db, 2)
    split = sale_split(100, [])
    async with db.transaction() as session:
        sale = await settle(session, buyer=buyer, seller=seller, split=split, posted=False)
        await post(
            session,
            kind=SALE,
            reference=str(sale.id),
            lines=[
                Line(provider_clearing(), -100),
                Line(platform_revenue(), 10),
                Line(user_available(seller), 90),
            ],
        )
    clock.advance(timedelta(hours=1))
    async with db.transaction() as session:
        await payout(session, seller, 90)
    clock.advance(timedelta(hours=1))
    async with db.transaction() as session:
        await refund(session, sale, split, 100, None)
    # then the balance is below zero, as a refund after a payout may leave it, and the
    # ledger is sound
    async with db.sessionmaker() as session:
        assert (await balance(session, seller)).available_minor == -90
        assert await check_ledger(session) == []


# --- the command --------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def command_env(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """The command against this run's database; logging as it was before it ran."""
    for name in ("REDIS_URL", "RABBITMQ_URL", "SMTP_URL", "IPMARKET_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    structlog_config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**structlog_config)


@pytest.mark.usefixtures("command_env")
async def test_the_command_passes_on_a_consistent_ledger(db: Database) -> None:
    await consistent_world(db)
    # the command runs its own event loop: in a thread of its own
    result = await asyncio.to_thread(runner.invoke, app, ["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "ledger check: OK (10 postings, 3 transactions)" in result.stdout


@pytest.mark.usefixtures("command_env")
async def test_the_command_fails_naming_each_discrepancy(db: Database) -> None:
    world = await consistent_world(db)
    # given, committed around the ledger module, a forged entry and a missing sale posting
    async with db.transaction() as session:
        await replica(session)
        revenue = await account_id(session, AccountKind.PLATFORM_REVENUE, None)
        posting_id = await session.scalar(
            select(LedgerPosting.id).where(LedgerPosting.reference == str(world.fee.id))
        )
        assert posting_id is not None
        session.add(LedgerEntry(posting_id=posting_id, account_id=revenue, amount_minor=3))
        unposted = await settle(
            session, buyer=world.buyer, seller=world.seller, split=sale_split(200, []), posted=False
        )

    try:
        result = await asyncio.to_thread(runner.invoke, app, ["ledger", "check"])
    finally:
        # leave no forged rows behind, whatever runs next
        async with db.transaction() as session:
            await replica(session)
            for table in (
                "ledger_entries",
                "ledger_postings",
                "ledger_accounts",
                "transactions",
                "refunds",
                "payouts",
            ):
                await session.execute(text(f"DELETE FROM {table}"))

    assert result.exit_code == 1, result.output
    assert f"posting {posting_id} (sale {world.fee.id}): its USD entries sum to 3" in result.stderr
    assert (
        f"transaction {world.fee.id} (license_fee): its sale posting {posting_id} moves 503 "
        in result.stderr
    )
    assert f"transaction {unposted.id} (product_sale): has no sale posting" in result.stderr
    assert "the ledger's USD accounts sum to 3, not to zero" in result.stderr
    assert "ledger check: 4 discrepancies" in result.stderr
    assert "OK" not in result.stdout
    assert "Traceback" not in result.output


def test_the_command_is_listed() -> None:
    result = runner.invoke(app, ["ledger", "--help"])
    assert result.exit_code == 0
    assert "check" in result.output


# --- payouts and transfers ----------------------------------------------------------------------


async def test_payouts_in_every_state_agree_with_the_ledger(db: Database) -> None:
    # given a seller with 90 available, paid 30, refused 20, paid 15 that the bank returned,
    # and with 40 in flight
    clock.freeze(T0)
    buyer, seller = await new_users(db, 2)
    async with db.transaction() as session:
        sale = await settle(session, buyer=buyer, seller=seller, split=sale_split(100, []))
        await release_matured(session, now=clock.now() + HOLD)
        await payout(session, seller, 30)
        await payout(session, seller, 20, status="failed")
        await payout(session, seller, 15, status="returned")
        await payout(session, seller, 40, status="pending")
    # then the ledger is sound: 20 left available, 40 in flight
    async with db.sessionmaker() as session:
        assert await check_ledger(session) == []
        assert (await balance(session, seller)).available_minor == 20
    assert sale.amount_minor == 100


@pytest.mark.corrupts_ledger
async def test_a_payout_that_disagrees_with_its_postings_is_named(db: Database) -> None:
    # given a pending payout marked paid behind the ledger's back, and a payout posting with
    # no payout
    clock.freeze(T0)
    buyer, seller = await new_users(db, 2)
    async with db.transaction() as session:
        await settle(session, buyer=buyer, seller=seller, split=sale_split(100, []))
        await release_matured(session, now=clock.now() + HOLD)
        forged = await payout(session, seller, 40, status="pending")
        await session.execute(update(Payout).where(Payout.id == forged.id).values(status="paid"))
        await post(
            session,
            kind=PAYOUT,
            reference="no-such-payout",
            lines=[Line(user_available(seller), -5), Line(payouts_in_flight(), 5)],
        )
    async with db.sessionmaker() as session:
        stray = await session.scalar(
            select(LedgerPosting.id).where(LedgerPosting.reference == "no-such-payout")
        )
        problems = await check_ledger(session)
    # then each is named
    name = f"payout {forged.id} (paid, 40 USD to user {seller})"
    assert problems == [
        f"{name}: its postings put 0 on payouts, expected 40",
        f"{name}: its postings put 40 on payouts in flight, expected 0",
        f"posting {stray} (payout no-such-payout) belongs to no payout",
        "payouts in flight on the ledger come to 45 USD, but the pending payouts to 0 USD",
    ]


@pytest.mark.corrupts_ledger
@pytest.mark.usefixtures("command_env")
async def test_the_money_out_scenarios_pass_the_check_and_a_forged_transfer_is_caught(
    client: httpx.AsyncClient, db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)  # the app's settings took it away
    # given a sale under a chain of three, its transfers, a partial refund and its
    # reversals, and payouts paid, refused and pending
    freeze()
    shop = Shop(client, db)
    await shop.settings(payoutHoldDays=0, minimumPayout=1)
    chain, sale = await three_level_sale(shop)
    await deliver(shop)
    assert (await shop.refund(chain["s3"], sale["id"], 2.00)).status_code == 200
    await deliver(shop)
    assert (await shop.payout(chain["s3"], 1.00)).status_code == 201
    shop.provider.fail_next("payout", rejected=True)
    assert (await shop.payout(chain["s3"], 1.00)).status_code == 402
    shop.provider.fail_next("payout")
    assert (await shop.payout(chain["s3"], 1.00)).json()["data"]["status"] == "pending"

    # then `ipmarket ledger check` passes
    result = await asyncio.to_thread(runner.invoke, app, ["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "ledger check: OK" in result.stdout

    # when a transfer is forged above its recipient's part, and a reversal altered
    async with db.transaction() as session:
        seller_transfer = (
            await session.execute(select(Transfer).where(Transfer.recipient_id == chain["s3"].id))
        ).scalar_one()
        await session.execute(
            update(Transfer).where(Transfer.id == seller_transfer.id).values(amount_minor=5000)
        )
        creator_transfer = (
            await session.execute(
                select(Transfer).where(Transfer.recipient_id == chain["creator"].id)
            )
        ).scalar_one()
        reversal = (
            await session.execute(
                select(TransferReversal).where(TransferReversal.transfer_id == creator_transfer.id)
            )
        ).scalar_one()
        reversed_minor = reversal.amount_minor
        await session.execute(
            update(TransferReversal)
            .where(TransferReversal.id == reversal.id)
            .values(amount_minor=reversed_minor + 1)
        )
    result = await asyncio.to_thread(runner.invoke, app, ["ledger", "check"])

    # then the command fails, naming both
    assert result.exit_code == 1, result.output
    tx = f"transaction {sale['id']} (product_sale)"
    assert (
        f"{tx}: transfer {seller_transfer.id} to user {chain['s3'].id} moves 5000, more than "
        "their part 699" in result.stderr
    )
    assert (
        f"{tx}: transfer {creator_transfer.id} to user {chain['creator'].id} counts "
        f"{reversed_minor} reversed, its reversals sum to {reversed_minor + 1}" in result.stderr
    )
    assert (
        f"reversal {reversal.id} takes back {reversed_minor + 1}, their part of refund "
        f"{reversal.refund_id} is {reversed_minor}" in result.stderr
    )
    assert "ledger check: 3 discrepancies" in result.stderr


# --- refunds ------------------------------------------------------------------------------------


async def refunds_by_amount(session: AsyncSession) -> dict[int, Refund]:
    rows = await session.execute(select(Refund))
    return {r.amount_minor: r for r in rows.scalars()}


async def test_refunds_in_every_state_pass_and_a_corrupted_status_is_caught(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a sale under a chain of three with a refused refund of 5.00, a refund of 2.00
    # made, and a pending one of 1.00 (the provider unreachable)
    freeze()
    shop = Shop(client, db)
    chain, sale = await three_level_sale(shop)
    shop.provider.fail_next("refund", rejected=True)
    assert (await shop.refund(chain["s3"], sale["id"], 5.00)).status_code == 402
    assert (await shop.refund(chain["s3"], sale["id"], 2.00)).status_code == 200
    shop.provider.fail_next("refund")
    pending = await shop.refund(chain["s3"], sale["id"], 1.00)
    assert pending.json()["data"]["status"] == "pending"
    # then the books pass
    assert await shop.ledger_problems() == []
    tx = f"transaction {sale['id']} (product_sale)"

    # when the refund made is marked failed behind the ledger's back
    async with db.sessionmaker() as session:
        made = (await refunds_by_amount(session))[200]
        await session.execute(update(Refund).where(Refund.id == made.id).values(status="failed"))
        problems = await check_ledger(session)
    # then its missing reversal and the refunded amount it no longer accounts for are named
    assert problems == [
        f"{tx}: counts 300 refunded, its refunds that did not fail come to 100",
        f"{tx}: refund {made.id} (failed, 200) has no refund_failed posting",
    ]

    # when the refused refund is marked succeeded instead
    async with db.sessionmaker() as session:
        refused = (await refunds_by_amount(session))[500]
        await session.execute(
            update(Refund).where(Refund.id == refused.id).values(status="succeeded")
        )
        problems = await check_ledger(session)
    # then its reversal, and the refunded amount it would add, are named
    assert f"{tx}: counts 300 refunded, its refunds that did not fail come to 800" in problems
    assert f"{tx}: refund {refused.id} (succeeded, 500) has a refund_failed posting" in problems

    # when a refund's posting gives a cent of the seller's part back from the platform
    async with db.sessionmaker() as session:
        await replica(session)
        made = (await refunds_by_amount(session))[200]
        posting = await session.scalar(
            select(LedgerPosting.id).where(
                LedgerPosting.kind == "refund", LedgerPosting.reference == str(made.id)
            )
        )
        revenue = await account_id(session, AccountKind.PLATFORM_REVENUE, None)
        seller = await account_id(session, AccountKind.USER_PENDING, chain["s3"].id)
        session.add(LedgerEntry(posting_id=posting, account_id=revenue, amount_minor=-1))
        session.add(LedgerEntry(posting_id=posting, account_id=seller, amount_minor=1))
        await session.flush()
        problems = await check_ledger(session)
    # then the refund's posting is named for both parties
    what = f"{tx}: refund {made.id} (succeeded, 200): its refund posting moves"
    assert sorted(p for p in problems if p.startswith(what)) == sorted(
        [
            f"{what} -21 for platform revenue, expected -20",
            f"{what} -139 for user {chain['s3'].id}, expected -140",
        ]
    )
