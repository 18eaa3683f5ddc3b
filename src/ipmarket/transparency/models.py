"""The log's tables. Entries, nodes and checkpoints are append-only (the database refuses
UPDATE, DELETE and TRUNCATE); the head row only ever grows.

- `transparency_entries`: leaf number, its hash, the canonical bytes it hashes (the only
  copy of the entry: what was logged is exactly what is served), the event it came from
  (unique: a redelivered event appends nothing), and the subjects it names
  (`ip_asset:<id>`, `license:<id>`, `product:<id>`, `chain_record:<id>`).
- `transparency_nodes`: the hash of every perfect subtree, (level, index), written as the
  leaf completing it is appended, so any proof reads O(log n) rows.
- `transparency_head`: one row (id 1), locked FOR UPDATE by every append so leaf numbers
  are gapless; it holds the tree size and the frontier (the perfect roots of the tree,
  largest first, 32 bytes each), which is all an append needs to compute new nodes.
- `transparency_checkpoints`: the signed tree heads, tree size and timestamp increasing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, LargeBinary, SmallInteger, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Base


class LogEntry(Base):
    __tablename__ = "transparency_entries"
    __table_args__ = (
        Index("idx_transparency_entries_subjects", "subjects", postgresql_using="gin"),
        Index("idx_transparency_entries_leaf_hash", "leaf_hash"),
        CheckConstraint("leaf_index >= 0", name="leaf_index"),
    )

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # canonical JSON of the entry
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    kind: Mapped[str] = mapped_column(String(50))
    subjects: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LogNode(Base):
    __tablename__ = "transparency_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LogHead(Base):
    __tablename__ = "transparency_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class SignedCheckpoint(Base):
    __tablename__ = "transparency_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger, unique=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
