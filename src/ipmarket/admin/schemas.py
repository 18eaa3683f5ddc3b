"""Admin read models (seed AdminUser, AdminIPAsset, AdminLicense)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from ipmarket.kit.schemas import ReadSchema


class AdminIPAssetRead(ReadSchema):
    id: uuid.UUID
    title: str
    creator: str
    creator_id: uuid.UUID
    category: str
    status: str
    verification_status: str
    revenue: float
    licenses: int
    created_at: datetime
    submitted_at: datetime | None
    parent_license_id: uuid.UUID | None
    flagged_reasons: list[str] | None = None


class AdminLicenseRead(ReadSchema):
    id: uuid.UUID
    ip_title: str
    ip_asset_id: uuid.UUID
    licensee: str
    licensor: str
    status: str
    license_type: str
    share_rate: float
    revenue: float
    products: int
    created_at: datetime
    territory: str
    duration: str


class AdminUserRead(ReadSchema):
    """Seed `AdminUser`."""

    id: uuid.UUID
    username: str
    email: str
    user_type: str
    status: str
    verification_level: str
    join_date: datetime
    last_active: datetime | None
    total_revenue: float
    total_ips: int = Field(serialization_alias="totalIPs")
    total_products: int
    profile_data: dict[str, Any]
    email_verified: bool
    status_reason: str | None = None
