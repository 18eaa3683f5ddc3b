"""Events the identity module publishes."""

from __future__ import annotations

import uuid
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
