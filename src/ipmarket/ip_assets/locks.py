"""Every row lock the IP assets module takes (order and kind: `ipmarket.kit.locks`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.ip_assets.models import AssetStatus, IPAsset
from ipmarket.kit.locks import for_no_key_update


async def lock_asset(session: AsyncSession, asset_id: uuid.UUID) -> IPAsset | None:
    """The asset, held until the transaction ends: its edits, reviews, terms and license
    decisions happen one at a time."""
    stmt = for_no_key_update(select(IPAsset).where(IPAsset.id == asset_id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_derived_from(
    session: AsyncSession, license_ids: Sequence[uuid.UUID]
) -> list[IPAsset]:
    """Live derivative assets made under any of `license_ids`, in primary-key order."""
    if not license_ids:
        return []
    stmt = for_no_key_update(
        select(IPAsset)
        .where(
            IPAsset.parent_license_id.in_(set(license_ids)),
            IPAsset.status != AssetStatus.DELETED,
        )
        .order_by(IPAsset.id)
    )
    return list((await session.execute(stmt)).scalars())
