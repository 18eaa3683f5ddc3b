"""Payments tables: transactions (partitioned by year), the double-entry ledger, payouts,
refunds, processed provider webhooks, users' connected accounts at the provider, and the
transfers of each sale's parts to them. (Idempotency keys are the kernel's:
`ipmarket.kit.idempotency`.)"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Base, IdMixin
from ipmarket.kit.ids import new_id


class TransactionType(StrEnum):
    PRODUCT_SALE = "product_sale"
    LICENSE_FEE = "license_fee"
    REVENUE_SHARE = "revenue_share"


class TransactionStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    REFUNDED = "refunded"


# Sales and license fees: the transactions that move money through a `sale` posting and
# whose parts are transferred to their recipients.
SALE_TYPES = (TransactionType.PRODUCT_SALE.value, TransactionType.LICENSE_FEE.value)
# Paid transactions, whose parts belong to their recipients.
SETTLED_STATUSES = (TransactionStatus.COMPLETED.value, TransactionStatus.REFUNDED.value)


class Transaction(Base):
    """A sale or a license fee. Partitioned by year of `created_at` (seed §7.2), so the
    primary key includes it."""

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint(
            "transaction_type IN ('product_sale', 'license_fee', 'revenue_share')", name="type"
        ),
        CheckConstraint("status IN ('pending', 'completed', 'failed', 'refunded')", name="status"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refund_within_amount"
        ),
        Index("idx_transactions_buyer", "buyer_id"),
        Index("idx_transactions_seller", "seller_id"),
        Index("idx_transactions_type_status", "transaction_type", "status"),
        Index("idx_transactions_product", "product_id"),
        Index("idx_transactions_reference", "payment_reference"),
        Index(
            "idx_transactions_reservations",
            "expires_at",
            postgresql_where="status = 'pending' AND expires_at IS NOT NULL",
        ),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(primary_key=True, default=utcnow)
    transaction_type: Mapped[str] = mapped_column(String(20))
    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    product_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("products.id"))
    # The product's title when it was bought: the order shows what was bought even after
    # the product is renamed, suspended or removed.
    product_title: Mapped[str | None] = mapped_column(String(255))
    license_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("license_applications.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    platform_fee_minor: Mapped[int] = mapped_column(BigInteger)
    seller_amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # [{recipientId, licenseId, percentage, amountMinor}], one per licensor up the chain.
    revenue_shares: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    payment_method: Mapped[str | None] = mapped_column(String(50))
    # The provider's payment intent (or charge) id.
    payment_reference: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default=TransactionStatus.PENDING.value)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # A pending sale holds its stock until then.
    expires_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AccountKind(StrEnum):
    USER_PENDING = "user_pending"  # earnings inside the hold period
    USER_AVAILABLE = "user_available"  # earnings that may be paid out
    PLATFORM_REVENUE = "platform_revenue"  # the platform's fees
    PROVIDER_CLEARING = "provider_clearing"  # money held at the payment provider
    PAYOUTS = "payouts"  # money sent out to users' bank accounts
    # Payouts recorded but not yet confirmed by the provider: taken from users' available
    # balances, not yet sent.
    PAYOUTS_IN_FLIGHT = "payouts_in_flight"


class LedgerAccount(IdMixin, Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('user_pending', 'user_available', 'platform_revenue', "
            "'provider_clearing', 'payouts', 'payouts_in_flight')",
            name="kind",
        ),
        CheckConstraint(
            "(kind IN ('user_pending', 'user_available')) = (owner_id IS NOT NULL)",
            name="owner_iff_user_account",
        ),
        UniqueConstraint(
            "kind",
            "owner_id",
            "currency",
            name="uq_ledger_accounts_kind",
            postgresql_nulls_not_distinct=True,
        ),
    )

    kind: Mapped[str] = mapped_column(String(30))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LedgerPosting(IdMixin, Base):
    """One balanced movement of money: its entries sum to zero."""

    __tablename__ = "ledger_postings"
    __table_args__ = (
        Index("idx_ledger_postings_transaction", "transaction_id"),
        Index("idx_ledger_postings_kind", "kind", "created_at"),
        # One posting of a kind per reference: a replay posts nothing twice.
        UniqueConstraint("kind", "reference", name="uq_ledger_postings_kind_reference"),
    )

    kind: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(255))
    transaction_id: Mapped[uuid.UUID | None]
    memo: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LedgerEntry(IdMixin, Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount_minor <> 0", name="amount_not_zero"),
        Index("idx_ledger_entries_account", "account_id", "created_at"),
        Index("idx_ledger_entries_posting", "posting_id"),
    )

    posting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_postings.id"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    # Positive: the account holder is owed more (a credit to a liability or revenue account).
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    # Earnings become available at this time (user_pending entries of a sale).
    available_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class PayoutStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


class Payout(IdMixin, Base):
    __tablename__ = "payouts"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'paid', 'failed')", name="status"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("idx_payouts_user", "user_id", "created_at"),
        Index("idx_payouts_reference", "provider_reference"),
        # What the reconciliation job looks for.
        Index("idx_payouts_pending", "created_at", postgresql_where="status = 'pending'"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    status: Mapped[str] = mapped_column(String(20), default=PayoutStatus.PENDING.value)
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    processed_at: Mapped[datetime | None]


class RefundStatus(StrEnum):
    PENDING = "pending"  # recorded (and posted), the provider not yet known to have made it
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # refused by the provider: its posting was reversed


class Refund(IdMixin, Base):
    """A refund, recorded and posted before the provider is asked to make it (see
    `refunds.service`)."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        Index("idx_refunds_transaction", "transaction_id"),
        # What the reconciliation job looks for.
        Index("idx_refunds_pending", "created_at", postgresql_where="status = 'pending'"),
    )

    transaction_id: Mapped[uuid.UUID]
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default=RefundStatus.PENDING.value)
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    processed_at: Mapped[datetime | None]


class ProviderEvent(Base):
    """A provider webhook event handled once (Stripe event ids)."""

    __tablename__ = "provider_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(30))
    event_type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class PaymentAccount(IdMixin, Base):
    """A user's connected account at the payment provider (Stripe Connect), which receives
    their earnings and pays them out to their bank. Opened on first need."""

    __tablename__ = "payment_accounts"
    __table_args__ = (
        UniqueConstraint("user_id", name="uq_payment_accounts_user_id"),
        UniqueConstraint(
            "provider", "provider_account_id", name="uq_payment_accounts_provider_account"
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    provider: Mapped[str] = mapped_column(String(30))
    provider_account_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class TransferStatus(StrEnum):
    TRANSFERRED = "transferred"
    PARTIALLY_REVERSED = "partially_reversed"
    REVERSED = "reversed"


class Transfer(IdMixin, Base):
    """One recipient's part of a sale or license fee (their revenue shares and, for the
    seller, the seller's amount), sent to their connected account in the transaction's
    transfer group (Stripe's separate charges and transfers). One per transaction and
    recipient; refunds reverse it in part or in full."""

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("transaction_id", "recipient_id", name="uq_transfers_transaction_id"),
        CheckConstraint(
            "status IN ('transferred', 'partially_reversed', 'reversed')", name="status"
        ),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "reversed_minor >= 0 AND reversed_minor <= amount_minor", name="reversed_within_amount"
        ),
        Index("idx_transfers_recipient", "recipient_id", "created_at"),
    )

    # No foreign key: the transactions table is partitioned (its key includes created_at).
    transaction_id: Mapped[uuid.UUID]
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # The connected account it went to, and the provider's transfer id.
    destination: Mapped[str] = mapped_column(String(255))
    provider_reference: Mapped[str] = mapped_column(String(255))
    reversed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default=TransferStatus.TRANSFERRED.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class TransferReversal(IdMixin, Base):
    """The part of a refund taken back from one recipient's transfer; one per transfer and
    refund, so a replayed refund reverses nothing more."""

    __tablename__ = "transfer_reversals"
    __table_args__ = (
        UniqueConstraint("transfer_id", "refund_id", name="uq_transfer_reversals_transfer_id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("idx_transfer_reversals_refund", "refund_id"),
    )

    transfer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("transfers.id"))
    refund_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("refunds.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    provider_reference: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
