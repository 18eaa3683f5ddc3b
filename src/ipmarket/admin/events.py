"""Events the admin module publishes."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from ipmarket.eventbus import EventPayload, EventType


class PlatformSettingsChanged(EventPayload):
    event_type: ClassVar[EventType] = EventType.PLATFORM_SETTINGS_CHANGED
    actor_id: uuid.UUID
    old_values: dict[str, Any]
    new_values: dict[str, Any]
