"""Refunds written first, then made: a refund is recorded `pending` before the provider is
asked, then `succeeded` or `failed`.

- `refunds.status` (pending | succeeded | failed); the refunds made before this revision were
  all made at the provider before they were written, so they are `succeeded`;
- `refunds.failure_reason` and `refunds.processed_at`;
- a partial index on pending refunds, for the job that completes them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The server default fills the existing rows, then goes: new rows state their status.
    op.add_column(
        "refunds",
        sa.Column("status", sa.String(length=20), server_default="succeeded", nullable=False),
    )
    op.alter_column("refunds", "status", server_default=None)
    op.add_column("refunds", sa.Column("failure_reason", sa.Text(), nullable=True))
    op.add_column("refunds", sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE refunds SET processed_at = created_at")
    op.create_check_constraint(
        op.f("ck_refunds_status"), "refunds", "status IN ('pending', 'succeeded', 'failed')"
    )
    op.create_index(
        "idx_refunds_pending",
        "refunds",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "idx_refunds_pending", table_name="refunds", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_constraint(op.f("ck_refunds_status"), "refunds", type_="check")
    op.drop_column("refunds", "processed_at")
    op.drop_column("refunds", "failure_reason")
    op.drop_column("refunds", "status")
