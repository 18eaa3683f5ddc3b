"""payments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:48:43.455621+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


CREATE_PARTITION_FUNCTION = """
CREATE FUNCTION ipmarket_ensure_transactions_partition(year integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF transactions FOR VALUES FROM (%L) TO (%L)',
        'transactions_' || year,
        make_timestamptz(year, 1, 1, 0, 0, 0, 'UTC'),
        make_timestamptz(year + 1, 1, 1, 0, 0, 0, 'UTC')
    );
END;
$$
"""

POSTING_BALANCE_FUNCTION = """
CREATE FUNCTION ledger_check_posting_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
BEGIN
    SELECT coalesce(sum(amount_minor), 0) INTO total
    FROM ledger_entries WHERE posting_id = NEW.posting_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger posting % does not balance: entries sum to %', NEW.posting_id, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$
"""

LEDGER_IMMUTABLE_FUNCTION = """
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "ledger_postings",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("transaction_id", sa.UUID(), nullable=True),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
        sa.UniqueConstraint("kind", "reference", name="uq_ledger_postings_kind_reference"),
    )
    op.create_index(
        "idx_ledger_postings_kind", "ledger_postings", ["kind", "created_at"], unique=False
    )
    op.create_index(
        "idx_ledger_postings_transaction", "ledger_postings", ["transaction_id"], unique=False
    )
    op.create_table(
        "provider_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_events")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('in_flight', 'completed')", name=op.f("ck_idempotency_keys_state")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_idempotency_keys_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        "idx_idempotency_keys_created", "idempotency_keys", ["created_at"], unique=False
    )
    op.create_table(
        "ledger_accounts",
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "(kind IN ('user_pending', 'user_available')) = (owner_id IS NOT NULL)",
            name=op.f("ck_ledger_accounts_owner_iff_user_account"),
        ),
        sa.CheckConstraint(
            "kind IN ('user_pending', 'user_available', 'platform_revenue', 'provider_clearing', 'payouts')",
            name=op.f("ck_ledger_accounts_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_ledger_accounts_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint(
            "kind",
            "owner_id",
            "currency",
            name="uq_ledger_accounts_kind",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_table(
        "payouts",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'failed')", name=op.f("ck_payouts_status")
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payouts_amount_positive")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_payouts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
    )
    op.create_index("idx_payouts_user", "payouts", ["user_id", "created_at"], unique=False)
    op.create_table(
        "refunds",
        sa.Column("transaction_id", sa.UUID(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.UUID(), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_refunds_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    op.create_index("idx_refunds_transaction", "refunds", ["transaction_id"], unique=False)
    op.create_table(
        "ledger_entries",
        sa.Column("posting_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_ledger_entries_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_entries_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["ledger_postings.id"],
            name=op.f("fk_ledger_entries_posting_id_ledger_postings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index(
        "idx_ledger_entries_account", "ledger_entries", ["account_id", "created_at"], unique=False
    )
    op.create_index("idx_ledger_entries_posting", "ledger_entries", ["posting_id"], unique=False)
    op.create_table(
        "transactions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transaction_type", sa.String(length=20), nullable=False),
        sa.Column("buyer_id", sa.UUID(), nullable=False),
        sa.Column("seller_id", sa.UUID(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=True),
        sa.Column("license_id", sa.UUID(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("platform_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("seller_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("revenue_shares", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payment_method", sa.String(length=50), nullable=True),
        sa.Column("payment_reference", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'failed', 'refunded')",
            name=op.f("ck_transactions_status"),
        ),
        sa.CheckConstraint(
            "transaction_type IN ('product_sale', 'license_fee', 'revenue_share')",
            name=op.f("ck_transactions_type"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_transactions_amount_positive")),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_transactions_quantity_positive")),
        sa.CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor",
            name=op.f("ck_transactions_refund_within_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["users.id"], name=op.f("fk_transactions_buyer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["license_applications.id"],
            name=op.f("fk_transactions_license_id_license_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_transactions_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["users.id"], name=op.f("fk_transactions_seller_id_users")
        ),
        sa.PrimaryKeyConstraint("id", "created_at", name=op.f("pk_transactions")),
        postgresql_partition_by="RANGE (created_at)",
    )
    op.create_index("idx_transactions_buyer", "transactions", ["buyer_id"], unique=False)
    op.create_index("idx_transactions_product", "transactions", ["product_id"], unique=False)
    op.create_index(
        "idx_transactions_reference", "transactions", ["payment_reference"], unique=False
    )
    op.create_index(
        "idx_transactions_reservations",
        "transactions",
        ["expires_at"],
        unique=False,
        postgresql_where="status = 'pending' AND expires_at IS NOT NULL",
    )
    op.create_index("idx_transactions_seller", "transactions", ["seller_id"], unique=False)
    op.create_index(
        "idx_transactions_type_status", "transactions", ["transaction_type", "status"], unique=False
    )
    # Yearly partitions of transactions: the current years now, later ones by the
    # payments maintenance job (ensure_transaction_partitions) a year ahead.
    op.execute(CREATE_PARTITION_FUNCTION)
    for year in (2025, 2026, 2027):
        op.execute(f"SELECT ipmarket_ensure_transactions_partition({year})")
    # Every posting balances: its entries sum to zero, checked when the transaction commits.
    op.execute(POSTING_BALANCE_FUNCTION)
    op.execute(
        "CREATE CONSTRAINT TRIGGER ledger_postings_balance AFTER INSERT OR UPDATE ON ledger_entries "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_posting_balanced()"
    )
    # The ledger is history: entries and postings are never changed or removed.
    op.execute(LEDGER_IMMUTABLE_FUNCTION)
    for table in ("ledger_entries", "ledger_postings"):
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    op.add_column(
        "license_applications",
        sa.Column("fee_minor", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "license_applications",
        sa.Column("fee_status", sa.String(length=20), server_default="none", nullable=False),
    )
    op.add_column(
        "license_applications", sa.Column("payment_method", sa.String(length=50), nullable=True)
    )
    op.add_column(
        "license_applications", sa.Column("payment_reference", sa.String(length=255), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("license_applications", "payment_reference")
    op.drop_column("license_applications", "payment_method")
    op.drop_column("license_applications", "fee_status")
    op.drop_column("license_applications", "fee_minor")
    op.execute("DROP TRIGGER ledger_postings_balance ON ledger_entries")
    for table in ("ledger_entries", "ledger_postings"):
        op.execute(f"DROP TRIGGER {table}_no_update_delete ON {table}")
    op.drop_index("idx_transactions_type_status", table_name="transactions")
    op.drop_index("idx_transactions_seller", table_name="transactions")
    op.drop_index(
        "idx_transactions_reservations",
        table_name="transactions",
        postgresql_where="status = 'pending' AND expires_at IS NOT NULL",
    )
    op.drop_index("idx_transactions_reference", table_name="transactions")
    op.drop_index("idx_transactions_product", table_name="transactions")
    op.drop_index("idx_transactions_buyer", table_name="transactions")
    op.drop_table("transactions")
    op.drop_index("idx_ledger_entries_posting", table_name="ledger_entries")
    op.drop_index("idx_ledger_entries_account", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("idx_refunds_transaction", table_name="refunds")
    op.drop_table("refunds")
    op.drop_index("idx_payouts_user", table_name="payouts")
    op.drop_table("payouts")
    op.drop_table("ledger_accounts")
    op.drop_index("idx_idempotency_keys_created", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("provider_events")
    op.drop_index("idx_ledger_postings_transaction", table_name="ledger_postings")
    op.drop_index("idx_ledger_postings_kind", table_name="ledger_postings")
    op.drop_table("ledger_postings")
    op.execute("DROP FUNCTION ledger_check_posting_balanced()")
    op.execute("DROP FUNCTION ledger_refuse_change()")
    op.execute("DROP FUNCTION ipmarket_ensure_transactions_partition(integer)")
