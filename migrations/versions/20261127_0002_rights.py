"""rights

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:01:26.321391+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_files_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_files_storage_key")),
    )
    op.create_index(op.f("ix_files_owner_id"), "files", ["owner_id"], unique=False)
    op.create_table(
        "ip_assets",
        sa.Column("creator_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("file_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("verification_status", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.UUID(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("blockchain_hash", sa.String(length=66), nullable=True),
        sa.Column("parent_license_id", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english', coalesce(title, '')), 'A') || setweight(to_tsvector('english', coalesce(description, '')), 'B')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'deleted')", name=op.f("ck_ip_assets_status")
        ),
        sa.CheckConstraint(
            "verification_status IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_ip_assets_verification_status"),
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_ip_assets_creator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_ip_assets_reviewed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_assets")),
    )
    op.create_index("idx_ip_assets_category", "ip_assets", ["category"], unique=False)
    op.create_index("idx_ip_assets_creator", "ip_assets", ["creator_id"], unique=False)
    op.create_index(
        "idx_ip_assets_parent_license", "ip_assets", ["parent_license_id"], unique=False
    )
    op.create_index(
        "idx_ip_assets_review_queue",
        "ip_assets",
        ["submitted_at"],
        unique=False,
        postgresql_where="verification_status = 'pending' AND submitted_at IS NOT NULL",
    )
    op.create_index(
        "idx_ip_assets_search", "ip_assets", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "idx_ip_assets_status", "ip_assets", ["status", "verification_status"], unique=False
    )
    op.create_index(
        "idx_ip_assets_title_trgm",
        "ip_assets",
        ["title"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.create_table(
        "license_terms",
        sa.Column("ip_asset_id", sa.UUID(), nullable=False),
        sa.Column("license_type", sa.String(length=20), nullable=False),
        sa.Column("revenue_share_percentage", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("base_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("territory", sa.String(length=1000), nullable=False),
        sa.Column("duration", sa.String(length=50), nullable=False),
        sa.Column("requirements", sa.Text(), nullable=False),
        sa.Column("restrictions", sa.Text(), nullable=False),
        sa.Column("auto_approve", sa.Boolean(), nullable=False),
        sa.Column("derivatives_allowed", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("lineage_id", sa.UUID(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "license_type IN ('standard', 'premium', 'exclusive')",
            name=op.f("ck_license_terms_license_type"),
        ),
        sa.CheckConstraint("base_fee_minor >= 0", name=op.f("ck_license_terms_base_fee")),
        sa.CheckConstraint(
            "revenue_share_percentage >= 0 AND revenue_share_percentage <= 100",
            name=op.f("ck_license_terms_share"),
        ),
        sa.ForeignKeyConstraint(
            ["ip_asset_id"], ["ip_assets.id"], name=op.f("fk_license_terms_ip_asset_id_ip_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_terms")),
    )
    op.create_index(
        "idx_license_terms_asset", "license_terms", ["ip_asset_id", "is_current"], unique=False
    )
    op.create_table(
        "license_applications",
        sa.Column("ip_asset_id", sa.UUID(), nullable=False),
        sa.Column("applicant_id", sa.UUID(), nullable=False),
        sa.Column("licensor_id", sa.UUID(), nullable=False),
        sa.Column("license_terms_id", sa.UUID(), nullable=False),
        sa.Column("application_data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("max_base_fee_minor", sa.BigInteger(), nullable=True),
        sa.Column("max_revenue_share_percentage", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.UUID(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.UUID(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("terms_snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'revoked', 'expired')",
            name=op.f("ck_license_applications_status"),
        ),
        sa.ForeignKeyConstraint(
            ["applicant_id"], ["users.id"], name=op.f("fk_license_applications_applicant_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["users.id"], name=op.f("fk_license_applications_approved_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_license_applications_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["ip_asset_id"],
            ["ip_assets.id"],
            name=op.f("fk_license_applications_ip_asset_id_ip_assets"),
        ),
        sa.ForeignKeyConstraint(
            ["license_terms_id"],
            ["license_terms.id"],
            name=op.f("fk_license_applications_license_terms_id_license_terms"),
        ),
        sa.ForeignKeyConstraint(
            ["licensor_id"], ["users.id"], name=op.f("fk_license_applications_licensor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_applications")),
    )
    op.create_index(
        "idx_license_applications_applicant",
        "license_applications",
        ["applicant_id", "status"],
        unique=False,
    )
    op.create_index(
        "idx_license_applications_asset_status",
        "license_applications",
        ["ip_asset_id", "status"],
        unique=False,
    )
    op.create_index(
        "idx_license_applications_expiring",
        "license_applications",
        ["expires_at"],
        unique=False,
        postgresql_where="status = 'approved' AND expires_at IS NOT NULL",
    )
    op.create_index(
        "idx_license_applications_licensor",
        "license_applications",
        ["licensor_id", "status"],
        unique=False,
    )
    op.create_index(
        "uq_license_applications_pending",
        "license_applications",
        ["license_terms_id", "applicant_id"],
        unique=True,
        postgresql_where="status = 'pending'",
    )
    op.create_table(
        "products",
        sa.Column("creator_id", sa.UUID(), nullable=False),
        sa.Column("license_id", sa.UUID(), nullable=False),
        sa.Column("ip_asset_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("inventory_count", sa.Integer(), nullable=False),
        sa.Column("image_file_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("specifications", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("authenticity_verified", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english', coalesce(title, '')), 'A') || setweight(to_tsvector('english', coalesce(description, '')), 'B')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'sold_out', 'suspended')",
            name=op.f("ck_products_status"),
        ),
        sa.CheckConstraint("inventory_count >= 0", name=op.f("ck_products_inventory_not_negative")),
        sa.CheckConstraint("price_minor > 0", name=op.f("ck_products_price_positive")),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_products_creator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["ip_asset_id"], ["ip_assets.id"], name=op.f("fk_products_ip_asset_id_ip_assets")
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["license_applications.id"],
            name=op.f("fk_products_license_id_license_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index(
        "idx_products_asset_status", "products", ["ip_asset_id", "status"], unique=False
    )
    op.create_index(
        "idx_products_category_status", "products", ["category", "status"], unique=False
    )
    op.create_index("idx_products_creator", "products", ["creator_id"], unique=False)
    op.create_index("idx_products_license", "products", ["license_id"], unique=False)
    op.create_index(
        "idx_products_listed",
        "products",
        ["status", "published_at"],
        unique=False,
        postgresql_where="deleted_at IS NULL",
    )
    op.create_index("idx_products_price", "products", ["price_minor"], unique=False)
    op.create_index(
        "idx_products_search", "products", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "idx_products_title_trgm",
        "products",
        ["title"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.create_table(
        "authorization_chain",
        sa.Column("product_id", sa.UUID(), nullable=True),
        sa.Column("derived_asset_id", sa.UUID(), nullable=True),
        sa.Column("ip_asset_id", sa.UUID(), nullable=False),
        sa.Column("license_id", sa.UUID(), nullable=False),
        sa.Column("parent_chain_id", sa.UUID(), nullable=True),
        sa.Column("blockchain_hash", sa.String(length=66), nullable=True),
        sa.Column("verification_code", sa.String(length=32), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["derived_asset_id"],
            ["ip_assets.id"],
            name=op.f("fk_authorization_chain_derived_asset_id_ip_assets"),
        ),
        sa.ForeignKeyConstraint(
            ["ip_asset_id"],
            ["ip_assets.id"],
            name=op.f("fk_authorization_chain_ip_asset_id_ip_assets"),
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["license_applications.id"],
            name=op.f("fk_authorization_chain_license_id_license_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_chain_id"],
            ["authorization_chain.id"],
            name=op.f("fk_authorization_chain_parent_chain_id_authorization_chain"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_authorization_chain_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_chain")),
        sa.UniqueConstraint(
            "verification_code", name=op.f("uq_authorization_chain_verification_code")
        ),
    )
    op.create_index(
        "idx_authorization_chain_license", "authorization_chain", ["license_id"], unique=False
    )
    op.create_index(
        "idx_authorization_chain_parent", "authorization_chain", ["parent_chain_id"], unique=False
    )
    op.create_index(
        "idx_authorization_chain_product", "authorization_chain", ["product_id"], unique=False
    )
    op.create_index(
        "uq_authorization_chain_derivation",
        "authorization_chain",
        ["derived_asset_id"],
        unique=True,
        postgresql_where="derived_asset_id IS NOT NULL",
    )
    # ip_assets and license_applications reference each other: this key comes last.
    op.create_foreign_key(
        "fk_ip_assets_parent_license_id",
        "ip_assets",
        "license_applications",
        ["parent_license_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint("fk_ip_assets_parent_license_id", "ip_assets", type_="foreignkey")
    op.drop_index(
        "uq_authorization_chain_derivation",
        table_name="authorization_chain",
        postgresql_where="derived_asset_id IS NOT NULL",
    )
    op.drop_index("idx_authorization_chain_product", table_name="authorization_chain")
    op.drop_index("idx_authorization_chain_parent", table_name="authorization_chain")
    op.drop_index("idx_authorization_chain_license", table_name="authorization_chain")
    op.drop_table("authorization_chain")
    op.drop_index(
        "idx_products_title_trgm",
        table_name="products",
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.drop_index("idx_products_search", table_name="products", postgresql_using="gin")
    op.drop_index("idx_products_price", table_name="products")
    op.drop_index(
        "idx_products_listed", table_name="products", postgresql_where="deleted_at IS NULL"
    )
    op.drop_index("idx_products_license", table_name="products")
    op.drop_index("idx_products_creator", table_name="products")
    op.drop_index("idx_products_category_status", table_name="products")
    op.drop_index("idx_products_asset_status", table_name="products")
    op.drop_table("products")
    op.drop_index(
        "uq_license_applications_pending",
        table_name="license_applications",
        postgresql_where="status = 'pending'",
    )
    op.drop_index("idx_license_applications_licensor", table_name="license_applications")
    op.drop_index(
        "idx_license_applications_expiring",
        table_name="license_applications",
        postgresql_where="status = 'approved' AND expires_at IS NOT NULL",
    )
    op.drop_index("idx_license_applications_asset_status", table_name="license_applications")
    op.drop_index("idx_license_applications_applicant", table_name="license_applications")
    op.drop_table("license_applications")
    op.drop_index("idx_license_terms_asset", table_name="license_terms")
    op.drop_table("license_terms")
    op.drop_index(
        "idx_ip_assets_title_trgm",
        table_name="ip_assets",
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.drop_index("idx_ip_assets_status", table_name="ip_assets")
    op.drop_index("idx_ip_assets_search", table_name="ip_assets", postgresql_using="gin")
    op.drop_index(
        "idx_ip_assets_review_queue",
        table_name="ip_assets",
        postgresql_where="verification_status = 'pending' AND submitted_at IS NOT NULL",
    )
    op.drop_index("idx_ip_assets_parent_license", table_name="ip_assets")
    op.drop_index("idx_ip_assets_creator", table_name="ip_assets")
    op.drop_index("idx_ip_assets_category", table_name="ip_assets")
    op.drop_table("ip_assets")
    op.drop_index(op.f("ix_files_owner_id"), table_name="files")
    op.drop_table("files")
