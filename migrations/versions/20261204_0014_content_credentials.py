"""Content credentials: `signed_images`, the signed (C2PA) copy of each product image, and
`image_credentials`, what the C2PA manifest of an uploaded image said.

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-04 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signed_images",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("original_file_id", sa.Uuid(), nullable=False),
        sa.Column("signed_file_id", sa.Uuid(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["original_file_id"], ["files.id"], name=op.f("fk_signed_images_original_file_id_files")
        ),
        sa.ForeignKeyConstraint(
            ["signed_file_id"], ["files.id"], name=op.f("fk_signed_images_signed_file_id_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_images")),
        sa.UniqueConstraint(
            "product_id", "original_file_id", name=op.f("uq_signed_images_product_id")
        ),
    )
    op.create_index(op.f("ix_signed_images_product_id"), "signed_images", ["product_id"])
    op.create_table(
        "image_credentials",
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("validation", sa.String(length=20), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("tool", sa.Text(), nullable=True),
        sa.Column("signer", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column(
            "read_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_image_credentials_file_id_files")
        ),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_image_credentials")),
    )


def downgrade() -> None:
    op.drop_table("image_credentials")
    op.drop_index(op.f("ix_signed_images_product_id"), table_name="signed_images")
    op.drop_table("signed_images")
