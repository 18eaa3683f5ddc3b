"""Running one consumer on one event, exactly once, whatever carried the event.

Both relays (in-process and RabbitMQ) go through here. A delivery is the `processed_events`
row of (event id, consumer name). The handler runs inside a SAVEPOINT of the transaction that
holds that row locked; on success the row is marked `processed` in the same transaction, so
the handler's effect and the record of it commit together (or not at all). On failure the
savepoint is rolled back, the effect is undone, and the failure is recorded on the row, still
under the lock, before the transaction commits.

`attempt_delivery` is that attempt, shared by both relays; they differ only in how they
claim a delivery and decide when a failed one is dead.

Attempt semantics (both relays): `attempts` counts finished runs of the handler, successful
or not. A delivery whose handler has failed `queue.max_retries + 1` times in total becomes
`dead` (dead-lettered) and is not tried again until an operator requeues it. A handler cut
short by process death or cancellation counts no attempt: its transaction never commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

import structlog
from prometheus_client import Counter
from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus.models import ProcessedEvent
from ipmarket.eventbus.registry import Consumer, Event, Queue
from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Database, commit, discard_after_commit

log = structlog.get_logger(__name__)

MAX_ERROR_LENGTH = 2000
# Its own source: jitter must not draw from (or disturb) the global `random` state.
_jitter = random.SystemRandom()

DELIVERIES = Counter(
    "ipmarket_event_deliveries_total",
    "Handler runs of event consumers, by outcome (processed, failed, dead).",
    ["consumer", "outcome"],
)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    DEAD = "dead"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff between the attempts of one delivery.

    After the n-th failed attempt the next one is due `base * factor ** (n - 1)` later, capped
    at `max_delay`, plus up to `jitter` (a fraction) more so that many failures spread out.
    """

    base: timedelta = timedelta(seconds=5)
    factor: float = 2.0
    max_delay: timedelta = timedelta(minutes=30)
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.base < timedelta(0) or self.max_delay < timedelta(0):
            raise ValueError("retry delays cannot be negative")
        if self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("factor must be >= 1 and jitter within [0, 1]")

    def delay(self, failed_attempts: int) -> timedelta:
        exponent = max(failed_attempts - 1, 0)
        seconds = min(
            self.base.total_seconds() * self.factor**exponent, self.max_delay.total_seconds()
        )
        if self.jitter:
            seconds += seconds * self.jitter * _jitter.random()
        return timedelta(seconds=seconds)


def rowcount(result: Any) -> int:
    """The number of rows an UPDATE or DELETE touched."""
    return int(cast(CursorResult[Any], result).rowcount)


def total_attempts(queue: Queue) -> int:
    """How many times a handler runs at most: the first attempt and `max_retries` retries."""
    return queue.max_retries + 1


def error_text(exc: BaseException) -> str:
    text = f"{type(exc).__qualname__}: {exc}"
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 3] + "..."


async def run_handler(
    session: AsyncSession, consumer: Consumer, event: Event, *, time_limit: float | None
) -> Exception | None:
    """Run the handler in a savepoint; return the error it raised (its effect undone) or None.

    Cancellation is not caught: the caller's transaction rolls back and nothing is recorded.
    """
    try:
        async with session.begin_nested(), asyncio.timeout(time_limit):
            await consumer.handler(session, event)
    except Exception as exc:  # any handler failure is recorded and retried
        return exc
    return None


async def mark_processed(
    session: AsyncSession, event_id: uuid.UUID, consumer: str, *, attempts: int, now: datetime
) -> None:
    await session.execute(
        update(ProcessedEvent)
        .where(ProcessedEvent.event_id == event_id, ProcessedEvent.consumer == consumer)
        .values(status=DeliveryStatus.PROCESSED.value, attempts=attempts, processed_at=now)
    )
    DELIVERIES.labels(consumer, "processed").inc()


async def mark_failed(
    session: AsyncSession,
    event_id: uuid.UUID,
    consumer: str,
    *,
    attempts: int,
    error: str,
    dead: bool,
    next_attempt_at: datetime,
    expected_attempts: int | None = None,
) -> bool:
    """Record a failed attempt; with `expected_attempts`, only if nobody recorded one since.

    Returns whether the row was updated.
    """
    statement = update(ProcessedEvent).where(
        ProcessedEvent.event_id == event_id, ProcessedEvent.consumer == consumer
    )
    if expected_attempts is not None:
        statement = statement.where(
            ProcessedEvent.status == DeliveryStatus.PENDING.value,
            ProcessedEvent.attempts == expected_attempts,
        )
    result = await session.execute(
        statement.values(
            status=(DeliveryStatus.DEAD if dead else DeliveryStatus.PENDING).value,
            attempts=attempts,
            last_error=error,
            next_attempt_at=next_attempt_at,
        )
    )
    updated = rowcount(result) > 0
    if updated:
        DELIVERIES.labels(consumer, "dead" if dead else "failed").inc()
    return updated


def log_failure(
    consumer: Consumer,
    event_id: uuid.UUID,
    event_type: str,
    *,
    attempts: int,
    error: str,
    dead: bool,
    next_attempt_at: datetime | None,
) -> None:
    fields = {
        "event_id": str(event_id),
        "event_type": event_type,
        "consumer": consumer.name,
        "queue": consumer.queue.value,
        "attempts": attempts,
        "error": error,
    }
    if dead:
        log.error("event.dead_lettered", **fields)
    else:
        next_at = next_attempt_at.isoformat() if next_attempt_at else None
        log.warning("event.delivery_failed", next_attempt_at=next_at, **fields)


@dataclass(frozen=True)
class Failure:
    """What a failed attempt records: the delivery is dead, or due again at `next_attempt_at`."""

    dead: bool
    next_attempt_at: datetime


async def attempt_delivery(
    db: Database,
    session: AsyncSession,
    consumer: Consumer,
    event: Event | Exception,
    *,
    event_id: uuid.UUID,
    event_type: str,
    previous_attempts: int,
    on_failure: Callable[[int], Failure],
    time_limit: float | None,
) -> bool:
    """One attempt of a delivery whose row `session` holds locked, for both relays; True if
    the handler succeeded. `event` is an Exception when the stored event cannot be read: that
    attempt fails without running the handler.

    On success the row is marked processed and the transaction commits (the handler's
    after-commit effects run then). On failure `on_failure(attempts)` says whether the
    delivery is now dead or when it is due again; the failure is recorded in the same
    transaction, or, when the handler left it unusable (a lost connection, say), in a fresh
    one unless another worker recorded an attempt meanwhile. Then it is logged.
    """
    if isinstance(event, Exception):
        error: Exception | None = event
    else:
        error = await run_handler(session, consumer, event, time_limit=time_limit)
    attempts = previous_attempts + 1
    if error is None:
        await mark_processed(session, event_id, consumer.name, attempts=attempts, now=utcnow())
        await commit(session)
        log.info(
            "event.delivered",
            event_id=str(event_id),
            event_type=event_type,
            consumer=consumer.name,
            attempts=attempts,
        )
        return True

    failure = on_failure(attempts)
    message = error_text(error)
    try:
        discard_after_commit(session)  # the handler's work was rolled back
        await mark_failed(
            session,
            event_id,
            consumer.name,
            attempts=attempts,
            error=message,
            dead=failure.dead,
            next_attempt_at=failure.next_attempt_at,
        )
        await session.commit()
    except Exception:
        log.warning("delivery.record_failure_retry", consumer=consumer.name, exc_info=True)
        with contextlib.suppress(Exception):
            await session.rollback()
        async with db.transaction() as fresh:
            await mark_failed(
                fresh,
                event_id,
                consumer.name,
                attempts=attempts,
                error=message,
                dead=failure.dead,
                next_attempt_at=failure.next_attempt_at,
                expected_attempts=previous_attempts,
            )
    log_failure(
        consumer,
        event_id,
        event_type,
        attempts=attempts,
        error=message,
        dead=failure.dead,
        next_attempt_at=None if failure.dead else failure.next_attempt_at,
    )
    return False
