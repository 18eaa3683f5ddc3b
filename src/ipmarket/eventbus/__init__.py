"""Event bus: the typed registry, the transactional outbox, the relay and the brokers."""

from ipmarket.eventbus.outbox import publish
from ipmarket.eventbus.registry import (
    Consumer,
    Event,
    EventPayload,
    EventType,
    Queue,
    registry,
    subscribe,
)

__all__ = [
    "Consumer",
    "Event",
    "EventPayload",
    "EventType",
    "Queue",
    "publish",
    "registry",
    "subscribe",
]
