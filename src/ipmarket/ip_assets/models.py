"""IP assets and the license terms their owners publish."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.db import Base, IdMixin, TimestampMixin


class VerificationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class AssetStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'B')"
)


class IPAsset(IdMixin, TimestampMixin, Base):
    __tablename__ = "ip_assets"
    __table_args__ = (
        CheckConstraint(
            "verification_status IN ('pending', 'approved', 'rejected')", name="verification_status"
        ),
        CheckConstraint("status IN ('active', 'suspended', 'deleted')", name="status"),
        Index("idx_ip_assets_creator", "creator_id"),
        Index("idx_ip_assets_category", "category"),
        Index("idx_ip_assets_status", "status", "verification_status"),
        Index("idx_ip_assets_parent_license", "parent_license_id"),
        Index(
            "idx_ip_assets_listed",
            "id",
            postgresql_where="status = 'active' AND verification_status = 'approved'",
        ),
        Index("idx_ip_assets_search", "search_vector", postgresql_using="gin"),
        Index(
            "idx_ip_assets_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
        Index(
            "idx_ip_assets_review_queue",
            "submitted_at",
            postgresql_where="verification_status = 'pending' AND submitted_at IS NOT NULL",
        ),
    )

    creator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100))
    content_type: Mapped[str] = mapped_column(String(50))
    # Files uploaded by the creator; the API shows them as signed URLs.
    file_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    verification_status: Mapped[str] = mapped_column(
        String(20), default=VerificationStatus.PENDING.value
    )
    # Set when the owner submits for review; a pending asset without it is a draft.
    submitted_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=AssetStatus.ACTIVE.value)
    status_reason: Mapped[str | None] = mapped_column(Text)
    # SHA-256 over title, description and the files' hashes.
    content_hash: Mapped[str] = mapped_column(String(64))
    blockchain_hash: Mapped[str | None] = mapped_column(String(66))
    # The license this asset was derived under; NULL for an original work.
    parent_license_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("license_applications.id", use_alter=True, name="fk_ip_assets_parent_license_id")
    )
    deleted_at: Mapped[datetime | None]
    search_vector: Mapped[str] = mapped_column(TSVECTOR, Computed(SEARCH_VECTOR, persisted=True))
