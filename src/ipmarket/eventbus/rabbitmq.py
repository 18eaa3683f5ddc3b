"""The RabbitMQ event bus (RABBITMQ_URL is set): publisher relay, topology, consumers.

Topology, every name under a prefix (default `ipmarket`, unique per test):

- `<prefix>.events`: a durable topic exchange; an event is published with its type as the
  routing key (`license.revoked`), persistent, `message_id` = event id, `type` = event type.
- `<prefix>.<queue>` for each seed §8.2 queue that has consumers: durable, bound to the
  event types its consumers subscribe to; `x-max-priority` for the priority queues; rejected
  messages dead-letter to
- `<prefix>.<queue>.dlq`: the dead-letter queue, for an operator to inspect and requeue;
- `<prefix>.<queue>.retry`: a failed message waits here for its backoff (per-message TTL),
  then dead-letters back to `<prefix>.<queue>`, with its `x-retry-count` header raised.

Delivery guarantees: the publisher marks an outbox row published only after the broker
confirmed it, so no event is lost (a crash in between publishes it twice). A consumer runs
each of the queue's consumers subscribed to the event type in its own transaction, guarded
by the (event, consumer) `processed_events` row: a duplicate message finds the row
`processed` and has no effect. A message is acknowledged only after every consumer succeeded,
or after it was re-published to the retry queue (confirmed), or rejected to the DLQ.

Retry semantics: a message is tried `queue.max_retries + 1` times in total; the consumers that
still fail on the last try are marked `dead` in `processed_events` and the message is
dead-lettered. Retries re-run only the consumers not yet `processed`.

The retry queue expires messages in order (RabbitMQ only expires the head of a queue), so a
message never comes back sooner than its backoff, but may wait behind a longer one; the
backoff is capped (`RetryPolicy.max_delay`) to bound that wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
    HeadersType,
)
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ipmarket.eventbus.delivery import (
    DeliveryStatus,
    Failure,
    RetryPolicy,
    attempt_delivery,
    error_text,
)
from ipmarket.eventbus.models import OutboxEvent, ProcessedEvent
from ipmarket.eventbus.registry import (
    Consumer,
    ConsumerRegistry,
    Event,
    EventType,
    Queue,
    registry,
)
from ipmarket.eventbus.relay import MAX_IDLE_BACKOFF_SECONDS, wait_for_stop
from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Database

log = structlog.get_logger(__name__)

RETRY_COUNT_HEADER = "x-retry-count"
MAX_PRIORITY = 9
DEFAULT_PRIORITY = 4
HIGH_PRIORITY = 8
# Events that take rights or money away are handled before routine ones on priority queues.
HIGH_PRIORITY_EVENTS = frozenset(
    {
        EventType.AUTHORIZATION_REVOKED,
        EventType.LICENSE_REVOKED,
        EventType.USER_SUSPENDED,
        EventType.PAYMENT_FAILED,
        EventType.REFUND_PROCESSED,
    }
)
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,100}$")


@dataclass(frozen=True)
class Topology:
    """The names of the exchange and queues, all under `prefix`."""

    prefix: str = "ipmarket"

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ValueError(f"invalid RabbitMQ name prefix {self.prefix!r}")

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.events"

    def queue(self, queue: Queue) -> str:
        return f"{self.prefix}.{queue.value}"

    def retry_queue(self, queue: Queue) -> str:
        return f"{self.prefix}.{queue.value}.retry"

    def dead_letter_queue(self, queue: Queue) -> str:
        return f"{self.prefix}.{queue.value}.dlq"


def message_priority(event_type: str) -> int:
    return HIGH_PRIORITY if event_type in HIGH_PRIORITY_EVENTS else DEFAULT_PRIORITY


def event_message(
    event_id: Any, event_type: str, payload: dict[str, Any], occurred_at: datetime
) -> aio_pika.Message:
    """The persistent message that carries one outbox event."""
    body = {
        "id": str(event_id),
        "type": event_type,
        "payload": payload,
        "occurred_at": occurred_at.isoformat(),
    }
    return aio_pika.Message(
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(event_id),
        type=event_type,
        timestamp=occurred_at,
        priority=message_priority(event_type),
        headers={RETRY_COUNT_HEADER: 0},
        app_id="ipmarket",
    )


def decode_event(message: AbstractIncomingMessage) -> Event:
    """The event a message carries; ValueError if it is not one."""
    try:
        return Event.model_validate_json(message.body)
    except ValidationError as exc:
        raise ValueError(f"not an event: {exc.error_count()} validation errors") from exc


def retry_count(headers: HeadersType | None) -> int:
    value = (headers or {}).get(RETRY_COUNT_HEADER, 0)
    try:
        return max(int(value), 0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


async def broker_ready(url: str, *, within: float = 3.0) -> bool:
    """Whether a RabbitMQ broker accepts a connection and a channel at `url` (for /readyz)."""
    try:
        async with asyncio.timeout(within):
            connection = await aio_pika.connect(url)
            try:
                channel = await connection.channel()
                await channel.close()
            finally:
                await connection.close()
    except Exception as exc:  # any failure means "not ready"
        log.warning("broker.unreachable", error=repr(exc))
        return False
    return True


def _queue_arguments(topology: Topology, queue: Queue) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": topology.dead_letter_queue(queue),
    }
    if queue.priority:
        arguments["x-max-priority"] = MAX_PRIORITY
    return arguments


class RabbitBroker:
    """One robust connection to RabbitMQ, its topology, and publishing.

    `queues()` are the queues with at least one consumer in `registry`; only those are
    declared and bound.
    """

    def __init__(
        self,
        url: str,
        *,
        registry: ConsumerRegistry = registry,
        topology: Topology | None = None,
        prefetch_count: int = 16,
    ) -> None:
        self.url = url
        self.registry = registry
        self.topology = topology or Topology()
        self.prefetch_count = prefetch_count
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._consume_channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    @property
    def is_connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    def queues(self) -> list[Queue]:
        return [queue for queue in Queue if self.registry.for_queue(queue)]

    def routing_keys(self, queue: Queue) -> list[str]:
        keys = {t.value for c in self.registry.for_queue(queue) for t in c.event_types}
        return sorted(keys)

    async def connect(self, *, connect_timeout: float = 10.0) -> None:
        """Connect (reconnecting by itself afterwards) and declare the topology."""
        if self._connection is not None:
            return
        connection = await aio_pika.connect_robust(self.url, timeout=connect_timeout)
        try:
            self._publish_channel = await connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            self._consume_channel = await connection.channel()
            await self._consume_channel.set_qos(prefetch_count=self.prefetch_count)
            self._connection = connection
            await self.declare_topology()
        except BaseException:
            self._connection = None
            await connection.close()
            raise
        log.info("broker.connected", exchange=self.topology.exchange, queues=self.queues())

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self._publish_channel = self._consume_channel = self._exchange = None
        if connection is not None:
            await connection.close()

    def _channels(self) -> tuple[AbstractChannel, AbstractChannel]:
        if self._publish_channel is None or self._consume_channel is None:
            raise RuntimeError("the broker is not connected")
        return self._publish_channel, self._consume_channel

    async def declare_topology(self) -> None:
        """Declare the exchange, and the queues of the registry's consumers with their
        bindings, retry and dead-letter queues. Idempotent."""
        channel, _ = self._channels()
        self._exchange = await channel.declare_exchange(
            self.topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for queue in self.queues():
            await channel.declare_queue(self.topology.dead_letter_queue(queue), durable=True)
            await channel.declare_queue(
                self.topology.retry_queue(queue),
                durable=True,
                arguments={
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.topology.queue(queue),
                },
            )
            main = await self.declare_queue(channel, queue)
            for key in self.routing_keys(queue):
                await main.bind(self._exchange, routing_key=key)

    async def declare_queue(self, channel: AbstractChannel, queue: Queue) -> AbstractQueue:
        return await channel.declare_queue(
            self.topology.queue(queue),
            durable=True,
            arguments=_queue_arguments(self.topology, queue),
        )

    async def consume_queue(self, queue: Queue) -> AbstractQueue:
        """The main queue, declared on the consuming channel (restored on reconnection)."""
        _, channel = self._channels()
        return await self.declare_queue(channel, queue)

    async def publish_event(
        self, event_id: Any, event_type: str, payload: dict[str, Any], occurred_at: datetime
    ) -> None:
        """Publish one event and wait for the broker's confirmation."""
        if self._exchange is None:
            raise RuntimeError("the broker is not connected")
        message = event_message(event_id, event_type, payload, occurred_at)
        # Not mandatory: an event nobody subscribes to is simply dropped by the exchange.
        await self._exchange.publish(message, routing_key=event_type, mandatory=False)

    async def publish_retry(
        self, queue: Queue, message: AbstractIncomingMessage, *, retries: int, delay: timedelta
    ) -> None:
        """Park a copy of `message` in the retry queue for `delay`, counting `retries`."""
        channel, _ = self._channels()
        retry = aio_pika.Message(
            body=message.body,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            type=message.type,
            timestamp=message.timestamp,
            priority=message.priority,
            app_id=message.app_id,
            # Fresh headers: copying x-death would make RabbitMQ see a dead-letter cycle.
            headers={RETRY_COUNT_HEADER: retries},
            expiration=max(delay, timedelta(milliseconds=1)),
        )
        await channel.default_exchange.publish(
            retry, routing_key=self.topology.retry_queue(queue), mandatory=True
        )

    async def requeue_dead_letters(self, queue: Queue, *, limit: int | None = None) -> int:
        """Move dead-lettered messages back to `queue` with a fresh retry count; return how
        many. Consumers already `processed` for an event are skipped when it comes back."""
        channel, _ = self._channels()
        dlq = await channel.declare_queue(self.topology.dead_letter_queue(queue), durable=True)
        moved = 0
        while limit is None or moved < limit:
            message = await dlq.get(no_ack=False, fail=False)
            if message is None:
                break
            again = aio_pika.Message(
                body=message.body,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message.message_id,
                type=message.type,
                timestamp=message.timestamp,
                priority=message.priority,
                app_id=message.app_id,
                headers={RETRY_COUNT_HEADER: 0},
            )
            await channel.default_exchange.publish(
                again, routing_key=self.topology.queue(queue), mandatory=True
            )
            await message.ack()
            moved += 1
        log.info("broker.dead_letters_requeued", queue=queue.value, count=moved)
        return moved

    async def message_counts(self, queue: Queue) -> dict[str, int]:
        """Messages ready in the queue, its retry queue and its DLQ (passive declares)."""
        channel, _ = self._channels()
        counts: dict[str, int] = {}
        for kind, name in (
            ("ready", self.topology.queue(queue)),
            ("retry", self.topology.retry_queue(queue)),
            ("dead", self.topology.dead_letter_queue(queue)),
        ):
            # On the raw channel: a robust channel answers passive declares from its cache.
            underlay = await channel.get_underlay_channel()
            declared = await underlay.queue_declare(name, passive=True)
            counts[kind] = declared.message_count or 0
        return counts

    async def delete_topology(self, queues: Iterable[Queue] = tuple(Queue)) -> None:
        """Delete the exchange and every queue of this prefix (tests, decommissioning)."""
        channel, _ = self._channels()
        for queue in queues:
            for name in (
                self.topology.queue(queue),
                self.topology.retry_queue(queue),
                self.topology.dead_letter_queue(queue),
            ):
                await channel.queue_delete(name)
        await channel.exchange_delete(self.topology.exchange)


class OutboxPublisher:
    """The publisher relay: committed outbox rows go to the exchange, then are marked
    published. Many publishers may run at once (rows are claimed with SKIP LOCKED)."""

    def __init__(self, db: Database, broker: RabbitBroker, *, batch_size: int = 100) -> None:
        self._db = db
        self._broker = broker
        self._batch_size = batch_size
        # Rows the last `publish_once` could not publish (the broker unreachable, say).
        self.failed_last_run = 0

    async def publish_once(self) -> int:
        """Publish one batch; return how many rows were published (and marked so)."""
        async with self._db.transaction() as session:
            rows = (
                await session.execute(
                    select(
                        OutboxEvent.id,
                        OutboxEvent.event_type,
                        OutboxEvent.payload,
                        OutboxEvent.occurred_at,
                    )
                    .where(OutboxEvent.published_at.is_(None))
                    .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            # Confirms are awaited together: one round trip for the batch, not one per row.
            results = await asyncio.gather(
                *(
                    self._broker.publish_event(row.id, row.event_type, row.payload, row.occurred_at)
                    for row in rows
                ),
                return_exceptions=True,
            )
            published = [
                row.id for row, result in zip(rows, results, strict=True) if result is None
            ]
            if published:
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(published))
                    .values(published_at=utcnow())
                )
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, BaseException):
                    await session.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.id == row.id)
                        .values(
                            publish_attempts=OutboxEvent.publish_attempts + 1,
                            last_error=error_text(result),
                        )
                    )
            failed = len(rows) - len(published)
            self.failed_last_run = failed
            if failed:
                log.warning("outbox.publish_failed", failed=failed, published=len(published))
            else:
                log.debug("outbox.published", count=len(published))
            return len(published)

    async def run_forever(self, stop: asyncio.Event, poll_interval: float = 0.5) -> None:
        """Publish until `stop` is set; pause `poll_interval` when idle, longer and longer
        while publishing fails (the broker or the database unreachable)."""
        failures = 0
        while not stop.is_set():
            try:
                done = await self.publish_once()
            except Exception:
                log.exception("outbox.publisher_error", consecutive_failures=failures + 1)
                done = 0
                self.failed_last_run = 1
            if self.failed_last_run and not done:
                failures += 1
                await wait_for_stop(
                    stop, min(poll_interval * 2**failures, MAX_IDLE_BACKOFF_SECONDS)
                )
                continue
            failures = 0
            if done < self._batch_size:
                await wait_for_stop(stop, poll_interval)


class RabbitConsumer:
    """Consumes the broker's queues and runs the registry's consumers on each message."""

    def __init__(
        self,
        db: Database,
        broker: RabbitBroker,
        *,
        retry_policy: RetryPolicy | None = None,
        handler_timeout: float | None = 300.0,
        queues: Iterable[Queue] | None = None,
    ) -> None:
        self._db = db
        self._broker = broker
        self._retry = retry_policy or RetryPolicy()
        self._handler_timeout = handler_timeout
        self._only = frozenset(queues) if queues is not None else None
        self._consuming: list[tuple[AbstractQueue, str]] = []
        self._in_flight: set[asyncio.Task[Any]] = set()
        # Messages acknowledged, dead-lettered or parked for retry by this consumer.
        self.settled = 0

    @property
    def busy(self) -> bool:
        """Whether a message is being handled right now."""
        return bool(self._in_flight)

    async def start(self) -> None:
        for queue in self._broker.queues():
            if self._only is not None and queue not in self._only:
                continue
            declared = await self._broker.consume_queue(queue)
            tag = await declared.consume(partial(self._on_message, queue))
            self._consuming.append((declared, tag))
        log.info("consumer.started", queues=[q.name for q, _ in self._consuming])

    async def stop(self, grace_period: float = 30.0) -> None:
        """Stop taking messages and let the ones in progress finish (up to `grace_period` s).

        Messages received but not finished are redelivered by the broker once the
        connection closes.
        """
        consuming, self._consuming = self._consuming, []
        for declared, tag in consuming:
            with contextlib.suppress(Exception):
                await declared.cancel(tag)
        if self._in_flight:
            _, pending = await asyncio.wait(self._in_flight, timeout=grace_period)
            for task in pending:
                task.cancel()
        log.info("consumer.stopped")

    async def _on_message(self, queue: Queue, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self.handle(queue, message)
        except Exception:
            log.exception(
                "consumer.message_error", queue=queue.value, message_id=message.message_id
            )
            # Give the broker (or database) a moment, then let the message come back.
            await asyncio.sleep(1.0)
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def handle(self, queue: Queue, message: AbstractIncomingMessage) -> None:
        """Run every consumer of `queue` subscribed to the message's event, then settle it."""
        try:
            event = decode_event(message)
        except ValueError as exc:
            log.exception(
                "consumer.undecodable_message",
                queue=queue.value,
                message_id=message.message_id,
                error=str(exc),
            )
            await message.reject(requeue=False)
            self.settled += 1
            return
        retries = retry_count(message.headers)
        final = retries >= queue.max_retries
        consumers = [
            c for c in self._broker.registry.for_queue(queue) if event.type in c.event_types
        ]
        failed = [
            consumer.name
            for consumer in consumers
            if not await self._deliver(consumer, event, retries=retries, final=final)
        ]
        if not failed:
            await message.ack()
        elif final:
            await message.reject(requeue=False)  # to <queue>.dlq
        else:
            delay = self._retry.delay(retries + 1)
            await self._broker.publish_retry(queue, message, retries=retries + 1, delay=delay)
            await message.ack()
        self.settled += 1

    async def _deliver(
        self, consumer: Consumer, event: Event, *, retries: int, final: bool
    ) -> bool:
        """Run `consumer` on `event` at most once to effect; True if it is (now) processed."""
        try:
            return await self._attempt(consumer, event, retries=retries, final=final)
        except Exception as exc:
            # The database failed us, not the handler: the message is retried all the same.
            log.exception(
                "event.delivery_error",
                event_id=str(event.id),
                consumer=consumer.name,
                error=error_text(exc),
            )
            return False

    async def _attempt(
        self, consumer: Consumer, event: Event, *, retries: int, final: bool
    ) -> bool:
        async with self._db.sessionmaker() as session:
            await session.execute(
                pg_insert(ProcessedEvent)
                .values(
                    event_id=event.id,
                    consumer=consumer.name,
                    status=DeliveryStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=utcnow(),
                )
                .on_conflict_do_nothing()
            )
            # Waits while a copy of the same message is being handled for this consumer.
            row = (
                await session.execute(
                    select(ProcessedEvent.status, ProcessedEvent.attempts)
                    .where(
                        ProcessedEvent.event_id == event.id,
                        ProcessedEvent.consumer == consumer.name,
                    )
                    .with_for_update()
                )
            ).one()
            if row.status == DeliveryStatus.PROCESSED.value:
                await session.rollback()
                log.info("event.duplicate_skipped", event_id=str(event.id), consumer=consumer.name)
                return True

            return await attempt_delivery(
                self._db,
                session,
                consumer,
                event,
                event_id=event.id,
                event_type=event.type.value,
                previous_attempts=row.attempts,
                # The message's retry count, not the row's attempts, decides: the broker
                # dead-letters the message itself.
                on_failure=lambda _: Failure(
                    dead=final, next_attempt_at=utcnow() + self._retry.delay(retries + 1)
                ),
                time_limit=self._handler_timeout,
            )
