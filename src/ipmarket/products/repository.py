"""All SQL of the products module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.ip_assets import AssetStatus, IPAsset, VerificationStatus
from ipmarket.kit.money import to_minor
from ipmarket.licensing import LicenseApplication, LicenseStatus
from ipmarket.products.locks import lock_products_under
from ipmarket.products.models import Product, ProductStatus

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class ProductFilters:
    q: str | None = None
    category: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    ip_asset_id: uuid.UUID | None = None
    creator_id: uuid.UUID | None = None
    mine_of: uuid.UUID | None = None
    # Only these products (the home page's best sellers); None: no such limit.
    ids: tuple[uuid.UUID, ...] | None = None


class ProductRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, product: Product) -> Product:
        self.session.add(product)
        await self.session.flush()
        return product

    async def get(self, product_id: uuid.UUID) -> Product | None:
        """The product, unlocked (to lock it: `ipmarket.products.locks`)."""
        stmt = select(Product).where(Product.id == product_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def take_stock(
        self, product_id: uuid.UUID, quantity: int, *, now: datetime
    ) -> tuple[int, str] | None:
        """Take `quantity` units of an active product in one statement (the row is locked
        only until the caller commits): its price and currency then, or None when the
        product is not on sale with that many units. The last unit makes it sold out."""
        taken = await self.session.execute(
            update(Product)
            .where(
                Product.id == product_id,
                Product.status == ProductStatus.ACTIVE,
                Product.deleted_at.is_(None),
                Product.inventory_count >= quantity,
            )
            .values(
                inventory_count=Product.inventory_count - quantity,
                status=case(
                    (Product.inventory_count == quantity, ProductStatus.SOLD_OUT.value),
                    else_=Product.status,
                ),
                updated_at=now,
            )
            .returning(Product.price_minor, Product.currency)
            .execution_options(synchronize_session=False)
        )
        row = taken.one_or_none()
        return None if row is None else (int(row[0]), str(row[1]))

    async def return_stock(self, product_id: uuid.UUID, quantity: int, *, now: datetime) -> None:
        """Put `quantity` units back on sale (a reservation ended unpaid, a payment failed);
        a sold-out product is active again."""
        await self.session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(
                inventory_count=Product.inventory_count + quantity,
                status=case(
                    (Product.status == ProductStatus.SOLD_OUT, ProductStatus.ACTIVE.value),
                    else_=Product.status,
                ),
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )

    @staticmethod
    def _listed(stmt: SelectT, now: datetime) -> tuple[SelectT, list[ColumnElement[bool]]]:
        """Listed: active, under a license that authorises now, of an asset open for
        licensing. Revocations further up the chain suspend products directly."""
        stmt = stmt.join(LicenseApplication, LicenseApplication.id == Product.license_id).join(
            IPAsset, IPAsset.id == Product.ip_asset_id
        )
        return stmt, [
            Product.deleted_at.is_(None),
            Product.status == ProductStatus.ACTIVE,
            or_(Product.authorized_until.is_(None), Product.authorized_until > now),
            LicenseApplication.status == LicenseStatus.APPROVED,
            or_(LicenseApplication.expires_at.is_(None), LicenseApplication.expires_at > now),
            IPAsset.status == AssetStatus.ACTIVE,
            IPAsset.verification_status == VerificationStatus.APPROVED,
        ]

    async def listed_categories(self, *, now: datetime, limit: int) -> list[str]:
        """The categories that have listed products, in alphabetical order (one query).

        A skip scan: each step jumps to the first listed product of the next category in
        the catalogue's category index, so it reads a few rows per category, not the
        catalogue (about 1 ms on 200,000 products where counting them takes 130 ms)."""

        def first_after(previous: ColumnElement[str] | None) -> Select[str]:
            stmt, conditions = self._listed(select(Product.category), now)
            if previous is not None:
                conditions.append(Product.category > previous)
            return stmt.where(and_(*conditions)).order_by(Product.category).limit(1)

        found = first_after(None).cte("listed_categories", recursive=True)
        found = found.union_all(
            select(first_after(found.c.category).scalar_subquery()).where(
                found.c.category.is_not(None)
            )
        )
        rows = await self.session.execute(
            select(found.c.category).where(found.c.category.is_not(None)).limit(limit)
        )
        return [str(category) for category in rows.scalars()]

    async def search(
        self, filters: ProductFilters, *, sort: str, offset: int, limit: int, now: datetime
    ) -> tuple[list[Product], int]:
        conditions: list[ColumnElement[bool]]
        stmt = select(Product)
        if filters.mine_of is not None:
            conditions = [Product.deleted_at.is_(None), Product.creator_id == filters.mine_of]
        else:
            stmt, conditions = self._listed(stmt, now)
        if filters.category:
            conditions.append(Product.category == filters.category)
        if filters.min_price is not None:
            conditions.append(Product.price_minor >= to_minor(filters.min_price))
        if filters.max_price is not None:
            conditions.append(Product.price_minor <= to_minor(filters.max_price))
        if filters.ip_asset_id:
            conditions.append(Product.ip_asset_id == filters.ip_asset_id)
        if filters.creator_id:
            conditions.append(Product.creator_id == filters.creator_id)
        if filters.ids is not None:
            conditions.append(Product.id.in_(filters.ids))
        rank: ColumnElement[Any] | None = None
        if filters.q:
            query = func.websearch_to_tsquery("english", filters.q)
            conditions.append(
                or_(Product.search_vector.op("@@")(query), Product.title.op("%>")(filters.q))
            )
            rank = func.ts_rank(Product.search_vector, query) + func.word_similarity(
                filters.q, Product.title
            )
        stmt = stmt.where(and_(*conditions))
        total = (
            await self.session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        order: list[ColumnElement[Any]]
        if sort == "price":
            order = [Product.price_minor.asc()]
        elif sort == "-price":
            order = [Product.price_minor.desc()]
        elif sort == "relevance" and rank is not None:
            order = [rank.desc(), Product.published_at.desc().nulls_last()]
        else:
            order = [Product.published_at.desc().nulls_last(), Product.created_at.desc()]
        rows = await self.session.execute(
            stmt.order_by(*order, Product.id).offset(offset).limit(limit)
        )
        return list(rows.scalars()), int(total)

    async def suspend_under(
        self, license_ids: frozenset[uuid.UUID], *, reason: str, now: datetime
    ) -> list[uuid.UUID]:
        if not license_ids:
            return []
        await lock_products_under(self.session, license_ids)
        rows = await self.session.execute(
            update(Product)
            .where(
                Product.license_id.in_(license_ids),
                Product.deleted_at.is_(None),
                Product.status != ProductStatus.SUSPENDED,
            )
            .values(
                status=ProductStatus.SUSPENDED.value,
                status_reason=reason,
                authenticity_verified=False,
                updated_at=now,
            )
            .returning(Product.id)
        )
        return list(rows.scalars())

    async def with_unsigned_images(self, *, limit: int) -> list[Product]:
        """Products on sale with an image that has no signed copy (nor a recorded failure)
        yet, the most recently changed first (one query)."""
        # content_credentials' table of signed copies, by name: that module is below this one.
        unsigned = text(
            "EXISTS (SELECT 1 FROM unnest(products.image_file_ids) AS image(file_id) "
            "WHERE NOT EXISTS (SELECT 1 FROM signed_images AS s "
            "WHERE s.product_id = products.id AND s.original_file_id = image.file_id))"
        )
        stmt = (
            select(Product)
            .where(
                Product.status.in_([ProductStatus.ACTIVE.value, ProductStatus.SOLD_OUT.value]),
                Product.deleted_at.is_(None),
                unsigned,
            )
            .order_by(Product.updated_at.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())
