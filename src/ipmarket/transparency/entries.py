"""From an event to its log entry: the entry object (common format `v` 1), its canonical
bytes, and the subjects it is about. Built from the outbox row alone (type, id, time,
payload), so whichever delivery appends it, the entry is the same bytes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ipmarket.eventbus import EventType
from ipmarket.transparency.canonical import canonical_json, rfc3339

ENTRY_VERSION = 1

# The events the log records, each one entry kind of the same name.
LOGGED_EVENTS: frozenset[EventType] = frozenset(
    {
        EventType.IP_ASSET_APPROVED,
        EventType.LICENSE_APPROVED,
        EventType.PRODUCT_PUBLISHED,
        EventType.AUTHORIZATION_REVOKED,
        EventType.IP_ASSET_SUSPENDED,
    }
)


@dataclass(frozen=True)
class NewEntry:
    event_id: uuid.UUID
    kind: str
    entry: dict[str, Any]
    data: bytes  # canonical JSON of `entry`
    subjects: list[str]


def _id(value: Any) -> str | None:
    return None if value is None else str(uuid.UUID(str(value)))


def _ids(values: Any) -> list[str]:
    return sorted(str(uuid.UUID(str(v))) for v in values)


def _timestamp(value: Any) -> str | None:
    if value is None:
        return None
    return rfc3339(datetime.fromisoformat(str(value)))


def _fields(event_type: EventType, p: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The kind's fields (common.md) and the subjects, from an event payload."""
    if event_type == EventType.IP_ASSET_APPROVED:
        asset = _id(p["ip_asset_id"])
        return (
            {"ipAssetId": asset, "ownerId": _id(p["creator_id"]), "contentHash": p["content_hash"]},
            [f"ip_asset:{asset}"],
        )
    if event_type == EventType.LICENSE_APPROVED:
        license_id, asset = _id(p["license_id"]), _id(p["ip_asset_id"])
        parent = _id(p.get("parent_license_id"))
        subjects = [f"license:{license_id}", f"ip_asset:{asset}"]
        return (
            {
                "licenseId": license_id,
                "ipAssetId": asset,
                "licensorId": _id(p["licensor_id"]),
                "licenseeId": _id(p["applicant_id"]),
                "termsHash": p.get("terms_hash"),
                "parentLicenseId": parent,
                "expiresAt": _timestamp(p.get("expires_at")),
            },
            subjects + ([f"license:{parent}"] if parent else []),
        )
    if event_type == EventType.PRODUCT_PUBLISHED:
        product, record = _id(p["product_id"]), _id(p["chain_record_id"])
        license_id, asset = _id(p["license_id"]), _id(p["ip_asset_id"])
        return (
            {
                "productId": product,
                "chainRecordId": record,
                "licenseId": license_id,
                "ipAssetId": asset,
                "verificationCodeHash": p["verification_code_hash"],
            },
            [f"product:{product}", f"chain_record:{record}", f"license:{license_id}"],
        )
    if event_type == EventType.AUTHORIZATION_REVOKED:
        licenses = _ids(p["license_ids"])
        return (
            {
                "licenseIds": licenses,
                "cause": p["cause"],
                "rootLicenseId": _id(p["root_license_id"]),
            },
            [f"license:{lic}" for lic in licenses],
        )
    if event_type == EventType.IP_ASSET_SUSPENDED:
        assets = _ids(p["ip_asset_ids"])
        return (
            {"ipAssetIds": assets, "reason": p["reason"]},
            [f"ip_asset:{a}" for a in assets],
        )
    raise ValueError(f"{event_type} is not a logged event")


def entry_of(
    event_type: str, event_id: uuid.UUID, occurred_at: datetime, payload: dict[str, Any]
) -> NewEntry:
    kind = EventType(event_type)
    fields, subjects = _fields(kind, payload)
    entry: dict[str, Any] = {
        **fields,
        "v": ENTRY_VERSION,
        "kind": kind.value,
        "eventId": str(event_id),
        "occurredAt": rfc3339(occurred_at),
    }
    return NewEntry(
        event_id=event_id,
        kind=kind.value,
        entry=entry,
        data=canonical_json(entry),
        subjects=sorted(set(subjects)),
    )
