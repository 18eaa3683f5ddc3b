"""The transparency log: entries, perfect-subtree nodes, the head row and signed checkpoints.
Entries, nodes and checkpoints are append-only, enforced by the database (UPDATE, DELETE and
TRUNCATE refused); the head row can only grow; checkpoints only move forward.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("transparency_entries", "transparency_nodes", "transparency_checkpoints")

REFUSE_CHANGE_FUNCTION = """
CREATE FUNCTION transparency_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

HEAD_GROWS_FUNCTION = """
CREATE FUNCTION transparency_head_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.tree_size < OLD.tree_size THEN
        RAISE EXCEPTION 'the transparency log never shrinks: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$
"""

CHECKPOINT_FORWARD_FUNCTION = """
CREATE FUNCTION transparency_checkpoint_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM transparency_checkpoints
        WHERE tree_size >= NEW.tree_size OR timestamp_ms >= NEW.timestamp_ms
    ) THEN
        RAISE EXCEPTION 'checkpoints move forward: tree size and timestamp must increase'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "transparency_entries",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("subjects", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("leaf_index >= 0", name=op.f("ck_transparency_entries_leaf_index")),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_transparency_entries")),
        sa.UniqueConstraint("event_id", name=op.f("uq_transparency_entries_event_id")),
    )
    op.create_index(
        "idx_transparency_entries_subjects",
        "transparency_entries",
        ["subjects"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "idx_transparency_entries_leaf_hash", "transparency_entries", ["leaf_hash"], unique=False
    )
    op.create_table(
        "transparency_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_transparency_nodes")),
    )
    op.create_table(
        "transparency_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_transparency_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transparency_head")),
    )
    op.create_table(
        "transparency_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_transparency_checkpoints")),
        sa.UniqueConstraint("timestamp_ms", name=op.f("uq_transparency_checkpoints_timestamp_ms")),
    )
    op.execute(REFUSE_CHANGE_FUNCTION)
    op.execute(HEAD_GROWS_FUNCTION)
    op.execute(CHECKPOINT_FORWARD_FUNCTION)
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION transparency_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION transparency_refuse_change()"
        )
    op.execute(
        "CREATE TRIGGER transparency_head_only_grows BEFORE UPDATE OR DELETE ON transparency_head "
        "FOR EACH ROW EXECUTE FUNCTION transparency_head_grows()"
    )
    op.execute(
        "CREATE TRIGGER transparency_checkpoints_forward BEFORE INSERT ON transparency_checkpoints "
        "FOR EACH ROW EXECUTE FUNCTION transparency_checkpoint_forward()"
    )


def downgrade() -> None:
    op.drop_table("transparency_checkpoints")
    op.drop_table("transparency_head")
    op.drop_table("transparency_nodes")
    op.drop_index(
        "idx_transparency_entries_subjects",
        table_name="transparency_entries",
        postgresql_using="gin",
    )
    op.drop_index("idx_transparency_entries_leaf_hash", table_name="transparency_entries")
    op.drop_table("transparency_entries")
    op.execute("DROP FUNCTION transparency_checkpoint_forward()")
    op.execute("DROP FUNCTION transparency_head_grows()")
    op.execute("DROP FUNCTION transparency_refuse_change()")
