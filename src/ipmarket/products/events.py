"""Events the products module publishes."""

from __future__ import annotations

import uuid
from typing import ClassVar

from ipmarket.eventbus import EventPayload, EventType


class ProductCreated(EventPayload):
    event_type: ClassVar[EventType] = EventType.PRODUCT_CREATED
    product_id: uuid.UUID
    creator_id: uuid.UUID
    license_id: uuid.UUID
    ip_asset_id: uuid.UUID
    title: str
