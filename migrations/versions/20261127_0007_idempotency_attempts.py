"""Idempotency keys remember which attempt holds them.

`attempt` ties completing or releasing a key to the request that holds it, so a request
that lost its key to a take-over cannot overwrite the answer.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 14:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "attempt", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column("idempotency_keys", "attempt")
