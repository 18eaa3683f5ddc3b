"""Platform settings, one row per (category, key)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.db import Base, IdMixin, TimestampMixin


class AdminSetting(IdMixin, TimestampMixin, Base):
    __tablename__ = "admin_settings"
    __table_args__ = (
        UniqueConstraint("category", "key", name="uq_admin_settings_category_key"),
        Index("idx_admin_settings_category", "category", "key"),
    )

    category: Mapped[str] = mapped_column(String(50))
    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[Any] = mapped_column(JSONB)
    data_type: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
