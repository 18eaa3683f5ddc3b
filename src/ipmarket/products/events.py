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


class ProductPublished(EventPayload):
    """A product went on sale for the first time, with its chain record and verification
    code (only the code's SHA-256 travels: the code itself is the product's secret)."""

    event_type: ClassVar[EventType] = EventType.PRODUCT_PUBLISHED
    product_id: uuid.UUID
    creator_id: uuid.UUID
    chain_record_id: uuid.UUID
    license_id: uuid.UUID
    ip_asset_id: uuid.UUID
    verification_code_hash: str
