"""A market under random use: purchases (paid, declined, left pending), confirmations,
refunds (made, left pending by an unreachable provider, refused), payouts, revocations and
time passing, through the API. After every step the ledger
sums to zero and passes `check_ledger`, every sale's parts sum to its amount, nobody has been
paid out more than they earned, and the stock is never negative nor oversold."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from ipmarket.kit.clock import clock, utcnow
from ipmarket.kit.db import Database
from ipmarket.kit.idempotency import RETENTION
from ipmarket.payments.checkout.reservations import expire_reservations
from ipmarket.payments.jobs import reconcile_refunds
from ipmarket.payments.ledger.checks import check_ledger
from ipmarket.payments.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    Payout,
    Refund,
    Transaction,
)
from ipmarket.products import Product
from tests.conftest import _empty_all
from tests.payments.shop import DECLINED, VISA, Shop, freeze, key
from tests.support import Account

T = TypeVar("T")
STOCK = 12
MINIMUM_PAYOUT = 100  # minor units
HELD = ("pending", "completed", "refunded")


class Market(RuleBasedStateMachine):
    """One shop per example: a creator's original, licensed (10%) to S1 who made a
    derivative, licensed (5%) to S2 who sells a product at 7.77; two buyers."""

    shop: ClassVar[Shop]
    loop: ClassVar[asyncio.AbstractEventLoop]

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def tick(self) -> None:
        """A second passes between two things people do (as on a real clock: the ledger
        check orders a user's payouts and refunds by time)."""
        clock.advance(timedelta(seconds=1))

    # --- the market --------------------------------------------------------------------------

    @initialize(hold_days=st.sampled_from([0, 1]))
    def open_market(self, hold_days: int) -> None:
        freeze()
        self.run(self._open(hold_days))

    async def _open(self, hold_days: int) -> None:
        shop, rights = self.shop, self.shop.rights
        # Every example starts from empty tables and a fresh provider, so it can be replayed.
        await _empty_all(shop.db)
        shop.provider.reset()
        rights.admin = None
        await shop.settings(payoutHoldDays=hold_days, minimumPayout=MINIMUM_PAYOUT / 100)
        self.creator = await rights.user("creator")
        self.s1 = await rights.user("secondary_creator")
        self.s2 = await rights.user("secondary_creator")
        original = await rights.asset(self.creator)
        t1 = await rights.terms(self.creator, original["id"], revenueSharePercentage=10)
        self.l1 = await rights.license(self.s1, self.creator, original["id"], t1["id"])
        derivative = await rights.asset(self.s1, parent_license_id=self.l1["id"])
        t2 = await rights.terms(self.s1, derivative["id"], revenueSharePercentage=5)
        self.l2 = await rights.license(self.s2, self.s1, derivative["id"], t2["id"])
        product = await rights.product(self.s2, self.l2["id"], price=7.77, inventoryCount=STOCK)
        self.product_id: str = product["id"]
        self.buyers = [await shop.buyer(), await shop.buyer()]
        self.parties = [self.creator, self.s1, self.s2]
        self.sales: list[str] = []
        self.pending: list[str] = []
        self.revoked = False
        # sales with a refund the provider could not be reached for, until the job makes it
        self.refund_pending: set[str] = set()
        # purchases charged whose answer was lost: (buyer, key, quantity, transaction id)
        self.lost: list[tuple[int, str, int, str]] = []
        self.lost_at: dict[str, datetime] = {}
        # what each party was paid out, as the API answered
        self.paid_out: dict[uuid.UUID, int] = {party.id: 0 for party in self.parties}

    def accounts(self) -> list[Account]:
        return [*self.parties, *self.buyers]

    # --- what people do ----------------------------------------------------------------------

    @rule(
        buyer=st.integers(0, 1),
        quantity=st.integers(1, 3),
        how=st.sampled_from(["pay", "pay", "declined", "later", "answer_lost"]),
    )
    def purchase(self, buyer: int, quantity: int, how: str) -> None:
        self.tick()
        method = {"pay": VISA, "declined": DECLINED, "later": None, "answer_lost": VISA}[how]
        if how == "answer_lost":
            # the card is charged, then the connection drops before the answer
            self.shop.provider.fail_next("confirm_intent", answer_lost=True)
        idem = key()
        response = self.run(
            self.shop.buy(
                self.buyers[buyer],
                self.product_id,
                quantity=quantity,
                payment_method=method,
                idempotency_key=idem,
            )
        )
        self.shop.provider.clear_failures()  # when the purchase never reached the card
        if response.status_code == 500:
            # the sale is charged but unanswered: it holds its units until the retry or
            # the expiry job (which asks the provider) completes it
            assert how == "answer_lost", response.text
            tx_id = response.json()["error"]["details"]["transactionId"]
            self.lost.append((buyer, idem, quantity, tx_id))
            self.lost_at[tx_id] = utcnow()
            self.pending.append(tx_id)
            return
        self._new_purchase(response, how)

    def _new_purchase(self, response: httpx.Response, how: str) -> None:
        if response.status_code == 201:
            data = response.json()["data"]
            (self.sales if data["status"] == "completed" else self.pending).append(data["id"])
            assert not self.revoked
        elif response.status_code == 402:
            assert how == "declined"
        else:
            assert response.status_code == 409, response.text
            code = response.json()["error"]["code"]
            assert code == ("LICENSE_EXPIRED" if self.revoked else "CONFLICT"), response.text

    @precondition(lambda self: bool(self.lost))
    @rule(data=st.data())
    def retry_lost(self, data: st.DataObject) -> None:
        self.tick()
        entry = data.draw(st.sampled_from(self.lost))
        buyer, idem, quantity, tx_id = entry
        self.lost.remove(entry)
        forgotten = utcnow() - self.lost_at.pop(tx_id) > RETENTION
        response = self.run(
            self.shop.buy(
                self.buyers[buyer], self.product_id, quantity=quantity, idempotency_key=idem
            )
        )
        if forgotten:
            # a key is kept a day: after that the same key is a new purchase
            self._new_purchase(response, "pay")
            return
        # the retry carries on the same sale: it was paid, so it is completed, once (and
        # maybe refunded since)
        assert response.status_code == 201, response.text
        data_ = response.json()["data"]
        assert data_["id"] == tx_id and data_["status"] in ("completed", "refunded"), data_
        if tx_id in self.pending:
            self.pending.remove(tx_id)
            self.sales.append(tx_id)

    @precondition(lambda self: bool(set(self.pending) - {lost[3] for lost in self.lost}))
    @rule(data=st.data())
    def confirm(self, data: st.DataObject) -> None:
        self.tick()
        lost = {entry[3] for entry in self.lost}
        tx_id = data.draw(st.sampled_from([t for t in self.pending if t not in lost]))
        buyer = self.run(self._buyer_of(tx_id))
        response = self.run(
            self.shop.post(
                "/v1/payments/confirm", buyer, {"transactionId": tx_id, "paymentMethod": VISA}
            )
        )
        self.pending.remove(tx_id)
        if response.status_code == 200:
            self.sales.append(tx_id)
        else:
            # expired, or no longer authorised by the chain
            assert response.status_code == 409, response.text

    @precondition(lambda self: bool(self.sales))
    @rule(
        data=st.data(),
        share=st.sampled_from([None, 0.5, 0.13]),
        provider=st.sampled_from(["up", "up", "unreachable", "refuses"]),
    )
    def refund(self, data: st.DataObject, share: float | None, provider: str) -> None:
        self.tick()
        tx_id = data.draw(st.sampled_from(self.sales))
        left = self.run(self._left_to_refund(tx_id))
        amount = None if share is None else max(1, int(left * share)) / 100
        # (the provider is asked only when there is something to refund and nothing pending)
        asks = left > 0 and tx_id not in self.refund_pending
        if asks and provider != "up":
            self.shop.provider.fail_next("refund", rejected=provider == "refuses")
        response = self.run(self.shop.refund(self.s2, tx_id, amount))
        if not asks:
            assert response.status_code == 409, response.text
        elif provider == "refuses":
            assert response.status_code == 402, response.text
            assert self.run(self._left_to_refund(tx_id)) == left
        else:
            assert response.status_code == 200, response.text
            status = response.json()["data"]["status"]
            assert status == ("pending" if provider == "unreachable" else "succeeded")
            if status == "pending":
                self.refund_pending.add(tx_id)

    @rule(party=st.integers(0, 2), everything=st.booleans())
    def payout(self, party: int, everything: bool) -> None:
        self.tick()
        account = self.parties[party]
        available = self.run(self.shop.ledger_balance(account.id)).available_minor
        requested = available if everything else max(available // 2, MINIMUM_PAYOUT)
        response = self.run(self.shop.payout(account, None if everything else requested / 100))
        # exactly what is available and at least the minimum is paid; anything else is
        # refused with the reason, and nothing moves
        if requested <= 0:
            expected = "Nothing is available to pay out"
        elif requested > available:
            expected = "The payout exceeds your available balance"
        elif requested < MINIMUM_PAYOUT:
            expected = "The minimum payout is"
        else:
            assert response.status_code == 201, response.text
            assert response.json()["data"]["amount"] * 100 == pytest.approx(requested)
            after = self.run(self.shop.ledger_balance(account.id)).available_minor
            assert after == available - requested
            self.paid_out[account.id] += requested
            return
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith(expected), response.text
        assert self.run(self.shop.ledger_balance(account.id)).available_minor == available

    @precondition(lambda self: not self.revoked and len(self.sales) >= 2)
    @rule(which=st.sampled_from(["l1", "l2"]))
    def revoke(self, which: str) -> None:
        self.tick()
        license_, licensor = (self.l1, self.creator) if which == "l1" else (self.l2, self.s1)
        response = self.run(
            self.shop.client.put(
                f"/v1/licenses/{license_['id']}/revoke",
                json={"reason": "The terms were broken"},
                headers=licensor.auth,
            )
        )
        assert response.status_code == 200, response.text
        self.revoked = True

    @rule(minutes=st.sampled_from([5, 20, 12 * 60, 36 * 60]))
    def time_passes(self, minutes: int) -> None:
        # the jobs run every minute: they see the first minutes before the rest goes by
        first = min(minutes, 5)
        clock.advance(timedelta(minutes=first))
        self.run(self._after_a_while())
        if minutes > first:
            clock.advance(timedelta(minutes=minutes - first))
            self.run(self._after_a_while())

    async def _after_a_while(self) -> None:
        await self.shop.log_in_again(*self.accounts())
        await self.shop.release_matured()
        async with self.shop.db.transaction() as session:
            await expire_reservations(session)
        # the pending refund is made by the job, the provider reachable again
        async with self.shop.db.transaction() as session:
            await reconcile_refunds(session)
        async with self.shop.db.sessionmaker() as session:
            left = await session.scalar(
                select(func.count()).select_from(Refund).where(Refund.status == "pending")
            )
        assert left == 0
        self.refund_pending.clear()
        # what the expiry job ended is no longer pending
        async with self.shop.db.sessionmaker() as session:
            statuses = dict(
                (await session.execute(select(Transaction.id, Transaction.status))).all()
            )
        for tx_id in list(self.pending):
            status = statuses[uuid.UUID(tx_id)]
            if status != "pending":
                self.pending.remove(tx_id)
                if status == "completed":
                    self.sales.append(tx_id)

    # --- what must always hold ---------------------------------------------------------------

    @invariant()
    def books_are_sound(self) -> None:
        if hasattr(self, "product_id"):
            self.run(self._check())

    async def _check(self) -> None:
        db: Database = self.shop.db
        async with db.sessionmaker() as session:
            assert await check_ledger(session) == []
            total = await session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0))
            )
            assert total == 0
            product = await session.get(Product, uuid.UUID(self.product_id))
            assert product is not None
            sales = (
                await session.execute(
                    select(Transaction).where(Transaction.product_id == product.id)
                )
            ).scalars()
            held = 0
            for tx in sales:
                shares = sum(int(s["amountMinor"]) for s in tx.revenue_shares)
                assert tx.platform_fee_minor + shares + tx.seller_amount_minor == tx.amount_minor
                assert 0 <= tx.refunded_minor <= tx.amount_minor
                if tx.status in HELD:
                    held += tx.quantity
            assert product.inventory_count >= 0
            assert product.inventory_count + held == STOCK
            for account in self.parties:
                paid = await session.scalar(
                    select(func.coalesce(func.sum(Payout.amount_minor), 0)).where(
                        Payout.user_id == account.id, Payout.status != "failed"
                    )
                )
                assert int(paid or 0) == self.paid_out[account.id]
                # earned, net of refunds: what their sales gave them minus what refunds took
                earned = await session.scalar(
                    select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0))
                    .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                    .join(LedgerPosting, LedgerPosting.id == LedgerEntry.posting_id)
                    .where(
                        LedgerAccount.owner_id == account.id,
                        LedgerAccount.kind.in_(
                            [AccountKind.USER_PENDING.value, AccountKind.USER_AVAILABLE.value]
                        ),
                        LedgerPosting.kind.in_(["sale", "refund", "refund_failed"]),
                    )
                )
                # paid out beyond the net only by refunds made after the payout (the balance
                # then goes negative and later earnings make up for it)
                balance = await self.shop.ledger_balance(account.id)
                assert int(paid or 0) == int(earned or 0) - (
                    balance.pending_minor + balance.available_minor
                )

    # --- helpers -----------------------------------------------------------------------------

    async def _buyer_of(self, tx_id: str) -> Account:
        async with self.shop.db.sessionmaker() as session:
            tx = (
                await session.execute(select(Transaction).where(Transaction.id == uuid.UUID(tx_id)))
            ).scalar_one()
        return next(b for b in self.buyers if b.id == tx.buyer_id)

    async def _left_to_refund(self, tx_id: str) -> int:
        async with self.shop.db.sessionmaker() as session:
            tx = (
                await session.execute(select(Transaction).where(Transaction.id == uuid.UUID(tx_id)))
            ).scalar_one()
        return tx.amount_minor - tx.refunded_minor


@pytest.fixture
async def fixtures_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


@pytest.mark.slow
def test_the_market_keeps_its_books(
    client: httpx.AsyncClient, db: Database, fixtures_loop: asyncio.AbstractEventLoop
) -> None:
    Market.shop = Shop(client, db)
    Market.loop = fixtures_loop
    run_state_machine_as_test(
        Market,
        settings=settings(
            max_examples=10,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
