"""Every row lock the licensing module takes (order and kind: `ipmarket.kit.locks`).

A decision locks the application first, then its asset (`ipmarket.ip_assets.lock_asset`);
publishing, editing or applying for terms locks the asset first, then the terms. Making
something under a license (a product, a derivative asset) holds every license of its chain
`FOR SHARE` before anything else, so that a revocation or an expiry of one of them comes
wholly before or wholly after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.locks import for_no_key_update, for_share
from ipmarket.licensing.models import FeeStatus, LicenseApplication, LicenseStatus, LicenseTerms
from ipmarket.licensing.repository import ChainLink, LicenseRepository


async def lock_terms(session: AsyncSession, terms_id: uuid.UUID) -> LicenseTerms | None:
    stmt = for_no_key_update(select(LicenseTerms).where(LicenseTerms.id == terms_id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_application(
    session: AsyncSession, license_id: uuid.UUID
) -> LicenseApplication | None:
    stmt = for_no_key_update(select(LicenseApplication).where(LicenseApplication.id == license_id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def share_licenses(session: AsyncSession, license_ids: Collection[uuid.UUID]) -> None:
    """Hold these licenses, in primary-key order, against a change of their status until
    the transaction ends (a revocation or an expiry waits; come first, it is seen)."""
    if not license_ids:
        return
    await session.execute(
        for_share(
            select(LicenseApplication.id)
            .where(LicenseApplication.id.in_(set(license_ids)))
            .order_by(LicenseApplication.id)
        )
    )


async def held_chain(session: AsyncSession, license_id: uuid.UUID) -> list[ChainLink]:
    """The chain of `license_id` (`LicenseRepository.chain`) with each of its licenses held
    `FOR SHARE`: what is made under it now cannot miss a revocation or expiry of one of them,
    which either waits for this transaction (and then finds what it made) or, having come
    first, is what the chain shows. Take it before any other lock (`ipmarket.kit.locks`)."""
    licenses = LicenseRepository(session)
    chain = await licenses.chain(license_id)
    await share_licenses(session, [link.license_id for link in chain])
    # Read again: a revocation this waited for changed what the first read saw.
    return await licenses.chain(license_id)


async def lock_due_to_expire(
    session: AsyncSession, now: datetime, *, limit: int
) -> list[LicenseApplication]:
    """Approved licenses past their expiry, in primary-key order; rows a request holds are
    skipped (the next run takes them)."""
    stmt = for_no_key_update(
        select(LicenseApplication)
        .where(
            LicenseApplication.status == LicenseStatus.APPROVED,
            LicenseApplication.expires_at.is_not(None),
            LicenseApplication.expires_at <= now,
        )
        .order_by(LicenseApplication.id)
        .limit(limit),
        skip_locked=True,
    )
    return list((await session.execute(stmt)).scalars())


async def lock_lapsing_fee_holds(
    session: AsyncSession, held_since: datetime, *, limit: int
) -> list[LicenseApplication]:
    """Pending applications whose fee has been authorised since `held_since` or longer, the
    oldest first; rows a request holds are skipped (it is deciding on them)."""
    stmt = for_no_key_update(
        select(LicenseApplication)
        .where(
            LicenseApplication.status == LicenseStatus.PENDING,
            LicenseApplication.fee_status == FeeStatus.AUTHORIZED,
            LicenseApplication.created_at <= held_since,
        )
        .order_by(LicenseApplication.created_at, LicenseApplication.id)
        .limit(limit),
        skip_locked=True,
    )
    return list((await session.execute(stmt)).scalars())
