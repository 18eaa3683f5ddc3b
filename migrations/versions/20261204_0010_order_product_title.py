"""An order keeps the title of what was bought: `transactions.product_title`, the product's
title at the time of the purchase, so the buyer's order still says what they bought after
the product is renamed, suspended or removed. Existing sales take their product's title.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 02:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("transactions", sa.Column("product_title", sa.String(length=255), nullable=True))
    op.execute(
        "UPDATE transactions SET product_title = products.title FROM products "
        "WHERE products.id = transactions.product_id"
    )


def downgrade() -> None:
    op.drop_column("transactions", "product_title")
