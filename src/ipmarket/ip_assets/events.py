"""Events the IP assets module publishes, and the in-transaction hooks it dispatches for
licensing to rule on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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


class IPAssetSuspended(EventPayload):
    """Assets stopped being usable (derivatives of a license that was revoked or expired)."""

    event_type: ClassVar[EventType] = EventType.IP_ASSET_SUSPENDED
    ip_asset_ids: list[uuid.UUID]
    reason: str


class IPAssetRejected(EventPayload):
    event_type: ClassVar[EventType] = EventType.IP_ASSET_REJECTED
    ip_asset_id: uuid.UUID
    creator_id: uuid.UUID
    reviewed_by: uuid.UUID
    reason: str


# --- in-transaction hooks (kit.hooks) -----------------------------------------------------
# Licensing sits above this module (it licenses assets), so the rules that need license data
# (may this user derive from that license? may this asset be deleted?) run as its answers.


@dataclass(frozen=True)
class DerivativeProposed:
    """Someone wants to register a derivative under `parent_license_id`; raise to refuse."""

    creator_id: uuid.UUID
    parent_license_id: uuid.UUID


@dataclass(frozen=True)
class DerivativeApproving:
    """A derivative asset is about to be approved; raise to refuse (e.g. the 100% cap)."""

    ip_asset_id: uuid.UUID
    creator_id: uuid.UUID
    parent_license_id: uuid.UUID


@dataclass(frozen=True)
class AssetDeleting:
    """An asset is about to be deleted; raise to refuse (e.g. approved licenses exist)."""

    ip_asset_id: uuid.UUID


@dataclass(frozen=True)
class AssetLeftReview:
    """An approved asset is going back to review after a material edit; raise to refuse
    (what licensees licensed may not change under them)."""

    ip_asset_id: uuid.UUID
