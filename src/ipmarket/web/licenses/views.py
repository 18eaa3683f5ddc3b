"""What the license pages show, copied out of the ORM rows while the transaction is open (an
error page may be drawn after a rollback, when the rows can no longer be read)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ipmarket.ip_assets import IPAsset
from ipmarket.kit.money import from_minor
from ipmarket.licensing import LicenseApplication, LicenseStatus
from ipmarket.web.licenses.words import TermsView


@dataclass(frozen=True)
class AssetView:
    id: uuid.UUID
    title: str
    description: str
    category: str
    content_type: str
    verification_status: str
    status: str
    parent_license_id: uuid.UUID | None
    created_at: datetime

    @classmethod
    def of(cls, asset: IPAsset) -> AssetView:
        return cls(
            id=asset.id,
            title=asset.title,
            description=asset.description,
            category=asset.category,
            content_type=asset.content_type,
            verification_status=asset.verification_status,
            status=asset.status,
            parent_license_id=asset.parent_license_id,
            created_at=asset.created_at,
        )


@dataclass(frozen=True)
class ApplicationView:
    """An application the visitor made; once approved, the license they hold."""

    id: uuid.UUID
    ip_asset_id: uuid.UUID
    asset_title: str
    status: str
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None
    expires_at: datetime | None
    rejection_reason: str | None
    revoked_at: datetime | None
    revocation_reason: str | None
    max_base_fee: Decimal | None
    max_share: Decimal | None
    fee: Decimal
    fee_status: str
    terms: TermsView | None
    # Approved, but its expiry has passed (the expiry job marks it expired soon).
    lapsed: bool

    @property
    def shown_status(self) -> str:
        return LicenseStatus.EXPIRED.value if self.lapsed else self.status

    @property
    def is_pending(self) -> bool:
        return self.status == LicenseStatus.PENDING

    @property
    def authorises(self) -> bool:
        return self.status == LicenseStatus.APPROVED and not self.lapsed

    @classmethod
    def of(
        cls,
        application: LicenseApplication,
        *,
        asset_title: str,
        terms: TermsView | None,
        now: datetime,
    ) -> ApplicationView:
        granted = (
            TermsView.of_snapshot(application.terms_snapshot)
            if application.terms_snapshot
            else terms
        )
        return cls(
            id=application.id,
            ip_asset_id=application.ip_asset_id,
            asset_title=asset_title,
            status=application.status,
            created_at=application.created_at,
            updated_at=application.updated_at,
            approved_at=application.approved_at,
            expires_at=application.expires_at,
            rejection_reason=application.rejection_reason,
            revoked_at=application.revoked_at,
            revocation_reason=application.revocation_reason,
            max_base_fee=from_minor(application.max_base_fee_minor)
            if application.max_base_fee_minor is not None
            else None,
            max_share=application.max_revenue_share_percentage,
            fee=from_minor(application.fee_minor),
            fee_status=application.fee_status,
            terms=granted,
            lapsed=application.status == LicenseStatus.APPROVED
            and application.expires_at is not None
            and application.expires_at <= now,
        )
