"""The chain module's ledger of on-chain writes: `chain_transactions` (one row per write,
unique by what it is about, with its nonce and signed bytes stored before sending) and
`chain_accounts` (the next nonce of each sending account, locked to allocate one).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-04 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("function", sa.String(length=64), nullable=False),
        sa.Column("arguments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("record", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("log_position", sa.BigInteger(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=True),
        sa.Column("root_hash", sa.String(length=64), nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("gas_limit", sa.BigInteger(), nullable=True),
        sa.Column("max_fee_per_gas", sa.BigInteger(), nullable=True),
        sa.Column("max_priority_fee_per_gas", sa.BigInteger(), nullable=True),
        sa.Column("raw_transaction", sa.Text(), nullable=True),
        sa.Column("transaction_hash", sa.String(length=66), nullable=True),
        sa.Column("replaced_hashes", postgresql.ARRAY(sa.String(length=66)), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_transactions")),
        sa.UniqueConstraint("kind", "subject", name="uq_chain_transactions_kind_subject"),
        sa.UniqueConstraint("chain_id", "sender", "nonce", name="uq_chain_transactions_nonce"),
    )
    op.create_index(
        "idx_chain_transactions_open",
        "chain_transactions",
        ["log_position"],
        postgresql_where="status IN ('pending', 'signed', 'sent', 'mined')",
    )
    op.create_index(
        "idx_chain_transactions_anchor",
        "chain_transactions",
        ["tree_size"],
        postgresql_where="kind = 'anchor_checkpoint' AND status = 'confirmed'",
    )
    op.create_table(
        "chain_accounts",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_chain_accounts")),
    )


def downgrade() -> None:
    op.drop_table("chain_accounts")
    op.drop_index("idx_chain_transactions_anchor", table_name="chain_transactions")
    op.drop_index("idx_chain_transactions_open", table_name="chain_transactions")
    op.drop_table("chain_transactions")
