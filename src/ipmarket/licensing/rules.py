"""Licensing rules over a license's chain: validity, exclusivity and the 100% cap."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from ipmarket.ip_assets import AssetStatus, VerificationStatus
from ipmarket.licensing.models import LicenseStatus, LicenseType
from ipmarket.licensing.repository import ChainLink
from ipmarket.licensing.terms import parse_territory

HUNDRED = Decimal(100)


def link_problems(link: ChainLink, now: datetime) -> list[str]:
    """Why this link authorises nothing; empty when it is sound."""
    problems: list[str] = []
    name = f"license {link.license_id}"
    if (
        link.status == LicenseStatus.APPROVED
        and link.expires_at is not None
        and link.expires_at <= now
    ):
        problems.append(f"{name} expired at {link.expires_at.isoformat()}")
    elif link.status != LicenseStatus.APPROVED:
        problems.append(f"{name} is {link.status}")
    if link.asset_status != AssetStatus.ACTIVE:
        problems.append(f"IP asset {link.ip_asset_id} is {link.asset_status}")
    elif link.asset_verification_status != VerificationStatus.APPROVED:
        problems.append(f"IP asset {link.ip_asset_id} is not approved")
    return problems


def chain_problems(chain: Iterable[ChainLink], now: datetime) -> list[str]:
    return [p for link in chain for p in link_problems(link, now)]


def chain_share(chain: Iterable[ChainLink]) -> Decimal:
    return sum((link.revenue_share for link in chain), Decimal(0))


def cap_problem(platform_fee: Decimal, shares: Decimal) -> str | None:
    """The platform fee plus every licensor's share along a chain may not exceed 100%."""
    total = platform_fee + shares
    if total > HUNDRED:
        return (
            f"platform fee {platform_fee}% plus revenue shares {shares}% along the chain "
            f"come to {total}%, over 100%"
        )
    return None


def exclusivity_problem(
    new_type: str, new_territory: str, live: Iterable[tuple[str, str]]
) -> str | None:
    """`live` holds (license type, territory) of the asset's approved, unexpired licenses."""
    territory = parse_territory(new_territory)
    for license_type, other in live:
        if not territory.overlaps(parse_territory(other)):
            continue
        if new_type == LicenseType.EXCLUSIVE:
            return f"an approved license already covers {other}, which overlaps {new_territory}"
        if license_type == LicenseType.EXCLUSIVE:
            return f"an exclusive license covers {other}, which overlaps {new_territory}"
    return None
