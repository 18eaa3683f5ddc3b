"""All SQL of the IP assets module."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.ip_assets.models import AssetStatus, IPAsset, VerificationStatus


@dataclass(frozen=True)
class AssetFilters:
    q: str | None = None
    category: str | None = None
    content_type: str | None = None
    creator_id: uuid.UUID | None = None
    mine_of: uuid.UUID | None = None  # the owner's own assets, in any state


class IPAssetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, asset: IPAsset) -> IPAsset:
        self.session.add(asset)
        await self.session.flush()
        return asset

    async def get(self, asset_id: uuid.UUID) -> IPAsset | None:
        """The asset, unlocked (to lock it: `ipmarket.ip_assets.locks.lock_asset`)."""
        stmt = select(IPAsset).where(IPAsset.id == asset_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, IPAsset]:
        if not ids:
            return {}
        rows = await self.session.execute(select(IPAsset).where(IPAsset.id.in_(set(ids))))
        return {a.id: a for a in rows.scalars()}

    def _filtered(self, filters: AssetFilters) -> tuple[Select[Any], ColumnElement[float] | None]:
        conditions: list[ColumnElement[bool]] = []
        rank: ColumnElement[float] | None = None
        if filters.mine_of is not None:
            conditions.append(IPAsset.creator_id == filters.mine_of)
            conditions.append(IPAsset.status != AssetStatus.DELETED)
        else:
            conditions.append(IPAsset.status == AssetStatus.ACTIVE)
            conditions.append(IPAsset.verification_status == VerificationStatus.APPROVED)
        if filters.category:
            conditions.append(IPAsset.category == filters.category)
        if filters.content_type:
            conditions.append(IPAsset.content_type == filters.content_type)
        if filters.creator_id:
            conditions.append(IPAsset.creator_id == filters.creator_id)
        if filters.q:
            query = func.websearch_to_tsquery("english", filters.q)
            conditions.append(
                or_(IPAsset.search_vector.op("@@")(query), IPAsset.title.op("%>")(filters.q))
            )
            rank = func.ts_rank(IPAsset.search_vector, query) + func.word_similarity(
                filters.q, IPAsset.title
            )
        return select(IPAsset).where(and_(*conditions)), rank

    async def licensable_counts(
        self, facet: Literal["category", "content_type"], *, limit: int
    ) -> list[tuple[str, int]]:
        """The categories (or content types) of assets open for licensing, with how many
        each has, most first (one query)."""
        column = IPAsset.category if facet == "category" else IPAsset.content_type
        count = func.count().label("assets")
        rows = await self.session.execute(
            select(column, count)
            .where(
                IPAsset.status == AssetStatus.ACTIVE,
                IPAsset.verification_status == VerificationStatus.APPROVED,
            )
            .group_by(column)
            .order_by(count.desc(), column)
            .limit(limit)
        )
        return [(str(value), int(n)) for value, n in rows.all()]

    async def search(
        self, filters: AssetFilters, *, sort: str, offset: int, limit: int
    ) -> tuple[list[IPAsset], int]:
        stmt, rank = self._filtered(filters)
        total = (
            await self.session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        order: list[ColumnElement[Any]]
        if sort == "relevance" and rank is not None:
            order = [rank.desc(), IPAsset.created_at.desc()]
        elif sort == "oldest":
            order = [IPAsset.created_at.asc()]
        elif sort == "title":
            order = [IPAsset.title.asc()]
        else:
            order = [IPAsset.created_at.desc()]
        rows = await self.session.execute(
            stmt.order_by(*order, IPAsset.id).offset(offset).limit(limit)
        )
        return list(rows.scalars()), int(total)

    async def review_queue(self, *, offset: int, limit: int) -> tuple[list[IPAsset], int]:
        where = and_(
            IPAsset.verification_status == VerificationStatus.PENDING,
            IPAsset.submitted_at.is_not(None),
            IPAsset.status == AssetStatus.ACTIVE,
        )
        total = (
            await self.session.execute(select(func.count()).select_from(IPAsset).where(where))
        ).scalar_one()
        rows = await self.session.execute(
            select(IPAsset)
            .where(where)
            .order_by(IPAsset.submitted_at, IPAsset.id)
            .offset(offset)
            .limit(limit)
        )
        return list(rows.scalars()), int(total)

    async def suspend(self, asset_ids: Sequence[uuid.UUID], *, reason: str, now: datetime) -> None:
        if asset_ids:
            await self.session.execute(
                update(IPAsset)
                .where(IPAsset.id.in_(set(asset_ids)), IPAsset.status == AssetStatus.ACTIVE)
                .values(status=AssetStatus.SUSPENDED.value, status_reason=reason, updated_at=now)
            )


async def set_blockchain_hash(session: AsyncSession, asset_id: uuid.UUID, tx_hash: str) -> None:
    """The transaction that recorded the asset's root authorization on chain. A plain column
    update: it is no edit of the asset (no review, no `updated_at`)."""
    await session.execute(
        update(IPAsset)
        .where(IPAsset.id == asset_id)
        .values(blockchain_hash=tx_hash)
        .execution_options(synchronize_session=False)
    )
