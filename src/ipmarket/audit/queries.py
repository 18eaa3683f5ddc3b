"""Reading the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.audit.models import AuditLog


async def list_audit_logs(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    action: str | None,
    resource_type: str | None,
    resource_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    offset: int,
    limit: int,
    sort: Literal["newest", "oldest"] = "newest",
) -> tuple[list[AuditLog], int]:
    """One page of the trail matching the filters, and the total; two queries."""
    conditions: list[ColumnElement[bool]] = []
    if user_id is not None:
        conditions.append(AuditLog.user_id == user_id)
    if action:
        conditions.append(AuditLog.action == action)
    if resource_type:
        conditions.append(AuditLog.resource_type == resource_type)
    if resource_id is not None:
        conditions.append(AuditLog.resource_id == resource_id)
    if since is not None:
        conditions.append(AuditLog.created_at >= since)
    if until is not None:
        conditions.append(AuditLog.created_at < until)
    where = and_(True, *conditions)
    created = AuditLog.created_at.asc() if sort == "oldest" else AuditLog.created_at.desc()
    total = (
        await session.execute(select(func.count()).select_from(AuditLog).where(where))
    ).scalar_one()
    rows = await session.execute(
        select(AuditLog).where(where).order_by(created, AuditLog.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)
