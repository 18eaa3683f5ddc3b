"""The transactional outbox and the per-consumer delivery record."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Base, IdMixin


class OutboxEvent(IdMixin, Base):
    """An event written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index(
            "idx_outbox_events_unpublished",
            "occurred_at",
            postgresql_where="published_at IS NULL",
        ),
    )

    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # Set once the relay has handed the event on (fanned out in-process, or to RabbitMQ).
    published_at: Mapped[datetime | None]
    publish_attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ProcessedEvent(Base):
    """The delivery of one event to one consumer: at most one effect per (event, consumer)."""

    __tablename__ = "processed_events"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'processed', 'dead')", name="status"),
        Index(
            "idx_processed_events_due",
            "next_attempt_at",
            postgresql_where="status = 'pending'",
        ),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_events.id"), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
