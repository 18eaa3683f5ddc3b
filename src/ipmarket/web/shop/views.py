"""What the shop pages show of products and their sales: plain copies made while the
transaction is open, so a form drawn again after a rollback can still show them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit

from ipmarket.config import Settings
from ipmarket.files import FILES_PATH, signed_url
from ipmarket.kit.money import from_minor
from ipmarket.payments import Transaction
from ipmarket.products import Product, ProductStatus


@dataclass(frozen=True)
class ImageView:
    file_id: uuid.UUID
    url: str  # signed, as a path on this site (the page's CSP allows images from 'self')


def _on_this_site(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@dataclass(frozen=True)
class ProductView:
    id: uuid.UUID
    title: str
    description: str
    category: str
    price: Decimal
    currency: str
    inventory_count: int
    status: str
    status_reason: str | None
    license_id: uuid.UUID
    ip_asset_id: uuid.UUID
    asset_title: str
    images: list[ImageView]
    verification_code: str | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def on_sale(self) -> bool:
        return self.status in (ProductStatus.ACTIVE, ProductStatus.SOLD_OUT)

    @property
    def is_draft(self) -> bool:
        return self.status == ProductStatus.DRAFT

    @property
    def is_suspended(self) -> bool:
        return self.status == ProductStatus.SUSPENDED

    @property
    def image_paths(self) -> list[str]:
        """The images as the API's product input names them (our own file URLs)."""
        return [f"{FILES_PATH}/{image.file_id}" for image in self.images]

    @classmethod
    def of(
        cls,
        product: Product,
        *,
        settings: Settings,
        now: datetime,
        asset_title: str,
        code: str | None,
    ) -> ProductView:
        return cls(
            id=product.id,
            title=product.title,
            description=product.description,
            category=product.category,
            price=from_minor(product.price_minor),
            currency=product.currency,
            inventory_count=product.inventory_count,
            status=product.status,
            status_reason=product.status_reason,
            license_id=product.license_id,
            ip_asset_id=product.ip_asset_id,
            asset_title=asset_title,
            images=[
                ImageView(f, _on_this_site(signed_url(f, settings=settings, now=now)))
                for f in product.image_file_ids
            ],
            verification_code=code,
            published_at=product.published_at,
            created_at=product.created_at,
            updated_at=product.updated_at,
        )


@dataclass(frozen=True)
class SaleView:
    id: uuid.UUID
    created_at: datetime
    quantity: int
    amount: Decimal
    seller_amount: Decimal
    refunded: Decimal
    currency: str
    status: str

    @classmethod
    def of(cls, tx: Transaction) -> SaleView:
        return cls(
            id=tx.id,
            created_at=tx.created_at,
            quantity=tx.quantity,
            amount=from_minor(tx.amount_minor),
            seller_amount=from_minor(tx.seller_amount_minor),
            refunded=from_minor(tx.refunded_minor),
            currency=tx.currency,
            status=tx.status,
        )
