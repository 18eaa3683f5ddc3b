"""Events the licensing module publishes, and the in-transaction hook it dispatches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar

from ipmarket.eventbus import EventPayload, EventType


class LicenseApplied(EventPayload):
    event_type: ClassVar[EventType] = EventType.LICENSE_APPLIED
    license_id: uuid.UUID
    ip_asset_id: uuid.UUID
    applicant_id: uuid.UUID
    licensor_id: uuid.UUID
    license_terms_id: uuid.UUID


class LicenseApproved(EventPayload):
    event_type: ClassVar[EventType] = EventType.LICENSE_APPROVED
    license_id: uuid.UUID
    ip_asset_id: uuid.UUID
    applicant_id: uuid.UUID
    licensor_id: uuid.UUID
    approved_by: uuid.UUID | None
    expires_at: str | None
    # For the transparency log (absent from events published before they existed):
    # sha256 hex of the canonical JSON of the terms snapshot, and the license the asset
    # itself derives under (None for an original work).
    terms_hash: str | None = None
    parent_license_id: uuid.UUID | None = None


class LicenseRejected(EventPayload):
    event_type: ClassVar[EventType] = EventType.LICENSE_REJECTED
    license_id: uuid.UUID
    applicant_id: uuid.UUID
    rejected_by: uuid.UUID
    reason: str


class LicenseRevoked(EventPayload):
    event_type: ClassVar[EventType] = EventType.LICENSE_REVOKED
    license_id: uuid.UUID
    applicant_id: uuid.UUID
    revoked_by: uuid.UUID
    reason: str


class AuthorizationRevoked(EventPayload):
    """Licenses stopped authorising (revoked or expired, with everything below them)."""

    event_type: ClassVar[EventType] = EventType.AUTHORIZATION_REVOKED
    license_ids: list[uuid.UUID]
    derivative_asset_ids: list[uuid.UUID]
    cause: str  # revoked | expired
    root_license_id: uuid.UUID


@dataclass(frozen=True)
class AuthorizationWithdrawn:
    """In-transaction hook: these licenses authorise nothing from now on (products react)."""

    license_ids: frozenset[uuid.UUID]
    reason: str
