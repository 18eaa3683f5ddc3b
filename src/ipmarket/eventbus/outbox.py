"""Publishing: an event is an outbox row written in the caller's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus.models import OutboxEvent
from ipmarket.eventbus.registry import EventPayload
from ipmarket.kit.clock import utcnow
from ipmarket.kit.ids import new_id


async def publish(session: AsyncSession, payload: EventPayload) -> uuid.UUID:
    """Record `payload` for delivery once the caller's transaction commits.

    Nothing leaves the process here: if the transaction rolls back, the event never existed.
    """
    event = OutboxEvent(
        id=new_id(),
        event_type=payload.event_type.value,
        payload=payload.model_dump(mode="json"),
        occurred_at=utcnow(),
    )
    session.add(event)
    await session.flush()
    return event.id
