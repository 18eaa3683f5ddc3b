"""License terms in plain words, for people deciding whether to apply and for the licenses
they hold: what kind of license, what it costs, where and how long it holds.

`TermsView` is a plain copy (no ORM row), made from the current terms or from the snapshot
a license keeps of the terms it was granted under, so an error page drawn after a rollback
can still show it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ipmarket.kit.money import from_minor
from ipmarket.licensing import LicenseTerms
from ipmarket.web.terms_words import duration_words, territory_words, type_words


@dataclass(frozen=True)
class TermsView:
    id: uuid.UUID | None
    version: int | None
    license_type: str
    type_words: str
    share: Decimal
    fee: Decimal
    currency: str
    territory: str
    territory_words: str
    duration: str
    duration_words: str
    derivatives_allowed: bool
    requirements: str
    restrictions: str
    auto_approve: bool

    @property
    def has_fee(self) -> bool:
        return self.fee > 0

    @classmethod
    def of(cls, terms: LicenseTerms) -> TermsView:
        return cls(
            id=terms.id,
            version=terms.version,
            license_type=terms.license_type,
            type_words=type_words(terms.license_type),
            share=Decimal(terms.revenue_share_percentage).quantize(Decimal("0.01")),
            fee=from_minor(terms.base_fee_minor),
            currency=terms.currency,
            territory=terms.territory,
            territory_words=territory_words(terms.territory),
            duration=terms.duration,
            duration_words=duration_words(terms.duration),
            derivatives_allowed=terms.derivatives_allowed,
            requirements=terms.requirements,
            restrictions=terms.restrictions,
            auto_approve=terms.auto_approve,
        )

    @classmethod
    def of_snapshot(cls, snapshot: dict[str, Any]) -> TermsView:
        """The terms a license was granted under (`termsSnapshot`, kept at approval)."""
        license_type = str(snapshot.get("licenseType", ""))
        territory = str(snapshot.get("territory", ""))
        duration = str(snapshot.get("duration", ""))
        terms_id = snapshot.get("termsId")
        version = snapshot.get("version")
        return cls(
            id=uuid.UUID(str(terms_id)) if terms_id else None,
            version=int(version) if version is not None else None,
            license_type=license_type,
            type_words=type_words(license_type),
            share=Decimal(str(snapshot.get("revenueSharePercentage", "0"))).quantize(
                Decimal("0.01")
            ),
            fee=Decimal(str(snapshot.get("baseFee", "0"))),
            currency=str(snapshot.get("currency", "USD")),
            territory=territory,
            territory_words=territory_words(territory),
            duration=duration,
            duration_words=duration_words(duration),
            derivatives_allowed=bool(snapshot.get("derivativesAllowed", True)),
            requirements=str(snapshot.get("requirements", "")),
            restrictions=str(snapshot.get("restrictions", "")),
            auto_approve=False,
        )
