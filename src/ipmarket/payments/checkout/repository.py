"""The SQL of sales and license fees: the `transactions` table."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import User
from ipmarket.licensing import LicenseApplication, LicenseStatus
from ipmarket.payments.models import (
    SETTLED_STATUSES,
    Transaction,
    TransactionStatus,
    TransactionType,
)


@dataclass(frozen=True)
class TransactionFilters:
    transaction_type: str | None = None
    status: str | None = None
    # Transactions this user bought, sold or earned a revenue share from.
    party_id: uuid.UUID | None = None
    # With party_id: only those where they played this part (`earner`: seller or licensor).
    role: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    # Sales of this product only.
    product_id: uuid.UUID | None = None
    # Only those paid (completed, or refunded since).
    paid_only: bool = False


def _earned_by(user_id: uuid.UUID) -> ColumnElement[bool]:
    return Transaction.revenue_shares.contains([{"recipientId": str(user_id)}])


def _party(user_id: uuid.UUID, role: str | None) -> ColumnElement[bool]:
    if role == "buyer":
        return Transaction.buyer_id == user_id
    if role == "seller":
        return Transaction.seller_id == user_id
    if role == "licensor":
        return _earned_by(user_id)
    if role == "earner":  # the sales that paid them: as the seller or as a licensor
        return or_(Transaction.seller_id == user_id, _earned_by(user_id))
    return or_(
        Transaction.buyer_id == user_id, Transaction.seller_id == user_id, _earned_by(user_id)
    )


async def usernames_of(
    session: AsyncSession, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The usernames of the parties to some transactions (one query)."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(set(user_ids))))
    return {row.id: row.username for row in rows}


class TransactionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Transaction) -> None:
        self.session.add(row)
        await self.session.flush()

    async def transaction(
        self, transaction_id: uuid.UUID, *, for_update: bool = False
    ) -> Transaction | None:
        stmt = select(Transaction).where(Transaction.id == transaction_id)
        if for_update:
            # Locked rows are read afresh: another process may have settled it meanwhile.
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return (await self.session.execute(stmt)).scalars().first()

    async def lock_transaction_id(self, transaction_id: uuid.UUID) -> None:
        """Hold a transaction-scoped advisory lock on an id about to be given to a new
        transaction (transactions are partitioned, so the id alone is not a unique key)."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(str(transaction_id), 0)))
        )

    async def by_reference(
        self, payment_reference: str, *, for_update: bool = False
    ) -> Transaction | None:
        stmt = select(Transaction).where(Transaction.payment_reference == payment_reference)
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return (await self.session.execute(stmt.order_by(Transaction.id))).scalars().first()

    async def pending_license_fee(
        self, license_id: uuid.UUID, *, for_update: bool = False
    ) -> Transaction | None:
        stmt = select(Transaction).where(
            Transaction.license_id == license_id,
            Transaction.transaction_type == TransactionType.LICENSE_FEE,
            Transaction.status == TransactionStatus.PENDING,
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalars().first()

    async def pending_fees_of_decided_licenses(self, limit: int) -> list[tuple[Transaction, str]]:
        """Pending fees whose license is no longer pending, locked; rows a request holds are
        skipped (it is settling them)."""
        rows = await self.session.execute(
            select(Transaction, LicenseApplication.status)
            .join(LicenseApplication, LicenseApplication.id == Transaction.license_id)
            .where(
                Transaction.transaction_type == TransactionType.LICENSE_FEE,
                Transaction.status == TransactionStatus.PENDING,
                LicenseApplication.status != LicenseStatus.PENDING,
            )
            .order_by(Transaction.created_at, Transaction.id)
            .limit(limit)
            .with_for_update(of=Transaction, skip_locked=True)
        )
        return [(tx, status) for tx, status in rows.all()]

    async def due_reservations(self, now: datetime, *, limit: int) -> list[Transaction]:
        """Pending sales whose reservation has ended, locked; rows another process holds
        are skipped (it is dealing with them)."""
        rows = await self.session.execute(
            select(Transaction)
            .where(
                Transaction.status == TransactionStatus.PENDING,
                Transaction.expires_at.is_not(None),
                Transaction.expires_at <= now,
            )
            .order_by(Transaction.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows.scalars())

    async def best_selling_product_ids(self, *, since: datetime, limit: int) -> list[uuid.UUID]:
        """The products sold in the most units since `since` (completed sales, refunded
        ones not counted), most first; ties go to the product sold last."""
        units = func.sum(Transaction.quantity)
        stmt = (
            select(Transaction.product_id)
            .where(
                Transaction.transaction_type == TransactionType.PRODUCT_SALE.value,
                Transaction.status == TransactionStatus.COMPLETED.value,
                Transaction.product_id.is_not(None),
                Transaction.created_at >= since,
            )
            .group_by(Transaction.product_id)
            .order_by(units.desc(), func.max(Transaction.created_at).desc())
            .limit(limit)
        )
        return [row for row in (await self.session.execute(stmt)).scalars() if row is not None]

    async def search(
        self, filters: TransactionFilters, *, offset: int, limit: int
    ) -> tuple[list[Transaction], int]:
        """A page of transactions, newest first, and how many match (two queries)."""
        conditions: list[ColumnElement[bool]] = []
        if filters.party_id is not None:
            conditions.append(_party(filters.party_id, filters.role))
        if filters.transaction_type:
            conditions.append(Transaction.transaction_type == filters.transaction_type)
        if filters.status:
            conditions.append(Transaction.status == filters.status)
        if filters.paid_only:
            conditions.append(Transaction.status.in_(SETTLED_STATUSES))
        if filters.created_from is not None:
            conditions.append(Transaction.created_at >= filters.created_from)
        if filters.created_to is not None:
            conditions.append(Transaction.created_at < filters.created_to)
        if filters.product_id is not None:
            conditions.append(Transaction.product_id == filters.product_id)
        where = and_(True, *conditions)
        total = await self.session.scalar(
            select(func.count()).select_from(Transaction).where(where)
        )
        rows = await self.session.execute(
            select(Transaction)
            .where(where)
            .order_by(Transaction.created_at.desc(), Transaction.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows.scalars()), int(total or 0)
