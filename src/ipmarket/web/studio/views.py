"""What the studio pages show, copied out of the ORM rows while the transaction is open: a
refused form is drawn again after the rollback, when the rows can no longer be read."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ipmarket.config import Settings
from ipmarket.files import FILES_PATH, signed_url
from ipmarket.ip_assets import IPAsset
from ipmarket.kit.clock import utcnow
from ipmarket.kit.money import from_minor
from ipmarket.licensing import LicenseApplication, LicenseStatus, LicenseTerms
from ipmarket.web.terms_words import duration_words, territory_words, type_words


def file_path(file_id: uuid.UUID) -> str:
    """The form in which the IP assets service accepts one of our files (as a path)."""
    return f"{FILES_PATH}/{file_id}"


def review_of(asset: IPAsset) -> str:
    """Where the asset stands in review: draft (never submitted), pending review, approved
    or rejected."""
    if asset.verification_status == "pending":
        return "pending_review" if asset.submitted_at is not None else "draft"
    return asset.verification_status


@dataclass(frozen=True)
class FileLink:
    id: uuid.UUID
    label: str
    url: str


@dataclass(frozen=True)
class AssetView:
    id: uuid.UUID
    title: str
    description: str
    category: str
    content_type: str
    review: str
    status: str
    status_reason: str | None
    rejection_reason: str | None
    submitted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    parent_license_id: uuid.UUID | None
    files: tuple[FileLink, ...]
    pending_applications: int = 0

    @property
    def submittable(self) -> bool:
        return self.status == "active" and self.review in ("draft", "rejected")

    @classmethod
    def of(cls, asset: IPAsset, settings: Settings, *, pending_applications: int = 0) -> AssetView:
        now = utcnow()
        files = tuple(
            FileLink(id=f, label=f"File {n}", url=signed_url(f, settings=settings, now=now))
            for n, f in enumerate(asset.file_ids, start=1)
        )
        return cls(
            id=asset.id,
            title=asset.title,
            description=asset.description,
            category=asset.category,
            content_type=asset.content_type,
            review=review_of(asset),
            status=asset.status,
            status_reason=asset.status_reason,
            rejection_reason=asset.rejection_reason,
            submitted_at=asset.submitted_at,
            created_at=asset.created_at,
            updated_at=asset.updated_at,
            parent_license_id=asset.parent_license_id,
            files=files,
            pending_applications=pending_applications,
        )

    def form(self) -> dict[str, Any]:
        """The edit form's boxes as the asset is now."""
        return {
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "contentType": self.content_type,
            "keepFiles": [str(f.id) for f in self.files],
        }


@dataclass(frozen=True)
class TermsView:
    """License terms in plain words: current ones, retired versions, or the snapshot a
    license keeps of the terms it was granted under."""

    id: uuid.UUID | None
    version: int
    lineage_id: uuid.UUID | None
    is_current: bool
    license_type: str
    share: Decimal
    fee: Decimal
    currency: str
    territory: str
    duration: str
    requirements: str
    restrictions: str
    auto_approve: bool
    derivatives_allowed: bool
    created_at: datetime | None

    @property
    def type_words(self) -> str:
        return type_words(self.license_type)

    @property
    def territory_words(self) -> str:
        return territory_words(self.territory)

    @property
    def duration_words(self) -> str:
        return duration_words(self.duration)

    @classmethod
    def of(cls, terms: LicenseTerms) -> TermsView:
        return cls(
            id=terms.id,
            version=terms.version,
            lineage_id=terms.lineage_id,
            is_current=terms.is_current,
            license_type=terms.license_type,
            share=Decimal(terms.revenue_share_percentage),
            fee=from_minor(terms.base_fee_minor),
            currency=terms.currency,
            territory=terms.territory,
            duration=terms.duration,
            requirements=terms.requirements,
            restrictions=terms.restrictions,
            auto_approve=terms.auto_approve,
            derivatives_allowed=terms.derivatives_allowed,
            created_at=terms.created_at,
        )

    @classmethod
    def of_snapshot(cls, snapshot: Mapping[str, Any]) -> TermsView:
        """The terms a license was granted under (`terms_snapshot`, in the API's names)."""
        terms_id = snapshot.get("termsId")
        return cls(
            id=uuid.UUID(terms_id) if terms_id else None,
            version=int(snapshot.get("version", 1)),
            lineage_id=None,
            is_current=False,
            license_type=str(snapshot.get("licenseType", "")),
            share=Decimal(str(snapshot.get("revenueSharePercentage", "0"))),
            fee=Decimal(str(snapshot.get("baseFee", "0"))),
            currency=str(snapshot.get("currency", "USD")),
            territory=str(snapshot.get("territory", "")),
            duration=str(snapshot.get("duration", "")),
            requirements=str(snapshot.get("requirements", "")),
            restrictions=str(snapshot.get("restrictions", "")),
            auto_approve=False,
            derivatives_allowed=bool(snapshot.get("derivativesAllowed", True)),
            created_at=None,
        )

    def form(self) -> dict[str, Any]:
        """The edit form's boxes as the terms are now."""
        values: dict[str, Any] = {
            "licenseType": self.license_type,
            "revenueSharePercentage": f"{self.share:.2f}",
            "baseFee": f"{self.fee:.2f}",
            "territory": self.territory,
            "duration": self.duration,
            "requirements": self.requirements,
            "restrictions": self.restrictions,
        }
        if self.auto_approve:
            values["autoApprove"] = "true"
        if self.derivatives_allowed:
            values["derivativesAllowed"] = "true"
        return values


@dataclass(frozen=True)
class ApplicationView:
    """An application made to the visitor; once approved, a license they granted."""

    id: uuid.UUID
    ip_asset_id: uuid.UUID
    asset_title: str
    applicant: str
    status: str
    details: tuple[tuple[str, str], ...]
    max_base_fee: Decimal | None
    max_share: Decimal | None
    fee: Decimal
    fee_status: str
    terms: TermsView | None
    created_at: datetime
    approved_at: datetime | None
    expires_at: datetime | None
    rejection_reason: str | None
    revoked_at: datetime | None
    revocation_reason: str | None

    @property
    def shown_status(self) -> str:
        """An approved license past its expiry is expired, whether or not the expiry job
        has marked it yet."""
        if (
            self.status == LicenseStatus.APPROVED
            and self.expires_at is not None
            and self.expires_at <= utcnow()
        ):
            return LicenseStatus.EXPIRED.value
        return self.status

    @classmethod
    def of(
        cls,
        application: LicenseApplication,
        *,
        asset_title: str,
        applicant: str,
        terms: LicenseTerms | None,
    ) -> ApplicationView:
        data = application.application_data or {}
        details = tuple(
            (str(key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for key, value in data.items()
        )
        shown_terms = (
            TermsView.of_snapshot(application.terms_snapshot)
            if application.terms_snapshot
            else (TermsView.of(terms) if terms is not None else None)
        )
        return cls(
            id=application.id,
            ip_asset_id=application.ip_asset_id,
            asset_title=asset_title,
            applicant=applicant,
            status=application.status,
            details=details,
            max_base_fee=from_minor(application.max_base_fee_minor)
            if application.max_base_fee_minor is not None
            else None,
            max_share=application.max_revenue_share_percentage,
            fee=from_minor(application.fee_minor),
            fee_status=application.fee_status,
            terms=shown_terms,
            created_at=application.created_at,
            approved_at=application.approved_at,
            expires_at=application.expires_at,
            rejection_reason=application.rejection_reason,
            revoked_at=application.revoked_at,
            revocation_reason=application.revocation_reason,
        )
