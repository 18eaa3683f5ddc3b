"""Events the IP assets module publishes."""

from __future__ import annotations

import uuid
from typing import ClassVar

from ipmarket.eventbus import EventPayload, EventType


class IPAssetCreated(EventPayload):
    event_type: ClassVar[EventType] = EventType.IP_ASSET_CREATED
    ip_asset_id: uuid.UUID
    creator_id: uuid.UUID
    title: str
    parent_license_id: uuid.UUID | None


class IPAssetApproved(EventPayload):
    event_type: ClassVar[EventType] = EventType.IP_ASSET_APPROVED
    ip_asset_id: uuid.UUID
    creator_id: uuid.UUID
    reviewed_by: uuid.UUID | None
    content_hash: str


class IPAssetRejected(EventPayload):
    event_type: ClassVar[EventType] = EventType.IP_ASSET_REJECTED
    ip_asset_id: uuid.UUID
    creator_id: uuid.UUID
    reviewed_by: uuid.UUID
    reason: str
