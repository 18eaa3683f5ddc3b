"""The idempotency keys' table (`idempotency_keys`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Base
from ipmarket.kit.ids import new_id


class IdempotencyKey(Base):
    """Stripe-style idempotency: the first response to (user, key) is replayed for the same
    request; another request under the same key is refused."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        CheckConstraint("state IN ('in_flight', 'completed')", name="state"),
        Index("idx_idempotency_keys_created", "created_at"),
    )

    # By name only: the kernel imports no feature module (the users table is identity's).
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default="in_flight")
    response_status: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Refreshed when a stale or forgotten key is claimed again; keys are purged by it.
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    completed_at: Mapped[datetime | None]
    # The request that holds the key: only it may complete or release it.
    attempt: Mapped[uuid.UUID] = mapped_column(
        default=new_id, server_default=func.gen_random_uuid()
    )
