"""Operating the event bus: requeue dead deliveries, purge old events, count the backlog.

Each function works in the caller's transaction (committed at the edge, like everything).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus.delivery import DeliveryStatus, rowcount
from ipmarket.eventbus.models import OutboxEvent, ProcessedEvent
from ipmarket.kit.clock import utcnow


async def requeue_dead(
    session: AsyncSession,
    *,
    consumer: str | None = None,
    event_ids: Collection[uuid.UUID] | None = None,
) -> int:
    """Give dead deliveries a fresh set of attempts, due now; return how many.

    Narrow it to one consumer and/or some events. This drives the in-process relay; with
    RabbitMQ, requeue the queue's dead-letter messages instead
    (`RabbitBroker.requeue_dead_letters`), which re-run every consumer not yet processed.
    """
    statement = update(ProcessedEvent).where(ProcessedEvent.status == DeliveryStatus.DEAD.value)
    if consumer is not None:
        statement = statement.where(ProcessedEvent.consumer == consumer)
    if event_ids is not None:
        statement = statement.where(ProcessedEvent.event_id.in_(list(event_ids)))
    result = await session.execute(
        statement.values(status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=utcnow())
    )
    return rowcount(result)


async def purge_delivered(
    session: AsyncSession, *, older_than: timedelta, batch_size: int = 5000
) -> int:
    """Delete up to `batch_size` events published more than `older_than` ago whose every
    delivery is processed, with their delivery records; return how many events.

    Events with a pending or dead delivery are kept. The deliveries go first: they reference
    the event. Rows another transaction holds are skipped, not waited for.
    """
    cutoff = utcnow() - older_than
    unfinished = exists().where(
        ProcessedEvent.event_id == OutboxEvent.id,
        ProcessedEvent.status != DeliveryStatus.PROCESSED.value,
    )
    ids = list(
        (
            await session.execute(
                select(OutboxEvent.id)
                .where(
                    OutboxEvent.published_at.is_not(None),
                    OutboxEvent.published_at < cutoff,
                    ~unfinished,
                )
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    if not ids:
        return 0
    await session.execute(delete(ProcessedEvent).where(ProcessedEvent.event_id.in_(ids)))
    await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
    return len(ids)


@dataclass(frozen=True)
class EventBusStats:
    unpublished: int
    pending: int
    dead: int


async def event_bus_stats(session: AsyncSession) -> EventBusStats:
    """The backlog: events not yet relayed, deliveries waiting, deliveries dead."""
    unpublished = await session.scalar(
        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
    )
    rows = await session.execute(
        select(ProcessedEvent.status, func.count())
        .where(ProcessedEvent.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.DEAD.value]))
        .group_by(ProcessedEvent.status)
    )
    by_status: dict[str, int] = dict(rows.all())
    return EventBusStats(
        unpublished=unpublished or 0,
        pending=by_status.get(DeliveryStatus.PENDING.value, 0),
        dead=by_status.get(DeliveryStatus.DEAD.value, 0),
    )
