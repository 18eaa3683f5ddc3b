"""The RabbitMQ path, against the machine's broker: outbox -> exchange -> queue -> consumer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import aio_pika
import pytest

from ipmarket.eventbus import EventType, Queue
from ipmarket.eventbus.delivery import RetryPolicy
from ipmarket.eventbus.rabbitmq import (
    RETRY_COUNT_HEADER,
    OutboxPublisher,
    RabbitBroker,
    RabbitConsumer,
    Topology,
    broker_ready,
)
from ipmarket.kit.db import Database
from tests.conftest import RABBITMQ_URL
from tests.eventbus.support import (
    Announcement,
    Recorder,
    Revocation,
    delivery,
    effects,
    eventually,
    outbox_event,
    publish_committed,
    unique_prefix,
)

FAST_RETRIES = RetryPolicy(base=timedelta(milliseconds=50), factor=2, jitter=0)


@dataclass
class Rabbit:
    broker: RabbitBroker
    consumer: RabbitConsumer
    publisher: OutboxPublisher

    async def publish_all(self) -> int:
        total = 0
        while (published := await self.publisher.publish_once()) > 0:
            total += published
        return total

    async def counts(self, queue: Queue) -> dict[str, int]:
        return await self.broker.message_counts(queue)


Start = Callable[..., Awaitable[Rabbit]]


@pytest.fixture
async def rabbit(db: Database, recorder: Recorder) -> AsyncIterator[Start]:
    """Connect a broker under a unique prefix to the test's consumers; delete it afterwards."""
    started: list[Rabbit] = []

    async def start(*, consume: bool = True, prefetch_count: int = 16) -> Rabbit:
        broker = RabbitBroker(
            RABBITMQ_URL,
            registry=recorder.registry,
            topology=Topology(unique_prefix()),
            prefetch_count=prefetch_count,
        )
        await broker.connect()
        rabbit = Rabbit(
            broker=broker,
            consumer=RabbitConsumer(db, broker, retry_policy=FAST_RETRIES),
            publisher=OutboxPublisher(db, broker),
        )
        started.append(rabbit)
        if consume:
            await rabbit.consumer.start()
        return rabbit

    yield start
    for rabbit in started:
        await rabbit.consumer.stop(grace_period=5)
        if not rabbit.broker.is_connected:
            await rabbit.broker.connect()
        await rabbit.broker.delete_topology()
        await rabbit.broker.close()


async def test_a_committed_event_travels_through_rabbitmq_to_each_consumer_once(
    db: Database, recorder: Recorder, rabbit: Start
) -> None:
    # given consumers of announcements on two queues (one a priority queue), consuming
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    recorder.add("test.payer", Queue.PAYMENTS, EventType.SYSTEM_MAINTENANCE)
    recorder.add("test.revoker", Queue.ADMIN_ACTIONS, EventType.AUTHORIZATION_REVOKED)
    bus = await rabbit()

    # when an announcement is committed and the publisher relay runs
    event_id = await publish_committed(db, Announcement(note="downtime"))
    assert await bus.publish_all() == 1

    # then the outbox row is marked published
    row = await outbox_event(db, event_id)
    assert row is not None
    assert row.published_at is not None

    # and each subscribed consumer's effect lands in the database, once
    async def both_processed() -> bool:
        mailer = await delivery(db, event_id, "test.mailer")
        payer = await delivery(db, event_id, "test.payer")
        return all(d is not None and d.status == "processed" for d in (mailer, payer))

    await eventually(both_processed)
    assert await effects(db, "test.mailer", event_id) == 1
    assert await effects(db, "test.payer", event_id) == 1
    assert await effects(db, "test.revoker") == 0

    # and nothing is published twice
    assert await bus.publish_all() == 0
    for queue in (Queue.NOTIFICATIONS, Queue.PAYMENTS):
        assert await bus.counts(queue) == {"ready": 0, "retry": 0, "dead": 0}
    assert recorder.count("test.mailer") == 1
    assert recorder.count("test.payer") == 1


async def test_a_failing_consumer_goes_through_retries_to_the_dead_letter_queue(
    db: Database, recorder: Recorder, rabbit: Start
) -> None:
    # given, on a queue allowing 2 retries, a consumer that always fails and a healthy one
    recorder.add(
        "test.moderator", Queue.CONTENT_MODERATION, EventType.SYSTEM_MAINTENANCE, fail_times=None
    )
    recorder.add("test.indexer", Queue.CONTENT_MODERATION, EventType.SYSTEM_MAINTENANCE)
    bus = await rabbit()

    # when an announcement is published
    event_id = await publish_committed(db, Announcement(note="x"))
    await bus.publish_all()

    # then after 1 + 2 attempts the message lands in the queue's DLQ
    async def dead_lettered() -> bool:
        return (await bus.counts(Queue.CONTENT_MODERATION))["dead"] == 1

    await eventually(dead_lettered)
    assert recorder.count("test.moderator") == Queue.CONTENT_MODERATION.max_retries + 1
    moderator = await delivery(db, event_id, "test.moderator")
    assert moderator is not None
    assert (moderator.status, moderator.attempts) == ("dead", 3)
    assert moderator.last_error == "HandlerFailedError: test.moderator failed on purpose"
    assert await effects(db, "test.moderator") == 0

    # and the healthy consumer of the same message ran once, unaffected by the retries
    assert recorder.count("test.indexer") == 1
    assert await effects(db, "test.indexer", event_id) == 1

    # and the dead letter says how often it was retried
    async with await aio_pika.connect(RABBITMQ_URL) as connection:
        channel = await connection.channel()
        dlq = await channel.declare_queue(
            bus.broker.topology.dead_letter_queue(Queue.CONTENT_MODERATION), passive=True
        )
        message = await dlq.get(no_ack=False)
        assert message.message_id == str(event_id)
        assert message.headers[RETRY_COUNT_HEADER] == Queue.CONTENT_MODERATION.max_retries
        await message.nack(requeue=True)

    # when the consumer is fixed and an operator requeues the dead letters
    recorder.heal("test.moderator")
    assert await bus.broker.requeue_dead_letters(Queue.CONTENT_MODERATION) == 1

    # then the failed consumer is processed once, and the healthy one is not run again
    async def recovered() -> bool:
        row = await delivery(db, event_id, "test.moderator")
        return row is not None and row.status == "processed"

    await eventually(recovered)
    assert await effects(db, "test.moderator", event_id) == 1
    assert recorder.count("test.indexer") == 1
    assert await bus.counts(Queue.CONTENT_MODERATION) == {"ready": 0, "retry": 0, "dead": 0}


async def test_a_redelivered_message_has_one_effect(
    db: Database, recorder: Recorder, rabbit: Start
) -> None:
    # given a slowish consumer, and an event published once
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE, delay=0.05)
    bus = await rabbit()
    event_id = await publish_committed(db, Announcement(note="x"))
    row = await outbox_event(db, event_id)
    assert row is not None

    # when the same event reaches the queue three times (a publisher that crashed before
    # marking the row, a redelivery), two of them at the same moment
    await bus.publish_all()
    for _ in range(2):
        await bus.broker.publish_event(row.id, row.event_type, row.payload, row.occurred_at)

    # then every copy is consumed, and the effect happened once
    await eventually(lambda: _settled(bus, 3))
    assert await effects(db, "test.mailer", event_id) == 1
    done = await delivery(db, event_id, "test.mailer")
    assert done is not None
    assert done.attempts == 1


async def test_copies_racing_after_a_failed_attempt_have_one_effect(
    db: Database, recorder: Recorder, rabbit: Start
) -> None:
    # given a slowish consumer whose first attempt at an event failed (its retry is on the way)
    recorder.add(
        "test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE, fail_times=1, delay=0.05
    )
    bus = await rabbit()
    event_id = await publish_committed(db, Announcement(note="x"))
    row = await outbox_event(db, event_id)
    assert row is not None
    await bus.publish_all()

    async def failed_once() -> bool:
        pending = await delivery(db, event_id, "test.mailer")
        return pending is not None and pending.attempts == 1

    await eventually(failed_once)

    # when two more copies arrive at once, racing the retry
    for _ in range(2):
        await bus.broker.publish_event(row.id, row.event_type, row.payload, row.occurred_at)

    # then all four copies (with the retry) are consumed; the event took effect once, on the
    # second attempt
    await eventually(lambda: _settled(bus, 4))
    assert await effects(db, "test.mailer", event_id) == 1
    done = await delivery(db, event_id, "test.mailer")
    assert done is not None
    assert done.attempts == 2


async def _settled(bus: Rabbit, messages: int) -> bool:
    return bus.consumer.settled >= messages and not bus.consumer.busy


async def test_priority_queues_hand_out_urgent_events_first(
    db: Database, recorder: Recorder, rabbit: Start
) -> None:
    # given a consumer on a priority queue, not yet consuming, one message at a time
    recorder.add(
        "test.payer",
        Queue.PAYMENTS,
        EventType.SYSTEM_MAINTENANCE,
        EventType.AUTHORIZATION_REVOKED,
    )
    bus = await rabbit(consume=False, prefetch_count=1)

    # when routine announcements are queued before an urgent revocation
    routine = [await publish_committed(db, Announcement(note=str(i))) for i in range(3)]
    urgent = await publish_committed(db, Revocation(note="now"))
    await bus.publish_all()
    await bus.consumer.start()

    # then the revocation is handled first
    async def all_handled() -> bool:
        return len(recorder.calls) == 4

    await eventually(all_handled)
    assert [event_id for _, event_id in recorder.calls] == [urgent, *routine]


async def test_a_message_that_is_not_an_event_is_dead_lettered(
    db: Database, recorder: Recorder, rabbit: Start
) -> None:
    # given a consuming queue
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    bus = await rabbit()

    # when something that is not an event is published with an event's routing key
    async with await aio_pika.connect(RABBITMQ_URL) as connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(bus.broker.topology.exchange)
        body = json.dumps({"hello": "world"}).encode()
        await exchange.publish(aio_pika.Message(body=body), routing_key="system.maintenance")

    # then it goes straight to the dead-letter queue, and no consumer runs
    async def dead_lettered() -> bool:
        return (await bus.counts(Queue.NOTIFICATIONS))["dead"] == 1

    await eventually(dead_lettered)
    assert recorder.calls == []


async def test_an_event_is_not_lost_while_the_broker_is_unreachable(
    db: Database, recorder: Recorder, rabbit: Start
) -> None:
    # given a publisher whose broker connection is down
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    bus = await rabbit()
    await bus.consumer.stop(grace_period=1)
    await bus.broker.close()
    event_id = await publish_committed(db, Announcement(note="x"))

    # when the publisher relay runs
    assert await bus.publisher.publish_once() == 0

    # then the row stays unpublished, with the failure on record
    row = await outbox_event(db, event_id)
    assert row is not None
    assert row.published_at is None
    assert row.publish_attempts == 1
    assert row.last_error is not None

    # and it goes out once the broker is back
    await bus.broker.connect()
    await bus.consumer.start()
    assert await bus.publish_all() == 1

    async def delivered() -> bool:
        return await effects(db, "test.mailer", event_id) == 1

    await eventually(delivered)


async def test_broker_readiness() -> None:
    assert await broker_ready(RABBITMQ_URL) is True
    assert await broker_ready("amqp://guest:guest@127.0.0.1:1/", within=2) is False


def test_names_are_prefixed_and_the_prefix_is_checked() -> None:
    topology = Topology("ipmarket-test-abc")
    assert topology.exchange == "ipmarket-test-abc.events"
    assert topology.queue(Queue.PAYMENTS) == "ipmarket-test-abc.payments"
    assert topology.retry_queue(Queue.PAYMENTS) == "ipmarket-test-abc.payments.retry"
    assert topology.dead_letter_queue(Queue.PAYMENTS) == "ipmarket-test-abc.payments.dlq"
    with pytest.raises(ValueError, match="prefix"):
        Topology("bad prefix/with spaces")
