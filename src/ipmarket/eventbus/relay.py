"""The in-process outbox relay (embedded mode: no RabbitMQ).

Two steps, both safe to run from many processes at once (rows are claimed with
`SELECT ... FOR UPDATE SKIP LOCKED`):

- fan-out: unpublished outbox rows become one `processed_events` row (status `pending`) per
  consumer subscribed to their type, and are marked published, in one transaction;
- delivery: a due `pending` delivery is claimed and its consumer's handler runs in that same
  transaction, which also marks the delivery `processed` (see `ipmarket.eventbus.delivery`).
  A failure is recorded on the delivery with exponential backoff (`next_attempt_at`); after
  `queue.max_retries + 1` failed attempts in total the delivery is `dead`.

Consumers are matched at fan-out time: a consumer registered later does not receive events
fanned out before it existed. Deliveries are not ordered: a consumer must not rely on seeing
events in the order they occurred.

Do not run this relay and the RabbitMQ publisher against the same database: whichever marks
an outbox row published first takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus.delivery import (
    DeliveryStatus,
    Failure,
    RetryPolicy,
    attempt_delivery,
    total_attempts,
)
from ipmarket.eventbus.models import OutboxEvent, ProcessedEvent
from ipmarket.eventbus.registry import Consumer, ConsumerRegistry, Event, EventType, registry
from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Database

log = structlog.get_logger(__name__)

MAX_IDLE_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class _Claim:
    event_id: uuid.UUID
    consumer: Consumer
    attempts: int
    event_type: str
    payload: dict[str, Any]
    occurred_at: datetime


class OutboxRelay:
    """Relays committed outbox events to the consumers of `registry`, inside this process.

    Handlers must not commit or roll back the session they are given: the relay commits
    their work together with the record of the delivery.
    """

    def __init__(
        self,
        db: Database,
        *,
        registry: ConsumerRegistry = registry,
        retry_policy: RetryPolicy | None = None,
        batch_size: int = 100,
        concurrency: int = 1,
        handler_timeout: float | None = 300.0,
    ) -> None:
        if batch_size < 1 or concurrency < 1:
            raise ValueError("batch_size and concurrency must be positive")
        self._db = db
        self._registry = registry
        self._retry = retry_policy or RetryPolicy()
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._handler_timeout = handler_timeout

    @property
    def registry(self) -> ConsumerRegistry:
        return self._registry

    async def run_once(self) -> int:
        """Fan out one batch of new events and run the deliveries now due (at most a batch).

        Returns how many events were fanned out plus how many deliveries were attempted;
        0 means there was nothing to do.
        """
        fanned_out = await self.fan_out()
        delivered = await self.deliver_due()
        return fanned_out + delivered

    async def run_until_idle(self, *, max_rounds: int = 1000) -> int:
        """Call `run_once` until it finds nothing to do; return the total work done."""
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            if done == 0:
                return total
            total += done
        raise RuntimeError(f"the relay was still busy after {max_rounds} rounds")

    async def run_forever(self, stop: asyncio.Event, poll_interval: float = 0.5) -> None:
        """Relay until `stop` is set; wait `poll_interval` seconds whenever idle.

        Errors (the database going away) are logged and retried with a growing pause; the
        delivery in progress when `stop` is set is finished, not abandoned.
        """
        if not self._registry.consumers:
            log.warning("relay.no_consumers", detail="events stay in the outbox")
        log.info("relay.started", consumers=sorted(self._registry.consumers))
        failures = 0
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                failures += 1
                log.exception("relay.error", consecutive_failures=failures)
                pause = min(poll_interval * 2**failures, MAX_IDLE_BACKOFF_SECONDS)
                await wait_for_stop(stop, pause)
                continue
            failures = 0
            if done == 0:
                await wait_for_stop(stop, poll_interval)
        log.info("relay.stopped")

    # -- fan-out -------------------------------------------------------------------------

    async def fan_out(self) -> int:
        """Turn one batch of unpublished events into pending deliveries; return the count.

        A relay that knows no consumer at all (its process loaded no handlers) leaves the
        events for one that does, rather than marking them published to nobody.
        """
        if not self._registry.consumers:
            return 0
        async with self._db.transaction() as session:
            rows = (
                await session.execute(
                    select(OutboxEvent.id, OutboxEvent.event_type)
                    .where(OutboxEvent.published_at.is_(None))
                    .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            now = utcnow()
            deliveries = [
                {
                    "event_id": row.id,
                    "consumer": consumer.name,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for row in rows
                for consumer in self._registry.for_event(row.event_type)
            ]
            if deliveries:
                await session.execute(
                    pg_insert(ProcessedEvent).values(deliveries).on_conflict_do_nothing()
                )
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_([row.id for row in rows]))
                .values(published_at=now)
            )
            log.debug("relay.fanned_out", events=len(rows), deliveries=len(deliveries))
            return len(rows)

    # -- delivery ------------------------------------------------------------------------

    async def deliver_due(self, limit: int | None = None) -> int:
        """Attempt up to `limit` (default: the batch size) due deliveries; return the count."""
        remaining = limit if limit is not None else self._batch_size
        attempted = 0

        async def lane() -> None:
            nonlocal remaining, attempted
            while remaining > 0:
                remaining -= 1
                if not await self._deliver_one():
                    return
                attempted += 1

        if self._concurrency == 1:
            await lane()
        else:
            async with asyncio.TaskGroup() as group:
                for _ in range(self._concurrency):
                    group.create_task(lane())
        return attempted

    async def _claim(self, session: AsyncSession) -> _Claim | None:
        names = list(self._registry.consumers)
        if not names:
            return None
        row = (
            await session.execute(
                select(
                    ProcessedEvent.event_id,
                    ProcessedEvent.consumer,
                    ProcessedEvent.attempts,
                    OutboxEvent.event_type,
                    OutboxEvent.payload,
                    OutboxEvent.occurred_at,
                )
                .join(OutboxEvent, OutboxEvent.id == ProcessedEvent.event_id)
                .where(
                    ProcessedEvent.status == DeliveryStatus.PENDING.value,
                    ProcessedEvent.next_attempt_at <= utcnow(),
                    ProcessedEvent.consumer.in_(names),
                )
                .order_by(
                    ProcessedEvent.next_attempt_at,
                    ProcessedEvent.event_id,
                    ProcessedEvent.consumer,
                )
                .limit(1)
                .with_for_update(of=ProcessedEvent, skip_locked=True)
            )
        ).one_or_none()
        if row is None:
            return None
        return _Claim(
            event_id=row.event_id,
            consumer=self._registry.get(row.consumer),
            attempts=row.attempts,
            event_type=row.event_type,
            payload=row.payload,
            occurred_at=row.occurred_at,
        )

    async def _deliver_one(self) -> bool:
        """Claim one due delivery and attempt it; False when none was due."""
        async with self._db.sessionmaker() as session:
            claim = await self._claim(session)
            if claim is None:
                await session.rollback()
                return False
            consumer = claim.consumer
            event: Event | Exception
            try:
                event = Event(
                    id=claim.event_id,
                    type=EventType(claim.event_type),
                    payload=claim.payload,
                    occurred_at=claim.occurred_at,
                )
            except ValueError as exc:
                event = exc

            def on_failure(attempts: int) -> Failure:
                return Failure(
                    dead=attempts >= total_attempts(consumer.queue),
                    next_attempt_at=utcnow() + self._retry.delay(attempts),
                )

            await attempt_delivery(
                self._db,
                session,
                consumer,
                event,
                event_id=claim.event_id,
                event_type=claim.event_type,
                previous_attempts=claim.attempts,
                on_failure=on_failure,
                time_limit=self._handler_timeout,
            )
            return True


async def wait_for_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
