"""The in-process relay: outbox -> deliveries -> consumers, exactly one effect each."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus import EventType, Queue, publish
from ipmarket.eventbus.delivery import RetryPolicy
from ipmarket.eventbus.maintenance import event_bus_stats, requeue_dead
from ipmarket.eventbus.models import OutboxEvent, ProcessedEvent
from ipmarket.eventbus.registry import Consumer, Event
from ipmarket.eventbus.relay import OutboxRelay
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from tests.eventbus.support import (
    Announcement,
    Recorder,
    Revocation,
    count_rows,
    delivery,
    effects,
    eventually,
    outbox_event,
    publish_committed,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NO_JITTER = RetryPolicy(base=timedelta(seconds=10), factor=2, jitter=0)


def relay_for(
    db: Database,
    recorder: Recorder,
    *,
    retry_policy: RetryPolicy = NO_JITTER,
    batch_size: int = 100,
    concurrency: int = 1,
    handler_timeout: float | None = 300.0,
) -> OutboxRelay:
    return OutboxRelay(
        db,
        registry=recorder.registry,
        retry_policy=retry_policy,
        batch_size=batch_size,
        concurrency=concurrency,
        handler_timeout=handler_timeout,
    )


async def test_an_event_whose_transaction_rolls_back_is_never_delivered(
    db: Database, recorder: Recorder
) -> None:
    # given a consumer of announcements
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    relay = relay_for(db, recorder)

    # when an announcement is published in a transaction that then fails
    async def change_that_fails() -> None:
        async with db.transaction() as session:
            await publish(session, Announcement(note="never"))
            raise RuntimeError("business rule broken")

    with pytest.raises(RuntimeError, match="business rule broken"):
        await change_that_fails()

    # then the relay finds nothing to do, and the consumer never hears of it
    assert await relay.run_until_idle() == 0
    assert recorder.calls == []
    assert await count_rows(db, OutboxEvent) == 0


async def test_a_committed_event_reaches_each_subscribed_consumer_once(
    db: Database, recorder: Recorder
) -> None:
    # given two consumers of announcements on different queues, and one of revocations
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    recorder.add(
        "test.auditor",
        Queue.AUDIT_LOGGING,
        EventType.SYSTEM_MAINTENANCE,
        EventType.AUTHORIZATION_REVOKED,
    )
    recorder.add("test.revoker", Queue.ADMIN_ACTIONS, EventType.AUTHORIZATION_REVOKED)
    relay = relay_for(db, recorder)

    # when an announcement is committed and the relay runs until it is idle
    event_id = await publish_committed(db, Announcement(note="downtime at noon"))
    await relay.run_until_idle()

    # then each announcement consumer has its effect once, the other consumer none
    assert await effects(db, "test.mailer", event_id) == 1
    assert await effects(db, "test.auditor", event_id) == 1
    assert await effects(db, "test.revoker") == 0
    for name in ("test.mailer", "test.auditor"):
        row = await delivery(db, event_id, name)
        assert row is not None
        assert (row.status, row.attempts) == ("processed", 1)
        assert row.processed_at is not None
    event = await outbox_event(db, event_id)
    assert event is not None
    assert event.published_at is not None

    # and running the relay again does nothing more
    assert await relay.run_once() == 0
    assert len(recorder.calls) == 2
    assert await effects(db, "test.mailer") == 1


async def test_a_consumer_gets_the_event_as_published(db: Database, recorder: Recorder) -> None:
    # given a consumer that keeps what it receives
    received: list[Event] = []

    async def keep(session: AsyncSession, event: Event) -> None:
        received.append(event)

    recorder.registry.add(
        Consumer(
            name="test.keeper",
            queue=Queue.NOTIFICATIONS,
            event_types=frozenset({EventType.AUTHORIZATION_REVOKED}),
            handler=keep,
        )
    )

    # when a revocation is published and relayed
    event_id = await publish_committed(db, Revocation(note="license 42"))
    await relay_for(db, recorder).run_until_idle()

    # then the consumer sees its id, type and payload
    assert len(received) == 1
    event = received[0]
    assert event.id == event_id
    assert event.type is EventType.AUTHORIZATION_REVOKED
    assert event.parse(Revocation) == Revocation(note="license 42")


async def test_a_failing_consumer_is_retried_with_backoff_then_dead_lettered(
    db: Database, recorder: Recorder
) -> None:
    # given, at a frozen time, a consumer that always fails on a queue allowing 2 retries,
    # and a healthy consumer of the same event
    clock.freeze(T0)
    recorder.add(
        "test.moderator", Queue.CONTENT_MODERATION, EventType.SYSTEM_MAINTENANCE, fail_times=None
    )
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    relay = relay_for(db, recorder)
    event_id = await publish_committed(db, Announcement(note="x"))

    # when the relay runs: the first attempt fails, the healthy consumer succeeds
    await relay.run_until_idle()
    row = await delivery(db, event_id, "test.moderator")
    assert row is not None
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == T0 + timedelta(seconds=10)
    assert row.last_error == "HandlerFailedError: test.moderator failed on purpose"
    assert await effects(db, "test.moderator") == 0  # its effect was rolled back
    assert await effects(db, "test.mailer", event_id) == 1

    # then nothing happens before the backoff has passed
    clock.advance(timedelta(seconds=9))
    assert await relay.run_until_idle() == 0
    assert recorder.count("test.moderator") == 1

    # and the retry comes once it has; the next backoff doubles
    clock.advance(timedelta(seconds=1))
    assert await relay.run_until_idle() == 1
    row = await delivery(db, event_id, "test.moderator")
    assert row is not None
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.next_attempt_at == T0 + timedelta(seconds=30)

    # when the last allowed attempt (1 + max_retries = 3) fails too
    clock.advance(timedelta(seconds=20))
    assert await relay.run_until_idle() == 1

    # then the delivery is dead and never tried again
    row = await delivery(db, event_id, "test.moderator")
    assert row is not None
    assert (row.status, row.attempts) == ("dead", 3)
    clock.advance(timedelta(days=1))
    assert await relay.run_until_idle() == 0
    assert recorder.count("test.moderator") == Queue.CONTENT_MODERATION.max_retries + 1
    assert await effects(db, "test.moderator") == 0

    # and the other consumer was unaffected: one call, one effect
    assert recorder.count("test.mailer") == 1
    assert await effects(db, "test.mailer", event_id) == 1
    async with db.sessionmaker() as session:
        stats = await event_bus_stats(session)
    assert (stats.unpublished, stats.pending, stats.dead) == (0, 0, 1)


async def test_an_operator_requeues_a_dead_delivery_once_the_bug_is_fixed(
    db: Database, recorder: Recorder
) -> None:
    # given a delivery that died after all its attempts
    clock.freeze(T0)
    recorder.add(
        "test.moderator", Queue.CONTENT_MODERATION, EventType.SYSTEM_MAINTENANCE, fail_times=None
    )
    relay = relay_for(db, recorder, retry_policy=RetryPolicy(base=timedelta(0), jitter=0))
    event_id = await publish_committed(db, Announcement(note="x"))
    await relay.run_until_idle()
    row = await delivery(db, event_id, "test.moderator")
    assert row is not None
    assert row.status == "dead"

    # when the consumer is fixed and an operator requeues its dead deliveries
    recorder.heal("test.moderator")
    async with db.transaction() as session:
        assert await requeue_dead(session, consumer="test.moderator") == 1
    await relay.run_until_idle()

    # then it is delivered, with one effect
    row = await delivery(db, event_id, "test.moderator")
    assert row is not None
    assert (row.status, row.attempts) == ("processed", 1)
    assert await effects(db, "test.moderator", event_id) == 1


async def test_a_consumer_that_fails_once_succeeds_on_retry_with_one_effect(
    db: Database, recorder: Recorder
) -> None:
    # given a consumer that fails on its first attempt only
    clock.freeze(T0)
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE, fail_times=1)
    relay = relay_for(db, recorder)
    event_id = await publish_committed(db, Announcement(note="x"))

    # when the relay runs, and again after the backoff
    await relay.run_until_idle()
    clock.advance(timedelta(seconds=10))
    await relay.run_until_idle()

    # then the event was handled twice and took effect once
    assert recorder.count("test.mailer") == 2
    assert await effects(db, "test.mailer", event_id) == 1
    row = await delivery(db, event_id, "test.mailer")
    assert row is not None
    assert (row.status, row.attempts) == ("processed", 2)
    assert row.last_error is not None  # the earlier failure stays on record


async def test_a_handler_that_hangs_is_cut_off_and_retried(
    db: Database, recorder: Recorder
) -> None:
    # given a consumer slower than the relay's handler time limit
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE, delay=5.0)
    relay = relay_for(db, recorder, handler_timeout=0.05)
    event_id = await publish_committed(db, Announcement(note="x"))

    # when the relay runs
    await relay.run_until_idle()

    # then the attempt is recorded as a failure and its effect undone
    row = await delivery(db, event_id, "test.mailer")
    assert row is not None
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert row.last_error.startswith("TimeoutError")
    assert await effects(db, "test.mailer") == 0


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_relays_racing_over_the_same_events_have_one_effect_per_consumer(
    db: Database, recorder: Recorder, concurrency: int
) -> None:
    # given two slowish consumers and several committed events
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE, delay=0.02)
    recorder.add("test.auditor", Queue.AUDIT_LOGGING, EventType.SYSTEM_MAINTENANCE, delay=0.02)
    event_ids = [await publish_committed(db, Announcement(note=str(i))) for i in range(6)]

    # when three relays (as in three processes) run at the same time
    relays = [relay_for(db, recorder, concurrency=concurrency, batch_size=2) for _ in range(3)]
    await asyncio.gather(*(relay.run_until_idle() for relay in relays))

    # then every (event, consumer) was handled exactly once, with one effect
    for name in ("test.mailer", "test.auditor"):
        assert recorder.per_event(name) == dict.fromkeys(event_ids, 1)
        for event_id in event_ids:
            assert await effects(db, name, event_id) == 1
    async with db.sessionmaker() as session:
        stats = await event_bus_stats(session)
    assert (stats.unpublished, stats.pending, stats.dead) == (0, 0, 0)
    assert await count_rows(db, ProcessedEvent) == 12


async def test_a_relay_leaves_deliveries_of_consumers_it_does_not_know(
    db: Database, recorder: Recorder
) -> None:
    # given an event fanned out to two consumers, and a relay that knows only one of them
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    recorder.add("test.auditor", Queue.AUDIT_LOGGING, EventType.SYSTEM_MAINTENANCE)
    event_id = await publish_committed(db, Announcement(note="x"))
    await relay_for(db, recorder).fan_out()
    recorder.registry.remove("test.auditor")

    # when that relay runs
    await relay_for(db, recorder).run_until_idle()

    # then the other consumer's delivery still waits for a relay that knows it
    mailer = await delivery(db, event_id, "test.mailer")
    auditor = await delivery(db, event_id, "test.auditor")
    assert mailer is not None
    assert auditor is not None
    assert (mailer.status, auditor.status, auditor.attempts) == ("processed", "pending", 0)


async def test_run_forever_relays_until_stopped(db: Database, recorder: Recorder) -> None:
    # given a relay running in the background
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    stop = asyncio.Event()
    task = asyncio.create_task(relay_for(db, recorder).run_forever(stop, poll_interval=0.02))

    # when an event is committed
    event_id = await publish_committed(db, Announcement(note="x"))

    # then it is delivered without anyone calling the relay
    async def delivered() -> bool:
        return await effects(db, "test.mailer", event_id) == 1

    await eventually(delivered, within=5)

    # and the relay stops when asked
    stop.set()
    await asyncio.wait_for(task, 5)


def test_the_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(
        base=timedelta(seconds=1), factor=2, max_delay=timedelta(seconds=5), jitter=0
    )
    assert [policy.delay(n).total_seconds() for n in range(1, 6)] == [1, 2, 4, 5, 5]
    jittery = RetryPolicy(base=timedelta(seconds=10), jitter=0.5)
    assert all(10 <= jittery.delay(1).total_seconds() <= 15 for _ in range(50))


async def test_a_relay_without_consumers_leaves_events_for_one_that_has_them(
    db: Database, recorder: Recorder
) -> None:
    # given a committed event and a relay in a process that loaded no consumers
    event_id = await publish_committed(db, Announcement(note="x"))
    assert await relay_for(db, recorder).run_until_idle() == 0

    # when a relay that knows a consumer of it runs
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    await relay_for(db, recorder).run_until_idle()

    # then the event is delivered after all
    assert await effects(db, "test.mailer", event_id) == 1


async def test_a_handler_that_loses_its_database_connection_is_recorded_and_retried(
    db: Database, recorder: Recorder
) -> None:
    # given a consumer whose database connection dies under it
    async def lose_connection(session: AsyncSession, event: Event) -> None:
        await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    recorder.registry.add(
        Consumer(
            name="test.unlucky",
            queue=Queue.NOTIFICATIONS,
            event_types=frozenset({EventType.SYSTEM_MAINTENANCE}),
            handler=lose_connection,
        )
    )
    event_id = await publish_committed(db, Announcement(note="x"))

    # when the relay runs
    await relay_for(db, recorder).run_until_idle()

    # then the failed attempt is still on record, for a retry after the backoff
    row = await delivery(db, event_id, "test.unlucky")
    assert row is not None
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
