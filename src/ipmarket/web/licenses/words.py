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
from ipmarket.licensing.terms import WORLDWIDE, parse_duration

_TYPES = {
    "standard": "Standard license — not exclusive: others may license the same work too.",
    "premium": "Premium license — not exclusive, with the extra rights its requirements name.",
    "exclusive": (
        "Exclusive license — while it lasts, nobody else may hold a license of this work "
        "for the same territory."
    ),
}


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def duration_words(duration: str) -> str:
    """'PERPETUAL' → 'never expires'; 'P1Y6M' → '1 year and 6 months from approval'."""
    try:
        parsed = parse_duration(duration)
    except ValueError:
        return duration
    if parsed.perpetual:
        return "never expires"
    parts = [
        _plural(n, unit)
        for n, unit in ((parsed.years, "year"), (parsed.months, "month"), (parsed.days, "day"))
        if n
    ]
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{text} from approval"


def territory_words(territory: str) -> str:
    if territory == WORLDWIDE:
        return "worldwide"
    codes = [c for c in territory.split(",") if c]
    return "only in " + ", ".join(codes)


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
            type_words=_TYPES.get(terms.license_type, terms.license_type),
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
            type_words=_TYPES.get(license_type, license_type),
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
