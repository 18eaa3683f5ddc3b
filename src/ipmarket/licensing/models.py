"""License applications; an approved application is a license."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Base, IdMixin, TimestampMixin


class LicenseType(StrEnum):
    STANDARD = "standard"
    PREMIUM = "premium"
    EXCLUSIVE = "exclusive"


class LicenseStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"


class FeeStatus(StrEnum):
    """Where a license's base fee stands with the payment provider."""

    NONE = "none"  # no fee
    AUTHORIZED = "authorized"  # held on the applicant's card
    CAPTURED = "captured"  # taken on approval
    RELEASED = "released"  # let go on rejection, withdrawal or when the hold lapsed
    FAILED = "failed"


class LicenseApplication(IdMixin, TimestampMixin, Base):
    __tablename__ = "license_applications"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'revoked', 'expired')", name="status"
        ),
        Index("idx_license_applications_asset_status", "ip_asset_id", "status"),
        Index("idx_license_applications_applicant", "applicant_id", "status"),
        Index("idx_license_applications_licensor", "licensor_id", "status"),
        Index(
            "idx_license_applications_authorising",
            "id",
            postgresql_include=["expires_at"],
            postgresql_where="status = 'approved'",
        ),
        Index(
            "idx_license_applications_expiring",
            "expires_at",
            postgresql_where="status = 'approved' AND expires_at IS NOT NULL",
        ),
        # One pending application per terms and applicant.
        Index(
            "uq_license_applications_pending",
            "license_terms_id",
            "applicant_id",
            unique=True,
            postgresql_where="status = 'pending'",
        ),
    )

    ip_asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ip_assets.id"))
    applicant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    # The asset's owner when the application was made.
    licensor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    license_terms_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("license_terms.id"))
    application_data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    max_base_fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    max_revenue_share_percentage: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    status: Mapped[str] = mapped_column(String(20), default=LicenseStatus.PENDING.value)
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    # The base fee: authorised with the provider on apply, captured on approval, released
    # on rejection or withdrawal (fee_status: none | authorized | captured | released | failed).
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    fee_status: Mapped[str] = mapped_column(String(20), default="none", server_default="none")
    payment_method: Mapped[str | None] = mapped_column(String(50))
    payment_reference: Mapped[str | None] = mapped_column(String(255))
    # The terms as they were at approval: what the license grants from then on.
    terms_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class LicenseTerms(IdMixin, Base):
    """Terms an asset's owner offers. Immutable once an application references them:
    a change then makes a new version and retires the old one."""

    __tablename__ = "license_terms"
    __table_args__ = (
        CheckConstraint(
            "license_type IN ('standard', 'premium', 'exclusive')", name="license_type"
        ),
        CheckConstraint(
            "revenue_share_percentage >= 0 AND revenue_share_percentage <= 100", name="share"
        ),
        CheckConstraint("base_fee_minor >= 0", name="base_fee"),
        Index("idx_license_terms_asset", "ip_asset_id", "is_current"),
    )

    ip_asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ip_assets.id"))
    license_type: Mapped[str] = mapped_column(String(20))
    revenue_share_percentage: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    base_fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # "WORLDWIDE" or ISO 3166-1 alpha-2 codes joined by commas, sorted.
    territory: Mapped[str] = mapped_column(String(1000))
    # An ISO 8601 duration (P1Y, P6M, P90D) or PERPETUAL.
    duration: Mapped[str] = mapped_column(String(50))
    requirements: Mapped[str] = mapped_column(Text, default="")
    restrictions: Mapped[str] = mapped_column(Text, default="")
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False)
    derivatives_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The first version's id: every version of the same terms shares it.
    lineage_id: Mapped[uuid.UUID]
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
