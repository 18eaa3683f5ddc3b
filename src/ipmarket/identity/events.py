"""Events the identity module publishes, and the hook it dispatches for user totals."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import ClassVar

from ipmarket.eventbus import EventPayload, EventType


class UserRegistered(EventPayload):
    event_type: ClassVar[EventType] = EventType.USER_REGISTERED
    user_id: uuid.UUID
    username: str
    email: str
    user_type: str


class UserSuspended(EventPayload):
    event_type: ClassVar[EventType] = EventType.USER_SUSPENDED
    user_id: uuid.UUID
    status: str
    reason: str | None
    actor_id: uuid.UUID | None


class UserVerified(EventPayload):
    """An email was verified, or an admin changed a user's verification level."""

    event_type: ClassVar[EventType] = EventType.USER_VERIFIED
    user_id: uuid.UUID
    verification_level: str
    email_verified: bool
    actor_id: uuid.UUID | None


class PasswordResetRequested(EventPayload):
    """Someone asked for a reset email for `email` (normalised), registered or not.

    Published for every request so that answering takes the same work whether or not the
    address exists; the consumer looks the user up and mails only an active account.
    """

    event_type: ClassVar[EventType] = EventType.USER_PASSWORD_RESET_REQUESTED
    email: str


@dataclass
class UserTotalsWanted:
    """An in-transaction hook (kit.hooks), dispatched when administrators look at users: the
    modules that own IP assets, products and money fill in each user's totals. Users no
    module counts for keep zero."""

    user_ids: list[uuid.UUID]
    revenue_minor: dict[uuid.UUID, int] = field(default_factory=dict)
    ips: dict[uuid.UUID, int] = field(default_factory=dict)
    products: dict[uuid.UUID, int] = field(default_factory=dict)
