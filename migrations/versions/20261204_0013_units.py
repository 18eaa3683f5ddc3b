"""Unit codes: each item sold gets its own code (`units`), linked to its order line and its
product's chain record, and the clients that scanned it (`unit_scans`, keyed hashes only).

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-04 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("chain_record_id", sa.UUID(), nullable=False),
        sa.Column("scan_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("serial >= 1", name=op.f("ck_units_serial_positive")),
        sa.CheckConstraint("scan_count >= 0", name=op.f("ck_units_scan_count_not_negative")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_units_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["chain_record_id"],
            ["authorization_chain.id"],
            name=op.f("fk_units_chain_record_id_authorization_chain"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("code", name=op.f("uq_units_code")),
        sa.UniqueConstraint("order_id", "serial", name="uq_units_order_serial"),
    )
    op.create_index("idx_units_product", "units", ["product_id"])
    op.create_table(
        "unit_scans",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("unit_id", sa.UUID(), nullable=False),
        sa.Column("client_hash", sa.String(length=64), nullable=False),
        sa.Column("place", sa.String(length=64), nullable=True),
        sa.Column("scans", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "first_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "last_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_unit_scans_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_scans")),
        sa.UniqueConstraint(
            "unit_id",
            "client_hash",
            "place",
            name="uq_unit_scans_client_place",
            postgresql_nulls_not_distinct=True,
        ),
    )


def downgrade() -> None:
    op.drop_table("unit_scans")
    op.drop_index("idx_units_product", table_name="units")
    op.drop_table("units")
