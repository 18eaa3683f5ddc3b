"""Test consumers, payloads and observation helpers for the event bus and the worker.

Consumers are registered in a registry of the test's own, never the global one. Their effect
is a row in a scratch table (`eventbus_test_effects`, emptied with every other table before
each test), written in the consumer's transaction: a rolled-back attempt leaves no row, a
duplicate effect leaves two.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus import EventPayload, EventType, Queue, publish
from ipmarket.eventbus.models import OutboxEvent, ProcessedEvent
from ipmarket.eventbus.rabbitmq import RabbitBroker, Topology
from ipmarket.eventbus.registry import Consumer, ConsumerRegistry, Event
from ipmarket.kit.db import Database

EFFECTS_DDL = """
CREATE TABLE IF NOT EXISTS eventbus_test_effects (
    id bigserial PRIMARY KEY,
    event_id uuid NOT NULL,
    consumer text NOT NULL,
    note text
)
"""


class Announcement(EventPayload):
    """A test payload; not registered as the model of its type (that belongs to a module)."""

    note: str


Announcement.event_type = EventType.SYSTEM_MAINTENANCE


class Revocation(EventPayload):
    note: str


Revocation.event_type = EventType.AUTHORIZATION_REVOKED


class HandlerFailedError(RuntimeError):
    pass


@dataclass
class Behaviour:
    # The first `fail_times` calls per event raise; None: every call raises.
    fail_times: int | None = 0
    delay: float = 0.0


@dataclass
class Recorder:
    """Builds test consumers and remembers every call (including the rolled-back ones)."""

    registry: ConsumerRegistry
    calls: list[tuple[str, uuid.UUID]] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)

    def add(
        self,
        name: str,
        queue: Queue,
        *event_types: EventType,
        fail_times: int | None = 0,
        delay: float = 0.0,
    ) -> Consumer:
        self.behaviours[name] = Behaviour(fail_times=fail_times, delay=delay)

        async def handler(session: AsyncSession, event: Event) -> None:
            self.calls.append((name, event.id))
            await session.execute(
                text(
                    "INSERT INTO eventbus_test_effects (event_id, consumer, note) "
                    "VALUES (:event_id, :consumer, :note)"
                ),
                {"event_id": event.id, "consumer": name, "note": event.payload.get("note")},
            )
            behaviour = self.behaviours[name]
            if behaviour.delay:
                await asyncio.sleep(behaviour.delay)
            failures_so_far = self.count(name, event.id) - 1
            if behaviour.fail_times is None or failures_so_far < behaviour.fail_times:
                raise HandlerFailedError(f"{name} failed on purpose")

        consumer = Consumer(
            name=name, queue=queue, event_types=frozenset(event_types), handler=handler
        )
        self.registry.add(consumer)
        return consumer

    def heal(self, name: str) -> None:
        """From now on every call of `name` succeeds."""
        self.behaviours[name].fail_times = 0

    def count(self, consumer: str, event_id: uuid.UUID | None = None) -> int:
        return sum(1 for name, eid in self.calls if name == consumer and event_id in (None, eid))

    def per_event(self, consumer: str) -> Counter[uuid.UUID]:
        return Counter(eid for name, eid in self.calls if name == consumer)


async def create_effects_table(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text(EFFECTS_DDL))


async def effects(db: Database, consumer: str, event_id: uuid.UUID | None = None) -> int:
    """How many effects of `consumer` (on `event_id`) are committed."""
    query = "SELECT count(*) FROM eventbus_test_effects WHERE consumer = :consumer"
    params: dict[str, object] = {"consumer": consumer}
    if event_id is not None:
        query += " AND event_id = :event_id"
        params["event_id"] = event_id
    async with db.sessionmaker() as session:
        return int((await session.execute(text(query), params)).scalar_one())


async def publish_committed(db: Database, payload: EventPayload) -> uuid.UUID:
    async with db.transaction() as session:
        return await publish(session, payload)


async def delivery(db: Database, event_id: uuid.UUID, consumer: str) -> ProcessedEvent | None:
    async with db.sessionmaker() as session:
        return await session.get(ProcessedEvent, (event_id, consumer))


async def outbox_event(db: Database, event_id: uuid.UUID) -> OutboxEvent | None:
    async with db.sessionmaker() as session:
        return await session.get(OutboxEvent, event_id)


async def count_rows(db: Database, model: type[OutboxEvent] | type[ProcessedEvent]) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 10.0, every: float = 0.02
) -> None:
    """Wait until `check()` holds; fail the test if it does not within `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(every)


def unique_prefix() -> str:
    """A RabbitMQ name prefix of one test's own."""
    return f"ipmarket-test-{uuid.uuid4().hex[:12]}"


async def delete_rabbitmq_names(url: str, prefix: str) -> None:
    """Delete the exchange and every queue named under `prefix`."""
    broker = RabbitBroker(url, registry=ConsumerRegistry(), topology=Topology(prefix))
    await broker.connect()
    try:
        await broker.delete_topology()
    finally:
        await broker.close()
