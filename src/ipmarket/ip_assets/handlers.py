"""IP assets' answers to other modules' in-transaction hooks."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import UserTotalsWanted
from ipmarket.ip_assets.models import IPAsset
from ipmarket.kit.hooks import on


@on(UserTotalsWanted)
async def count_ip_assets(session: AsyncSession, totals: UserTotalsWanted) -> None:
    """Each user's IP assets, deleted ones aside."""
    rows = await session.execute(
        select(IPAsset.creator_id, func.count())
        .where(IPAsset.creator_id.in_(totals.user_ids), IPAsset.deleted_at.is_(None))
        .group_by(IPAsset.creator_id)
    )
    totals.ips.update({creator_id: int(count) for creator_id, count in rows.all()})
