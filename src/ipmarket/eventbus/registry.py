"""The typed event registry: event types (seed §8.1), payload models, queues (seed §8.2),
and the consumers subscribed to each type."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession


class EventType(StrEnum):
    USER_REGISTERED = "user.registered"
    USER_SUSPENDED = "user.suspended"
    USER_VERIFIED = "user.verified"
    # Internal: a password reset was asked for; the notifications consumer mails the token.
    USER_PASSWORD_RESET_REQUESTED = "user.password_reset_requested"

    IP_ASSET_CREATED = "ip_asset.created"
    IP_ASSET_APPROVED = "ip_asset.approved"
    IP_ASSET_REJECTED = "ip_asset.rejected"
    IP_ASSET_SUSPENDED = "ip_asset.suspended"

    LICENSE_APPLIED = "license.applied"
    LICENSE_APPROVED = "license.approved"
    LICENSE_REJECTED = "license.rejected"
    LICENSE_REVOKED = "license.revoked"

    PRODUCT_CREATED = "product.created"
    # Put on sale for the first time: it has its chain record and verification code.
    PRODUCT_PUBLISHED = "product.published"
    PRODUCT_PURCHASED = "product.purchased"
    PRODUCT_REPORTED = "product.reported"

    PAYMENT_COMPLETED = "payment.completed"
    PAYMENT_FAILED = "payment.failed"
    REFUND_PROCESSED = "refund.processed"

    ADMIN_ACTION_TAKEN = "admin.action_taken"
    CONTENT_MODERATED = "content.moderated"
    DISPUTE_RESOLVED = "dispute.resolved"
    PLATFORM_SETTINGS_CHANGED = "platform.settings_changed"
    AUDIT_LOG_CREATED = "audit.log_created"

    AUTHORIZATION_REVOKED = "authorization.revoked"
    TRANSPARENCY_ENTRY_APPENDED = "transparency.entry_appended"
    TRANSPARENCY_CHECKPOINT_SIGNED = "transparency.checkpoint_signed"
    # Internal: a chain transaction of the chain module is confirmed (see chain.events).
    CHAIN_RECORD_ANCHORED = "chain.record_anchored"
    SYSTEM_MAINTENANCE = "system.maintenance"
    ANALYTICS_UPDATED = "analytics.updated"


class Queue(StrEnum):
    """RabbitMQ queues of seed §8.2; `max_retries` is the seed's `retry` option."""

    NOTIFICATIONS = "notifications"
    PAYMENTS = "payments"
    BLOCKCHAIN = "blockchain"
    ADMIN_ACTIONS = "admin_actions"
    CONTENT_MODERATION = "content_moderation"
    AUDIT_LOGGING = "audit_logging"
    ANALYTICS_UPDATES = "analytics_updates"

    @property
    def max_retries(self) -> int:
        return _QUEUE_RETRIES[self]

    @property
    def priority(self) -> bool:
        return self in (Queue.PAYMENTS, Queue.ADMIN_ACTIONS)


_QUEUE_RETRIES: dict[Queue, int] = {
    Queue.NOTIFICATIONS: 3,
    Queue.PAYMENTS: 5,
    Queue.BLOCKCHAIN: 5,
    Queue.ADMIN_ACTIONS: 3,
    Queue.CONTENT_MODERATION: 2,
    Queue.AUDIT_LOGGING: 5,
    Queue.ANALYTICS_UPDATES: 3,
}


class EventPayload(BaseModel):
    """Base of every event payload. Subclasses name their `event_type`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[EventType]
    _by_type: ClassVar[dict[EventType, type[EventPayload]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is not None:
            if event_type in EventPayload._by_type:
                raise TypeError(f"two payload models for {event_type}")
            EventPayload._by_type[event_type] = cls

    @staticmethod
    def model_for(event_type: str) -> type[EventPayload] | None:
        return EventPayload._by_type.get(EventType(event_type))


P = TypeVar("P", bound=EventPayload)


class Event(BaseModel):
    """An event as consumers see it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    type: EventType
    payload: dict[str, Any]
    occurred_at: datetime

    def parse(self, model: builtins.type[P]) -> P:
        return model.model_validate(self.payload)


Handler = Callable[[AsyncSession, Event], Awaitable[None]]


@dataclass(frozen=True)
class Consumer:
    """A named handler of some event types, delivered through one queue.

    The handler runs in the consumer's own transaction together with the record of its
    delivery, so its effect happens once per event.
    """

    name: str
    queue: Queue
    event_types: frozenset[EventType]
    handler: Handler


@dataclass
class ConsumerRegistry:
    consumers: dict[str, Consumer] = field(default_factory=dict)

    def add(self, consumer: Consumer) -> None:
        if consumer.name in self.consumers:
            raise ValueError(f"consumer {consumer.name} is registered twice")
        self.consumers[consumer.name] = consumer

    def remove(self, name: str) -> None:
        self.consumers.pop(name, None)

    def for_event(self, event_type: str) -> list[Consumer]:
        return [c for c in self.consumers.values() if event_type in c.event_types]

    def for_queue(self, queue: Queue) -> list[Consumer]:
        return [c for c in self.consumers.values() if c.queue == queue]

    def get(self, name: str) -> Consumer:
        return self.consumers[name]


registry = ConsumerRegistry()


def subscribe(*event_types: EventType, consumer: str, queue: Queue) -> Callable[[Handler], Handler]:
    """Register the decorated coroutine as consumer `consumer` of `event_types`."""

    def decorate(handler: Handler) -> Handler:
        registry.add(
            Consumer(
                name=consumer, queue=queue, event_types=frozenset(event_types), handler=handler
            )
        )
        return handler

    return decorate
