"""Licensed products offered for sale."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.db import Base, IdMixin, TimestampMixin

SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'B')"
)


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    SOLD_OUT = "sold_out"
    SUSPENDED = "suspended"


class Product(IdMixin, TimestampMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'active', 'sold_out', 'suspended')", name="status"),
        CheckConstraint("price_minor > 0", name="price_positive"),
        CheckConstraint("inventory_count >= 0", name="inventory_not_negative"),
        Index("idx_products_creator", "creator_id"),
        Index("idx_products_category_status", "category", "status"),
        Index("idx_products_price", "price_minor"),
        Index("idx_products_license", "license_id"),
        Index("idx_products_asset_status", "ip_asset_id", "status"),
        Index(
            "idx_products_listed", "status", "published_at", postgresql_where="deleted_at IS NULL"
        ),
        Index("idx_products_search", "search_vector", postgresql_using="gin"),
        # The catalogue, newest first, in index order (migration 0006; see bench/).
        Index(
            "idx_products_catalogue_newest",
            text("published_at DESC NULLS LAST"),
            text("created_at DESC"),
            "id",
            postgresql_include=[
                "category",
                "price_minor",
                "authorized_until",
                "license_id",
                "ip_asset_id",
            ],
            postgresql_where="status = 'active' AND deleted_at IS NULL",
        ),
        Index(
            "idx_products_catalogue_category_newest",
            "category",
            text("published_at DESC NULLS LAST"),
            text("created_at DESC"),
            "id",
            postgresql_include=["price_minor", "authorized_until", "license_id", "ip_asset_id"],
            postgresql_where="status = 'active' AND deleted_at IS NULL",
        ),
        Index(
            "idx_products_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
    )

    creator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("license_applications.id"))
    # The licensed asset, kept here so catalogue filters need no join.
    ip_asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ip_assets.id"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    inventory_count: Mapped[int] = mapped_column(Integer)
    image_file_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    specifications: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=ProductStatus.DRAFT.value)
    status_reason: Mapped[str | None] = mapped_column(Text)
    authenticity_verified: Mapped[bool] = mapped_column(Boolean, default=True)
    published_at: Mapped[datetime | None]
    # The earliest expiry of any license on the product's chain, fixed when it is published:
    # the catalogue stops listing it then, even before the expiry job has run.
    authorized_until: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    search_vector: Mapped[str] = mapped_column(TSVECTOR, Computed(SEARCH_VECTOR, persisted=True))
