"""Money going out to users: connected accounts, per-order transfers and their reversals,
and payouts recorded before they are paid.

- `payment_accounts`: each user's connected account at the provider (one per user).
- `transfers`: each recipient's part of a sale or license fee sent to their connected
  account, one per transaction and recipient; `transfer_reversals`: the part of a refund
  taken back from a transfer, one per transfer and refund.
- the ledger gets a `payouts_in_flight` account: payouts taken from available balances but
  not yet confirmed by the provider.
- a partial index on pending payouts, for the job that completes them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 16:00:00+00:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS_BEFORE = (
    "'user_pending', 'user_available', 'platform_revenue', 'provider_clearing', 'payouts'"
)
_KINDS_AFTER = _KINDS_BEFORE + ", 'payouts_in_flight'"


def _now() -> "sa.Column[datetime]":
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    # `payout.failed` webhooks find the payout by the provider's id.
    op.create_index("idx_payouts_reference", "payouts", ["provider_reference"], unique=False)
    op.drop_constraint(op.f("ck_ledger_accounts_kind"), "ledger_accounts", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_accounts_kind"), "ledger_accounts", f"kind IN ({_KINDS_AFTER})"
    )
    op.create_index(
        "idx_payouts_pending",
        "payouts",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )

    op.create_table(
        "payment_accounts",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("provider_account_id", sa.String(length=255), nullable=False),
        _now(),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_payment_accounts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_accounts")),
        sa.UniqueConstraint("user_id", name="uq_payment_accounts_user_id"),
        sa.UniqueConstraint(
            "provider", "provider_account_id", name="uq_payment_accounts_provider_account"
        ),
    )

    op.create_table(
        "transfers",
        sa.Column("transaction_id", sa.UUID(), nullable=False),
        sa.Column("recipient_id", sa.UUID(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("destination", sa.String(length=255), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=False),
        sa.Column("reversed_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _now(),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_transfers_amount_positive")),
        sa.CheckConstraint(
            "reversed_minor >= 0 AND reversed_minor <= amount_minor",
            name=op.f("ck_transfers_reversed_within_amount"),
        ),
        sa.CheckConstraint(
            "status IN ('transferred', 'partially_reversed', 'reversed')",
            name=op.f("ck_transfers_status"),
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["users.id"], name=op.f("fk_transfers_recipient_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint("transaction_id", "recipient_id", name="uq_transfers_transaction_id"),
    )
    op.create_index(
        "idx_transfers_recipient", "transfers", ["recipient_id", "created_at"], unique=False
    )

    op.create_table(
        "transfer_reversals",
        sa.Column("transfer_id", sa.UUID(), nullable=False),
        sa.Column("refund_id", sa.UUID(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=False),
        _now(),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_transfer_reversals_amount_positive")),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_transfer_reversals_refund_id_refunds")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["transfers.id"],
            name=op.f("fk_transfer_reversals_transfer_id_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_reversals")),
        sa.UniqueConstraint("transfer_id", "refund_id", name="uq_transfer_reversals_transfer_id"),
    )
    op.create_index(
        "idx_transfer_reversals_refund", "transfer_reversals", ["refund_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("idx_payouts_reference", table_name="payouts")
    op.drop_index("idx_transfer_reversals_refund", table_name="transfer_reversals")
    op.drop_table("transfer_reversals")
    op.drop_index("idx_transfers_recipient", table_name="transfers")
    op.drop_table("transfers")
    op.drop_table("payment_accounts")
    op.drop_index(
        "idx_payouts_pending", table_name="payouts", postgresql_where=sa.text("status = 'pending'")
    )
    # Fails while a payouts_in_flight account exists: its postings cannot be undone here.
    op.drop_constraint(op.f("ck_ledger_accounts_kind"), "ledger_accounts", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_accounts_kind"), "ledger_accounts", f"kind IN ({_KINDS_BEFORE})"
    )
