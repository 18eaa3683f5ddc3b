"""Read-side queries other modules (and pages) may ask of licensing."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.licensing.models import LicenseApplication, LicenseStatus, LicenseTerms


async def pending_applications_per_asset(
    session: AsyncSession, asset_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many applications wait for a decision on each of `asset_ids` (one query; assets
    with none are absent)."""
    if not asset_ids:
        return {}
    rows = await session.execute(
        select(LicenseApplication.ip_asset_id, func.count())
        .where(
            LicenseApplication.ip_asset_id.in_(set(asset_ids)),
            LicenseApplication.status == LicenseStatus.PENDING,
        )
        .group_by(LicenseApplication.ip_asset_id)
    )
    return {asset_id: int(count) for asset_id, count in rows.all()}


async def terms_by_ids(
    session: AsyncSession, terms_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, LicenseTerms]:
    """The license terms among `terms_ids` that exist, by id (one query): the terms a page
    of applications was made under."""
    if not terms_ids:
        return {}
    rows = await session.execute(select(LicenseTerms).where(LicenseTerms.id.in_(set(terms_ids))))
    return {terms.id: terms for terms in rows.scalars()}
