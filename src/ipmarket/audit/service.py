"""Writing the audit trail, in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.audit.models import AuditLog
from ipmarket.kit.clock import utcnow
from ipmarket.kit.context import current_request
from ipmarket.kit.ids import new_id


async def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | None,
    old_values: dict[str, Any] | None = None,
    new_values: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one audit row for a change; it commits or rolls back with the change itself."""
    ctx = current_request()
    row = AuditLog(
        id=new_id(),
        user_id=actor_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        old_values=old_values,
        new_values=new_values,
        ip_address=ctx.ip_address,
        user_agent=ctx.user_agent,
        request_id=ctx.request_id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row
