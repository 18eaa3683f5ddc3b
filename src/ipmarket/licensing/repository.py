"""All SQL of the licensing module."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ipmarket.ip_assets import IPAsset
from ipmarket.licensing.models import LicenseApplication, LicenseStatus, LicenseTerms


@dataclass(frozen=True)
class ChainLink:
    """One license on the way from a license up to an original asset."""

    depth: int
    license_id: uuid.UUID
    status: str
    expires_at: datetime | None
    revenue_share: Decimal
    license_type: str
    territory: str
    ip_asset_id: uuid.UUID
    asset_title: str
    asset_creator_id: uuid.UUID
    asset_status: str
    asset_verification_status: str
    parent_license_id: uuid.UUID | None


class TermsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, terms: LicenseTerms) -> LicenseTerms:
        self.session.add(terms)
        await self.session.flush()
        return terms

    async def get(self, terms_id: uuid.UUID) -> LicenseTerms | None:
        """The terms, unlocked (to lock them: `ipmarket.licensing.locks`)."""
        stmt = select(LicenseTerms).where(LicenseTerms.id == terms_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_asset(self, asset_id: uuid.UUID, *, current_only: bool) -> list[LicenseTerms]:
        stmt = select(LicenseTerms).where(LicenseTerms.ip_asset_id == asset_id)
        if current_only:
            stmt = stmt.where(LicenseTerms.is_current.is_(True))
        rows = await self.session.execute(
            stmt.order_by(LicenseTerms.created_at, LicenseTerms.version, LicenseTerms.id)
        )
        return list(rows.scalars())

    async def referenced(self, terms_id: uuid.UUID) -> bool:
        return bool(
            (
                await self.session.execute(
                    select(exists().where(LicenseApplication.license_terms_id == terms_id))
                )
            ).scalar()
        )


class LicenseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, application: LicenseApplication) -> LicenseApplication:
        self.session.add(application)
        await self.session.flush()
        return application

    async def get(self, license_id: uuid.UUID) -> LicenseApplication | None:
        """The application, unlocked (to lock it: `ipmarket.licensing.locks`)."""
        stmt = select(LicenseApplication).where(LicenseApplication.id == license_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def pending_exists(self, terms_id: uuid.UUID, applicant_id: uuid.UUID) -> bool:
        return bool(
            (
                await self.session.execute(
                    select(
                        exists().where(
                            LicenseApplication.license_terms_id == terms_id,
                            LicenseApplication.applicant_id == applicant_id,
                            LicenseApplication.status == LicenseStatus.PENDING,
                        )
                    )
                )
            ).scalar()
        )

    async def live_of_asset(
        self, asset_id: uuid.UUID, *, now: datetime
    ) -> list[LicenseApplication]:
        """Approved, unexpired licenses of an asset."""
        rows = await self.session.execute(
            select(LicenseApplication).where(
                LicenseApplication.ip_asset_id == asset_id,
                LicenseApplication.status == LicenseStatus.APPROVED,
                or_(LicenseApplication.expires_at.is_(None), LicenseApplication.expires_at > now),
            )
        )
        return list(rows.scalars())

    async def approved_exist(self, asset_id: uuid.UUID, *, now: datetime) -> bool:
        return bool(await self.live_of_asset(asset_id, now=now))

    async def approved_on_assets(self, asset_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        if not asset_ids:
            return []
        rows = await self.session.execute(
            select(LicenseApplication.id).where(
                LicenseApplication.ip_asset_id.in_(set(asset_ids)),
                LicenseApplication.status == LicenseStatus.APPROVED,
            )
        )
        return list(rows.scalars())

    async def chain(self, license_id: uuid.UUID) -> list[ChainLink]:
        """The license and every license above it, from this one (depth 0) to the root's.

        One recursive query: license → its asset → the license that asset derives from → …
        """
        la = aliased(LicenseApplication)
        asset = aliased(IPAsset)
        terms = aliased(LicenseTerms)
        share = func.coalesce(
            la.terms_snapshot["revenueSharePercentage"].astext.cast(
                terms.revenue_share_percentage.type
            ),
            terms.revenue_share_percentage,
        )
        base = (
            select(
                literal(0).label("depth"),
                la.id.label("license_id"),
                la.status,
                la.expires_at,
                share.label("revenue_share"),
                terms.license_type,
                terms.territory,
                asset.id.label("ip_asset_id"),
                asset.title.label("asset_title"),
                asset.creator_id.label("asset_creator_id"),
                asset.status.label("asset_status"),
                asset.verification_status.label("asset_verification_status"),
                asset.parent_license_id,
            )
            .join(asset, asset.id == la.ip_asset_id)
            .join(terms, terms.id == la.license_terms_id)
            .where(la.id == license_id)
            .cte("chain", recursive=True)
        )
        la2 = aliased(LicenseApplication)
        asset2 = aliased(IPAsset)
        terms2 = aliased(LicenseTerms)
        share2 = func.coalesce(
            la2.terms_snapshot["revenueSharePercentage"].astext.cast(
                terms2.revenue_share_percentage.type
            ),
            terms2.revenue_share_percentage,
        )
        step = (
            select(
                (base.c.depth + 1).label("depth"),
                la2.id,
                la2.status,
                la2.expires_at,
                share2,
                terms2.license_type,
                terms2.territory,
                asset2.id,
                asset2.title,
                asset2.creator_id,
                asset2.status,
                asset2.verification_status,
                asset2.parent_license_id,
            )
            .join(la2, la2.id == base.c.parent_license_id)
            .join(asset2, asset2.id == la2.ip_asset_id)
            .join(terms2, terms2.id == la2.license_terms_id)
            .where(base.c.depth < 64)
        )
        chain = base.union_all(step)
        rows = await self.session.execute(select(chain).order_by(chain.c.depth))
        return [ChainLink(**row._mapping) for row in rows]

    async def list_for(
        self,
        user_id: uuid.UUID,
        *,
        role: str | None,
        status: str | None,
        ip_asset_id: uuid.UUID | None,
        offset: int,
        limit: int,
    ) -> tuple[list[LicenseApplication], int]:
        if role == "applicant":
            party: ColumnElement[bool] = LicenseApplication.applicant_id == user_id
        elif role == "licensor":
            party = LicenseApplication.licensor_id == user_id
        else:
            party = or_(
                LicenseApplication.applicant_id == user_id,
                LicenseApplication.licensor_id == user_id,
            )
        conditions = [party]
        if status:
            conditions.append(LicenseApplication.status == status)
        if ip_asset_id:
            conditions.append(LicenseApplication.ip_asset_id == ip_asset_id)
        where = and_(*conditions)
        total = (
            await self.session.execute(
                select(func.count()).select_from(LicenseApplication).where(where)
            )
        ).scalar_one()
        rows = await self.session.execute(
            select(LicenseApplication)
            .where(where)
            .order_by(LicenseApplication.created_at.desc(), LicenseApplication.id)
            .offset(offset)
            .limit(limit)
        )
        return list(rows.scalars()), int(total)

    async def terms_of(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LicenseTerms]:
        if not ids:
            return {}
        rows = await self.session.execute(select(LicenseTerms).where(LicenseTerms.id.in_(set(ids))))
        return {t.id: t for t in rows.scalars()}

    async def mark(self, ids: Sequence[uuid.UUID], **values: object) -> None:
        if ids:
            await self.session.execute(
                update(LicenseApplication)
                .where(LicenseApplication.id.in_(set(ids)))
                .values(**values)
            )
