"""License terms and license application API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from ipmarket.kit.money import Amount, Percentage
from ipmarket.kit.schemas import JsonObject, PatchSchema, ReadSchema, Schema
from ipmarket.licensing.terms import parse_duration, parse_territory

LongText = Annotated[str, StringConstraints(max_length=10_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


# --- license terms ---------------------------------------------------------------------


def _territory(value: str | list[str]) -> str:
    return str(parse_territory(value))


def _duration(value: str) -> str:
    return str(parse_duration(value))


Territory = Annotated[str | list[str], AfterValidator(_territory)]
DurationText = Annotated[str, StringConstraints(max_length=50), AfterValidator(_duration)]


class LicenseTermsCreate(Schema):
    license_type: Literal["standard", "premium", "exclusive"]
    revenue_share_percentage: Percentage
    base_fee: Amount = Decimal(0)
    territory: Territory
    duration: DurationText
    requirements: LongText = ""
    restrictions: LongText = ""
    auto_approve: bool = False
    derivatives_allowed: bool = True


class LicenseTermsUpdate(PatchSchema):
    license_type: Literal["standard", "premium", "exclusive"] | None = None
    revenue_share_percentage: Percentage | None = None
    base_fee: Amount | None = None
    territory: Territory | None = None
    duration: DurationText | None = None
    requirements: LongText | None = None
    restrictions: LongText | None = None
    auto_approve: bool | None = None
    derivatives_allowed: bool | None = None


class LicenseTermsRead(ReadSchema):
    """Seed `LicenseTerms`, plus versioning."""

    id: uuid.UUID
    ip_asset_id: uuid.UUID
    license_type: str
    revenue_share_percentage: Percentage
    base_fee: Amount
    currency: str
    territory: str
    duration: str
    requirements: str
    restrictions: str
    auto_approve: bool
    derivatives_allowed: bool
    version: int
    lineage_id: uuid.UUID
    is_current: bool
    created_at: datetime


# --- applications ----------------------------------------------------------------------


class ApplicationCreate(Schema):
    ip_asset_id: uuid.UUID
    license_terms_id: uuid.UUID
    application_data: JsonObject = Field(default_factory=dict)
    max_base_fee: Amount | None = None
    max_revenue_share_percentage: Percentage | None = None
    # Pays the terms' base fee (required when it is above zero; the request then needs an
    # Idempotency-Key): authorised now, captured on approval, released on rejection,
    # withdrawal or when the card hold lapses.
    payment_method: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,50}$")] | None = None


class DecisionReason(Schema):
    reason: Reason


class LicenseApplicationRead(ReadSchema):
    """A license application; once approved, the license itself."""

    id: uuid.UUID
    ip_asset_id: uuid.UUID
    applicant_id: uuid.UUID
    licensor_id: uuid.UUID
    license_terms_id: uuid.UUID
    application_data: dict[str, Any]
    max_base_fee: Amount | None
    max_revenue_share_percentage: Percentage | None
    status: str
    approved_at: datetime | None
    approved_by: uuid.UUID | None
    expires_at: datetime | None
    rejection_reason: str | None
    revoked_at: datetime | None
    revocation_reason: str | None
    terms: dict[str, Any] | None
    # The base fee: none | authorized | captured | released | failed.
    fee: Amount
    fee_status: str
    created_at: datetime
    updated_at: datetime


class LicenseCheckRead(ReadSchema):
    valid: bool
    status: str
    expires_at: datetime | None
    reasons: list[str]
