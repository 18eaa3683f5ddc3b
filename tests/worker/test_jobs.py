"""The outbox cleanup job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ipmarket.eventbus import EventType, Queue
from ipmarket.eventbus.delivery import RetryPolicy
from ipmarket.eventbus.models import ProcessedEvent
from ipmarket.eventbus.relay import OutboxRelay
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.worker.jobs import outbox_cleanup_job
from ipmarket.worker.scheduler import Scheduler
from tests.eventbus.support import (
    Announcement,
    Recorder,
    Revocation,
    count_rows,
    delivery,
    outbox_event,
    publish_committed,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


async def test_the_cleanup_job_purges_old_fully_delivered_events_only(
    db: Database, recorder: Recorder
) -> None:
    # given, 8 days ago: a delivered announcement, a revocation whose delivery died, and an
    # event nobody consumes
    clock.freeze(T0)
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    recorder.add(
        "test.revoker", Queue.CONTENT_MODERATION, EventType.AUTHORIZATION_REVOKED, fail_times=None
    )
    relay = OutboxRelay(
        db, registry=recorder.registry, retry_policy=RetryPolicy(base=timedelta(0), jitter=0)
    )
    delivered = await publish_committed(db, Announcement(note="old"))
    dead = await publish_committed(db, Revocation(note="old"))
    recorder.registry.remove("test.mailer")
    unconsumed = await publish_committed(db, Announcement(note="nobody listens"))
    await relay.run_until_idle()
    died = await delivery(db, dead, "test.revoker")
    assert died is not None
    assert died.status == "dead"
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)

    # and, now, a recent delivered announcement and one not relayed yet
    clock.advance(timedelta(days=8))
    recent = await publish_committed(db, Announcement(note="recent"))
    await relay.run_until_idle()
    unrelayed = await publish_committed(db, Announcement(note="waiting"))

    # when the cleanup job (7 days' retention) runs
    job = outbox_cleanup_job(retention=timedelta(days=7))
    assert await Scheduler(db, [job]).run_job(job) is True

    # then the old events with every delivery processed are gone, their deliveries first
    assert await outbox_event(db, delivered) is None
    assert await outbox_event(db, unconsumed) is None
    assert await delivery(db, delivered, "test.mailer") is None

    # and the dead, the recent and the unrelayed ones are kept
    for kept in (dead, recent, unrelayed):
        assert await outbox_event(db, kept) is not None
    assert await delivery(db, dead, "test.revoker") is not None
    assert await delivery(db, recent, "test.mailer") is not None
    assert await count_rows(db, ProcessedEvent) == 2
