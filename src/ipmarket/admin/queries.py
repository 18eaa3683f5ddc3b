"""Read models for administrators: users with their totals (seed AdminUser), from each
owning module's public query, and the review queues (seed AdminIPAsset and AdminLicense),
joining several modules' tables in one query per page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ipmarket.admin.schemas import AdminUserRead
from ipmarket.identity import User
from ipmarket.ip_assets import AssetStatus, IPAsset, VerificationStatus, ip_assets_per_creator
from ipmarket.kit.money import from_minor
from ipmarket.licensing import LicenseApplication, LicenseStatus, LicenseTerms
from ipmarket.payments import revenue_per_user
from ipmarket.products import Product, products_per_creator


async def admin_user_reads(session: AsyncSession, users: Sequence[User]) -> list[AdminUserRead]:
    """Users as administrators see them, with their revenue net of refunds and their IP
    assets and products (one query each, however many users). Users with none count zero."""
    user_ids = [user.id for user in users]
    revenue_minor = await revenue_per_user(session, user_ids)
    ips = await ip_assets_per_creator(session, user_ids)
    products = await products_per_creator(session, user_ids)
    return [
        AdminUserRead(
            id=user.id,
            username=user.username,
            email=user.email,
            user_type=user.user_type,
            status=user.status,
            verification_level=user.verification_level,
            join_date=user.created_at,
            last_active=user.last_active_at,
            total_revenue=float(from_minor(revenue_minor.get(user.id, 0))),
            total_ips=ips.get(user.id, 0),
            total_products=products.get(user.id, 0),
            profile_data=user.profile_data,
            email_verified=user.email_verified_at is not None,
            status_reason=user.status_reason,
        )
        for user in users
    ]


async def pending_ip_assets(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    where = and_(
        IPAsset.verification_status == VerificationStatus.PENDING,
        IPAsset.submitted_at.is_not(None),
        IPAsset.status == AssetStatus.ACTIVE,
    )
    total = (
        await session.execute(select(func.count()).select_from(IPAsset).where(where))
    ).scalar_one()
    licenses = (
        select(func.count())
        .where(
            LicenseApplication.ip_asset_id == IPAsset.id,
            LicenseApplication.status == LicenseStatus.APPROVED,
        )
        .correlate(IPAsset)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(IPAsset, User.username, licenses.label("licenses"))
        .join(User, User.id == IPAsset.creator_id)
        .where(where)
        .order_by(IPAsset.submitted_at, IPAsset.id)
        .offset(offset)
        .limit(limit)
    )
    items = [
        {
            "id": asset.id,
            "title": asset.title,
            "creator": username,
            "creator_id": asset.creator_id,
            "category": asset.category,
            "status": asset.status,
            "verification_status": asset.verification_status,
            "revenue": 0.0,  # sales arrive with the payments module
            "licenses": count,
            "created_at": asset.created_at,
            "submitted_at": asset.submitted_at,
            "parent_license_id": asset.parent_license_id,
        }
        for asset, username, count in rows.all()
    ]
    return items, int(total)


async def pending_licenses(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    where = LicenseApplication.status == LicenseStatus.PENDING
    total = (
        await session.execute(select(func.count()).select_from(LicenseApplication).where(where))
    ).scalar_one()
    licensee = aliased(User)
    licensor = aliased(User)
    products = (
        select(func.count())
        .where(Product.license_id == LicenseApplication.id, Product.deleted_at.is_(None))
        .correlate(LicenseApplication)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            LicenseApplication,
            IPAsset.title,
            licensee.username,
            licensor.username,
            LicenseTerms,
            products.label("products"),
        )
        .join(IPAsset, IPAsset.id == LicenseApplication.ip_asset_id)
        .join(licensee, licensee.id == LicenseApplication.applicant_id)
        .join(licensor, licensor.id == LicenseApplication.licensor_id)
        .join(LicenseTerms, LicenseTerms.id == LicenseApplication.license_terms_id)
        .where(where)
        .order_by(LicenseApplication.created_at, LicenseApplication.id)
        .offset(offset)
        .limit(limit)
    )
    items = [
        {
            "id": application.id,
            "ip_title": title,
            "licensee": licensee_name,
            "licensor": licensor_name,
            "status": application.status,
            "license_type": terms.license_type,
            "share_rate": float(terms.revenue_share_percentage),
            "revenue": 0.0,
            "products": count,
            "created_at": application.created_at,
            "territory": terms.territory,
            "duration": terms.duration,
            "ip_asset_id": application.ip_asset_id,
        }
        for application, title, licensee_name, licensor_name, terms, count in rows.all()
    ]
    return items, int(total)
