"""Indexes that serve the public catalogue in index order (measured with bench/catalogue).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 13:05:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTED = "status = 'active' AND deleted_at IS NULL"


def upgrade() -> None:
    op.execute(
        "CREATE INDEX idx_products_catalogue_newest ON products "
        "(published_at DESC NULLS LAST, created_at DESC, id) "
        "INCLUDE (category, price_minor, authorized_until, license_id, ip_asset_id) "
        f"WHERE {LISTED}"
    )
    op.execute(
        "CREATE INDEX idx_products_catalogue_category_newest ON products "
        "(category, published_at DESC NULLS LAST, created_at DESC, id) "
        "INCLUDE (price_minor, authorized_until, license_id, ip_asset_id) "
        f"WHERE {LISTED}"
    )
    op.execute(
        "CREATE INDEX idx_license_applications_authorising ON license_applications (id) "
        "INCLUDE (expires_at) WHERE status = 'approved'"
    )
    op.execute(
        "CREATE INDEX idx_ip_assets_listed ON ip_assets (id) "
        "WHERE status = 'active' AND verification_status = 'approved'"
    )


def downgrade() -> None:
    for name in (
        "idx_ip_assets_listed",
        "idx_license_applications_authorising",
        "idx_products_catalogue_category_newest",
        "idx_products_catalogue_newest",
    ):
        op.execute(f"DROP INDEX {name}")
