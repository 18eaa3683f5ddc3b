"""Building blocks for the payments API tests: a shop with a product under a chain of
licenses, purchases and the other money-moving calls (each with an Idempotency-Key), and
looks into the database, the ledger and the test provider."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from ipmarket.eventbus.models import OutboxEvent
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.kit.idempotency import IdempotencyKey
from ipmarket.payments import get_provider
from ipmarket.payments.jobs import release_matured_earnings
from ipmarket.payments.ledger import Balance, balance
from ipmarket.payments.ledger.checks import check_ledger
from ipmarket.payments.models import (
    LedgerEntry,
    LedgerPosting,
    Payout,
    Refund,
    Transaction,
)
from ipmarket.payments.providers import TestProvider
from ipmarket.products import Product
from ipmarket.settings import update_platform_settings
from tests.rights import Rights
from tests.support import Account, login

# Inside the years the transactions table has partitions for.
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
VISA = "pm_card_visa"
DECLINED = "pm_card_chargeDeclined"


def key() -> str:
    return f"key-{uuid.uuid4()}"


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


@dataclass
class Shop:
    client: httpx.AsyncClient
    db: Database
    rights: Rights = field(init=False)

    def __post_init__(self) -> None:
        self.rights = Rights(self.client, self.db)
        # The test provider is one per process: start each test with a clean one.
        self.provider.reset()

    # --- arranging -------------------------------------------------------------------------

    async def settings(self, **payments: Any) -> None:
        """Change platform payment settings (camelCase keys)."""
        async with self.db.transaction() as session:
            await update_platform_settings(session, {"payments": payments}, updated_by=None)

    async def product(
        self, *, price: float | str = 19.99, stock: int = 10, share: float = 10
    ) -> tuple[dict[str, Any], Account, Account]:
        """A published product under a one-level license: (product, seller, licensor)."""
        creator = await self.rights.user("creator")
        seller = await self.rights.user("secondary_creator")
        asset = await self.rights.asset(creator)
        terms = await self.rights.terms(creator, asset["id"], revenueSharePercentage=share)
        held = await self.rights.license(seller, creator, asset["id"], terms["id"])
        product = await self.rights.product(seller, held["id"], price=price, inventoryCount=stock)
        return product, seller, creator

    async def buyer(self) -> Account:
        return await self.rights.user("buyer")

    async def log_in_again(self, *accounts: Account) -> None:
        """Fresh access tokens (after the clock has moved past their lifetime)."""
        for account in accounts:
            response = await login(self.client, account.email, account.password)
            assert response.status_code == 200, response.text
            account.token = response.json()["data"]["token"]

    # --- acting ----------------------------------------------------------------------------

    async def post(
        self,
        path: str,
        account: Account,
        body: dict[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = {**account.auth, "Idempotency-Key": idempotency_key or key()}
        return await self.client.post(path, json=body, headers=headers)

    async def buy(
        self,
        buyer: Account,
        product_id: str,
        *,
        quantity: int = 1,
        payment_method: str | None = VISA,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"quantity": quantity}
        if payment_method is not None:
            body["paymentMethod"] = payment_method
        return await self.post(
            f"/v1/products/{product_id}/purchase", buyer, body, idempotency_key=idempotency_key
        )

    async def bought(self, buyer: Account, product_id: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.buy(buyer, product_id, **kwargs)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def refund(
        self,
        account: Account,
        transaction_id: str,
        amount: float | None = None,
        *,
        reason: str = "Damaged in transit",
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"transactionId": transaction_id, "reason": reason}
        if amount is not None:
            body["amount"] = amount
        return await self.post(
            "/v1/payments/refund", account, body, idempotency_key=idempotency_key
        )

    async def payout(
        self, account: Account, amount: float | None = None, *, idempotency_key: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {} if amount is None else {"amount": amount}
        return await self.post(
            "/v1/payments/payout", account, body, idempotency_key=idempotency_key
        )

    async def balance_of(self, account: Account) -> dict[str, Any]:
        response = await self.client.get("/v1/payments/balance", headers=account.auth)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def release_matured(self) -> None:
        async with self.db.transaction() as session:
            await release_matured_earnings(session)

    # --- looking ---------------------------------------------------------------------------

    @property
    def provider(self) -> TestProvider:
        provider = get_provider()
        assert isinstance(provider, TestProvider)
        return provider

    async def ledger_problems(self) -> list[str]:
        async with self.db.sessionmaker() as session:
            return await check_ledger(session)

    async def ledger_balance(self, user_id: uuid.UUID) -> Balance:
        async with self.db.sessionmaker() as session:
            return await balance(session, user_id)

    async def product_row(self, product_id: str) -> Product:
        async with self.db.sessionmaker() as session:
            row = await session.get(Product, uuid.UUID(product_id))
            assert row is not None
            return row

    async def transactions(self) -> list[Transaction]:
        async with self.db.sessionmaker() as session:
            rows = await session.execute(select(Transaction).order_by(Transaction.created_at))
            return list(rows.scalars())

    async def count(self, model: type[Any]) -> int:
        async with self.db.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def fingerprint(self) -> dict[str, Any]:
        """What moves when money or stock moves (idempotency keys aside)."""
        async with self.db.sessionmaker() as session:
            rows = await session.execute(select(Product.id, Product.inventory_count))
            stock = dict(rows.all())
        return {
            "stock": stock,
            "transactions": await self.count(Transaction),
            "postings": await self.count(LedgerPosting),
            "entries": await self.count(LedgerEntry),
            "refunds": await self.count(Refund),
            "payouts": await self.count(Payout),
            "intents": len(self.provider.intents()),
            "refunds_at_provider": len(self.provider.refunds()),
            "payouts_at_provider": len(self.provider.payouts()),
        }

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        async with self.db.sessionmaker() as session:
            rows = await session.execute(
                select(OutboxEvent.payload)
                .where(OutboxEvent.event_type == event_type)
                .order_by(OutboxEvent.occurred_at)
            )
            return [dict(payload) for payload in rows.scalars()]

    async def keys(self) -> int:
        return await self.count(IdempotencyKey)


def freeze(at: datetime = START) -> None:
    clock.freeze(at)
