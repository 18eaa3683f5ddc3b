"""Audit API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ipmarket.kit.schemas import ReadSchema


class AuditLogRead(ReadSchema):
    id: uuid.UUID
    user_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: uuid.UUID | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    created_at: datetime
