"""The SQL of payouts, connected accounts and transfers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import case, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.ids import new_id
from ipmarket.payments.models import (
    PaymentAccount,
    Payout,
    Transfer,
    TransferReversal,
    TransferStatus,
)
from ipmarket.payments.refunds.repository import current_row, pending_between

# The first key of the two-key advisory locks this module takes (per user, for payouts).
ADVISORY_LOCK_NAMESPACE = 0x9A7E


class MoneyOutRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Payout) -> None:
        self.session.add(row)
        await self.session.flush()

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

    async def payout_exists(self, payout_id: uuid.UUID) -> bool:
        return bool(await self.session.scalar(select(exists().where(Payout.id == payout_id))))

    async def lock_user_funds(self, user_id: uuid.UUID) -> None:
        """Serialise the payouts of one user until the transaction ends."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(ADVISORY_LOCK_NAMESPACE, func.hashtext(str(user_id))))
        )

    async def payout(self, payout_id: uuid.UUID, *, for_update: bool = False) -> Payout | None:
        """A payout as it is in the database now (not as this session last saw it)."""
        return await current_row(self.session, Payout, payout_id, for_update=for_update)

    async def payouts_of(
        self, user_id: uuid.UUID, *, offset: int, limit: int
    ) -> tuple[list[Payout], int]:
        """A page of a user's payouts, newest first, and how many they have (two queries)."""
        total = await self.session.scalar(
            select(func.count()).select_from(Payout).where(Payout.user_id == user_id)
        )
        rows = await self.session.execute(
            select(Payout)
            .where(Payout.user_id == user_id)
            .order_by(Payout.created_at.desc(), Payout.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows.scalars()), int(total or 0)

    async def stale_pending_payouts(
        self, created_before: datetime, *, created_after: datetime, limit: int
    ) -> list[uuid.UUID]:
        """Pending payouts recorded between `created_after` and `created_before`, oldest
        first."""
        return await pending_between(self.session, Payout, created_before, created_after, limit)

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
