"""All SQL of the payments module's sales, refunds, payouts, idempotency keys, webhook
events, connected accounts and transfers (the ledger's SQL lives in `ledger`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, case, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.ids import new_id
from ipmarket.licensing import LicenseApplication, LicenseStatus
from ipmarket.payments.ledger import SALE
from ipmarket.payments.models import (
    IdempotencyKey,
    LedgerEntry,
    LedgerPosting,
    PaymentAccount,
    Payout,
    ProviderEvent,
    Refund,
    RefundStatus,
    Transaction,
    TransactionStatus,
    TransactionType,
    Transfer,
    TransferReversal,
    TransferStatus,
)

# The first key of the two-key advisory locks this module takes (per user, for payouts).
ADVISORY_LOCK_NAMESPACE = 0x9A7E


@dataclass(frozen=True)
class TransactionFilters:
    transaction_type: str | None = None
    status: str | None = None
    # Transactions this user bought, sold or earned a revenue share from.
    party_id: uuid.UUID | None = None
    # With party_id: only those where they played this part.
    role: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def _earned_by(user_id: uuid.UUID) -> ColumnElement[bool]:
    return Transaction.revenue_shares.contains([{"recipientId": str(user_id)}])


def _party(user_id: uuid.UUID, role: str | None) -> ColumnElement[bool]:
    if role == "buyer":
        return Transaction.buyer_id == user_id
    if role == "seller":
        return Transaction.seller_id == user_id
    if role == "licensor":
        return _earned_by(user_id)
    return or_(
        Transaction.buyer_id == user_id, Transaction.seller_id == user_id, _earned_by(user_id)
    )


# Rows that wait on the provider: refunds and payouts (both `pending` until settled).
_Settled = TypeVar("_Settled", Refund, Payout)


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Transaction | Refund | Payout) -> None:
        self.session.add(row)
        await self.session.flush()

    # --- transactions --------------------------------------------------------------------

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
        if filters.created_from is not None:
            conditions.append(Transaction.created_at >= filters.created_from)
        if filters.created_to is not None:
            conditions.append(Transaction.created_at < filters.created_to)
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

    # --- refunds and payouts -------------------------------------------------------------

    async def refunds_of(
        self, transaction_id: uuid.UUID, *, with_failed: bool = False
    ) -> list[Refund]:
        """A transaction's refunds, in the order they were made. Failed ones (their posting
        reversed, nothing given back) only `with_failed`: they take no part in the split of
        the refunds after them, here or in the transfers' reversals."""
        stmt = select(Refund).where(Refund.transaction_id == transaction_id)
        if not with_failed:
            stmt = stmt.where(Refund.status != RefundStatus.FAILED.value)
        rows = await self.session.execute(stmt.order_by(Refund.created_at, Refund.id))
        return list(rows.scalars())

    async def refund(self, refund_id: uuid.UUID, *, for_update: bool = False) -> Refund | None:
        """A refund as it is in the database now (not as this session last saw it)."""
        return await self._current(Refund, refund_id, for_update=for_update)

    async def refund_by_reference(self, provider_reference: str) -> Refund | None:
        rows = await self.session.execute(
            select(Refund)
            .where(Refund.provider_reference == provider_reference)
            .order_by(Refund.id)
            .limit(1)
        )
        return rows.scalars().first()

    async def stale_pending_refunds(
        self, created_before: datetime, *, created_after: datetime, limit: int
    ) -> list[uuid.UUID]:
        """Pending refunds recorded between `created_after` and `created_before`, oldest
        first."""
        return await self._pending_between(Refund, created_before, created_after, limit)

    async def payout_by_reference(
        self, provider_reference: str, *, for_update: bool = False
    ) -> Payout | None:
        """The payout the provider knows by this id, as it is in the database now."""
        stmt = (
            select(Payout)
            .where(Payout.provider_reference == provider_reference)
            .execution_options(populate_existing=True)
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt.order_by(Payout.id))).scalars().first()

    async def sale_available_at(self, transaction_id: uuid.UUID) -> datetime | None:
        """When the earnings of a transaction's sale posting leave the hold period (None
        when they were available at once, or nothing was posted)."""
        return await self.session.scalar(
            select(func.max(LedgerEntry.available_at))
            .select_from(LedgerEntry)
            .join(LedgerPosting, LedgerPosting.id == LedgerEntry.posting_id)
            .where(LedgerPosting.kind == SALE, LedgerPosting.reference == str(transaction_id))
        )

    async def payout_exists(self, payout_id: uuid.UUID) -> bool:
        return bool(await self.session.scalar(select(exists().where(Payout.id == payout_id))))

    async def lock_user_funds(self, user_id: uuid.UUID) -> None:
        """Serialise the payouts of one user until the transaction ends."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(ADVISORY_LOCK_NAMESPACE, func.hashtext(str(user_id))))
        )

    async def payout(self, payout_id: uuid.UUID, *, for_update: bool = False) -> Payout | None:
        """A payout as it is in the database now (not as this session last saw it)."""
        return await self._current(Payout, payout_id, for_update=for_update)

    async def stale_pending_payouts(
        self, created_before: datetime, *, created_after: datetime, limit: int
    ) -> list[uuid.UUID]:
        """Pending payouts recorded between `created_after` and `created_before`, oldest
        first."""
        return await self._pending_between(Payout, created_before, created_after, limit)

    async def _current(
        self, model: type[_Settled], row_id: uuid.UUID, *, for_update: bool
    ) -> _Settled | None:
        stmt = select(model).where(model.id == row_id).execution_options(populate_existing=True)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalars().first()

    async def _pending_between(
        self, model: type[Refund | Payout], before: datetime, after: datetime, limit: int
    ) -> list[uuid.UUID]:
        rows = await self.session.execute(
            select(model.id)
            .where(model.status == "pending", model.created_at < before, model.created_at > after)
            .order_by(model.created_at, model.id)
            .limit(limit)
        )
        return list(rows.scalars())

    # --- connected accounts and transfers -----------------------------------------------

    async def payment_account(self, user_id: uuid.UUID) -> PaymentAccount | None:
        return (
            await self.session.execute(
                select(PaymentAccount).where(PaymentAccount.user_id == user_id)
            )
        ).scalar_one_or_none()

    async def add_payment_account(
        self, user_id: uuid.UUID, *, provider: str, provider_account_id: str, now: datetime
    ) -> PaymentAccount:
        """Record the user's connected account, unless one was recorded meanwhile: returns
        the account recorded for the user either way."""
        await self.session.execute(
            insert(PaymentAccount)
            .values(
                id=new_id(),
                user_id=user_id,
                provider=provider,
                provider_account_id=provider_account_id,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        account = await self.payment_account(user_id)
        assert account is not None  # inserted, or inserted by another transaction
        return account

    async def transfers_of(self, transaction_id: uuid.UUID) -> list[Transfer]:
        rows = await self.session.execute(
            select(Transfer)
            .where(Transfer.transaction_id == transaction_id)
            .order_by(Transfer.created_at, Transfer.id)
            .execution_options(populate_existing=True)
        )
        return list(rows.scalars())

    async def add_transfer(
        self,
        *,
        transaction_id: uuid.UUID,
        recipient_id: uuid.UUID,
        amount_minor: int,
        currency: str,
        destination: str,
        provider_reference: str,
        now: datetime,
    ) -> bool:
        """Record a transfer; False when the recipient's transfer for the transaction was
        recorded already (by a concurrent delivery)."""
        inserted = await self.session.execute(
            insert(Transfer)
            .values(
                id=new_id(),
                transaction_id=transaction_id,
                recipient_id=recipient_id,
                amount_minor=amount_minor,
                currency=currency,
                destination=destination,
                provider_reference=provider_reference,
                reversed_minor=0,
                status=TransferStatus.TRANSFERRED.value,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(constraint="uq_transfers_transaction_id")
            .returning(Transfer.id)
        )
        return inserted.scalar_one_or_none() is not None

    async def reversals_of_refund(self, refund_id: uuid.UUID) -> list[TransferReversal]:
        rows = await self.session.execute(
            select(TransferReversal).where(TransferReversal.refund_id == refund_id)
        )
        return list(rows.scalars())

    async def add_reversal(
        self,
        transfer: Transfer,
        *,
        refund_id: uuid.UUID,
        amount_minor: int,
        provider_reference: str,
        now: datetime,
    ) -> bool:
        """Record the reversal of `amount_minor` of `transfer` for a refund and count it on
        the transfer; False (nothing changed) when that refund's reversal of that transfer
        was recorded already."""
        inserted = await self.session.execute(
            insert(TransferReversal)
            .values(
                id=new_id(),
                transfer_id=transfer.id,
                refund_id=refund_id,
                amount_minor=amount_minor,
                provider_reference=provider_reference,
                created_at=now,
            )
            .on_conflict_do_nothing(constraint="uq_transfer_reversals_transfer_id")
            .returning(TransferReversal.id)
        )
        if inserted.scalar_one_or_none() is None:
            return False
        reversed_minor = Transfer.reversed_minor + amount_minor
        await self.session.execute(
            update(Transfer)
            .where(Transfer.id == transfer.id)
            .values(
                reversed_minor=reversed_minor,
                status=case(
                    (reversed_minor >= Transfer.amount_minor, TransferStatus.REVERSED.value),
                    else_=TransferStatus.PARTIALLY_REVERSED.value,
                ),
                updated_at=now,
            )
        )
        return True

    # --- idempotency keys ----------------------------------------------------------------

    async def claim_key(
        self,
        user_id: uuid.UUID,
        key: str,
        *,
        method: str,
        path: str,
        request_hash: str,
        now: datetime,
        attempt: uuid.UUID,
    ) -> bool:
        """Insert the key in flight, held by `attempt`; False if it already exists."""
        inserted = await self.session.execute(
            insert(IdempotencyKey)
            .values(
                user_id=user_id,
                key=key,
                method=method,
                path=path,
                request_hash=request_hash,
                state="in_flight",
                created_at=now,
                attempt=attempt,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "key"])
            .returning(IdempotencyKey.key)
        )
        return inserted.scalar_one_or_none() is not None

    async def key(self, user_id: uuid.UUID, key: str) -> IdempotencyKey | None:
        return (
            await self.session.execute(
                select(IdempotencyKey)
                .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()

    async def take_over_key(
        self,
        user_id: uuid.UUID,
        key: str,
        *,
        stale_before: datetime,
        now: datetime,
        attempt: uuid.UUID,
    ) -> bool:
        """Hand a key left in flight since before `stale_before` (its request died, or
        stalled) to `attempt`; the old attempt can no longer complete or release it."""
        row = await self.session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_flight",
                IdempotencyKey.created_at < stale_before,
            )
            .values(created_at=now, attempt=attempt)
            .returning(IdempotencyKey.key)
        )
        return row.scalar_one_or_none() is not None

    async def complete_key(
        self,
        user_id: uuid.UUID,
        key: str,
        *,
        attempt: uuid.UUID,
        status: int,
        body: dict[str, Any],
        now: datetime,
    ) -> bool:
        """Record the response of the attempt holding the key; False if it lost the key."""
        row = await self.session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_flight",
                IdempotencyKey.attempt == attempt,
            )
            .values(state="completed", response_status=status, response_body=body, completed_at=now)
            .returning(IdempotencyKey.key)
        )
        return row.scalar_one_or_none() is not None

    async def release_key(self, user_id: uuid.UUID, key: str, *, attempt: uuid.UUID) -> None:
        await self.session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_flight",
                IdempotencyKey.attempt == attempt,
            )
        )

    async def purge_keys(self, *, older_than: datetime, limit: int) -> int:
        doomed = (
            select(IdempotencyKey.user_id, IdempotencyKey.key)
            .where(IdempotencyKey.created_at < older_than)
            .limit(limit)
            .subquery()
        )
        result = await self.session.execute(
            delete(IdempotencyKey)
            .where(IdempotencyKey.user_id == doomed.c.user_id, IdempotencyKey.key == doomed.c.key)
            .returning(IdempotencyKey.key)
        )
        return len(result.all())

    # --- provider webhooks ---------------------------------------------------------------

    async def record_provider_event(self, event_id: str, *, provider: str, event_type: str) -> bool:
        """Remember a webhook event; False if it was seen before."""
        inserted = await self.session.execute(
            insert(ProviderEvent)
            .values(id=event_id, provider=provider, event_type=event_type)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(ProviderEvent.id)
        )
        return inserted.scalar_one_or_none() is not None
