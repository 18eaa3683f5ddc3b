"""What the public pages show of products, IP assets and license terms, built from the
module services' rows while the request's transaction is open: decimal prices with their
currency, file URLs signed afresh (as the API gives them), names instead of ids, and terms
in plain words."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import content_credentials
from ipmarket.config import Settings
from ipmarket.files import signed_url
from ipmarket.ip_assets import IPAsset
from ipmarket.kit.clock import utcnow
from ipmarket.kit.money import from_minor
from ipmarket.licensing import LicenseTerms
from ipmarket.products import Product
from ipmarket.web.terms_words import duration_words, territory_words, type_words


@dataclass(frozen=True)
class ProductCard:
    id: uuid.UUID
    title: str
    category: str
    price: Decimal
    currency: str
    image: str | None
    seller: str | None
    in_stock: int
    status: str


def product_cards(
    products: list[Product],
    names: dict[uuid.UUID, str],
    settings: Settings,
    copies: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] | None = None,
) -> list[ProductCard]:
    """Cards of products; their image is the signed copy (content credentials) among
    `copies` (`content_credentials.served_images`) when there is one."""
    now = utcnow()
    return [
        ProductCard(
            id=p.id,
            title=p.title,
            category=p.category,
            price=from_minor(p.price_minor),
            currency=p.currency,
            image=(
                signed_url(
                    content_credentials.served(copies or {}, p.id, p.image_file_ids[:1])[0],
                    settings=settings,
                    now=now,
                )
                if p.image_file_ids
                else None
            ),
            seller=names.get(p.creator_id),
            in_stock=p.inventory_count,
            status=p.status,
        )
        for p in products
    ]


@dataclass(frozen=True)
class AssetCard:
    id: uuid.UUID
    title: str
    category: str
    content_type: str
    creator: str | None
    created_at: datetime
    derivative: bool


def asset_cards(assets: list[IPAsset], names: dict[uuid.UUID, str]) -> list[AssetCard]:
    return [
        AssetCard(
            id=a.id,
            title=a.title,
            category=a.category,
            content_type=a.content_type,
            creator=names.get(a.creator_id),
            created_at=a.created_at,
            derivative=a.parent_license_id is not None,
        )
        for a in assets
    ]


async def credential_words(session: AsyncSession, file_ids: list[uuid.UUID]) -> list[str]:
    """The content credentials (C2PA) of an asset's images in plain words, one line per image
    that carries them, in the asset's order."""
    found = await content_credentials.credentials_of(session, file_ids)
    return [
        f"Image {index}: {content_credentials.describe(credentials)}"
        for index, file_id in enumerate(file_ids, start=1)
        if (credentials := found.get(file_id)) is not None
    ]


def signed_files(file_ids: list[uuid.UUID], settings: Settings) -> list[str]:
    now = utcnow()
    return [signed_url(f, settings=settings, now=now) for f in file_ids]


@dataclass(frozen=True)
class TermsView:
    id: uuid.UUID
    version: int
    current: bool
    published_at: datetime
    license_type: str
    license_type_words: str
    share: Decimal
    base_fee: Decimal
    currency: str
    territory: str
    duration: str
    derivatives_allowed: bool
    auto_approve: bool
    requirements: str
    restrictions: str


def terms_views(terms: list[LicenseTerms]) -> list[TermsView]:
    """Current versions first, then retired ones (only the owner is given those), newest
    version first in each."""
    ordered = sorted(terms, key=lambda t: (not t.is_current, -t.version, t.created_at))
    return [
        TermsView(
            id=t.id,
            version=t.version,
            current=t.is_current,
            published_at=t.created_at,
            license_type=t.license_type,
            license_type_words=type_words(t.license_type),
            share=Decimal(t.revenue_share_percentage).quantize(Decimal("0.01")),
            base_fee=from_minor(t.base_fee_minor),
            currency=t.currency,
            territory=territory_words(t.territory),
            duration=duration_words(t.duration),
            derivatives_allowed=t.derivatives_allowed,
            auto_approve=t.auto_approve,
            requirements=t.requirements,
            restrictions=t.restrictions,
        )
        for t in ordered
    ]
