"""Product use cases: create under a license, edit, publish, unpublish, delete.

Services flush but never commit: the request owns the transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit, content_credentials, provenance, transparency
from ipmarket.eventbus import publish
from ipmarket.files import resolve_owned_files
from ipmarket.identity import Permission, Principal
from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from ipmarket.kit.ids import new_id
from ipmarket.kit.money import to_minor
from ipmarket.licensing import LicensingService
from ipmarket.products.events import ProductCreated, ProductPublished
from ipmarket.products.locks import lock_product
from ipmarket.products.models import Product, ProductStatus
from ipmarket.products.repository import ProductFilters, ProductRepository
from ipmarket.products.schemas import ProductCreate, ProductUpdate

LISTED = (ProductStatus.ACTIVE, ProductStatus.SOLD_OUT)


def snapshot(p: Product) -> dict[str, Any]:
    return {
        "title": p.title,
        "category": p.category,
        "priceMinor": p.price_minor,
        "inventoryCount": p.inventory_count,
        "status": p.status,
        "imageFileIds": [str(i) for i in p.image_file_ids],
        "specifications": p.specifications,
    }


class ProductService:
    def __init__(self, session: AsyncSession, *, base_url: str) -> None:
        self.session = session
        self.base_url = base_url
        self.products = ProductRepository(session)
        self.licensing = LicensingService(session)

    async def visible(self, product_id: uuid.UUID, viewer: Principal | None) -> Product:
        product = await self.products.get(product_id)
        if product is None or product.deleted_at is not None:
            raise NotFound("Product not found")
        if product.status in LISTED:
            return product
        if viewer is not None and (
            viewer.id == product.creator_id or viewer.can(Permission.MODERATE_CONTENT)
        ):
            return product
        raise NotFound("Product not found")

    async def owned(
        self, product_id: uuid.UUID, owner: Principal, *, for_update: bool = True
    ) -> Product:
        product = (
            await lock_product(self.session, product_id)
            if for_update
            else await self.products.get(product_id)
        )
        if product is None or product.deleted_at is not None:
            raise NotFound("Product not found")
        if product.creator_id != owner.id:
            raise Forbidden("Only the product's seller may do this")
        return product

    async def search(
        self, filters: ProductFilters, *, sort: str, offset: int, limit: int
    ) -> tuple[list[Product], int]:
        return await self.products.search(
            filters, sort=sort, offset=offset, limit=limit, now=utcnow()
        )

    async def listed_in_order(self, ids: list[uuid.UUID]) -> list[Product]:
        """Those of `ids` that are on sale now, in the order given."""
        if not ids:
            return []
        rows, _ = await self.search(
            ProductFilters(ids=tuple(ids)), sort="newest", offset=0, limit=len(ids)
        )
        position = {product_id: i for i, product_id in enumerate(ids)}
        return sorted(rows, key=lambda product: position[product.id])

    async def listed_categories(self, *, limit: int = 100) -> list[str]:
        """The categories that have products on sale, in alphabetical order."""
        return await self.products.listed_categories(now=utcnow(), limit=limit)

    async def create(self, principal: Principal, data: ProductCreate) -> Product:
        # Held, first: a revocation at the same moment either is seen here or waits, then
        # finds this product and suspends it.
        chain = await self.licensing.authorising_chain(data.license_id, principal.id, hold=True)
        images = await resolve_owned_files(
            self.session, data.images, principal.id, base_url=self.base_url, field="images"
        )
        product = Product(
            id=new_id(),
            creator_id=principal.id,
            license_id=data.license_id,
            ip_asset_id=chain[0].ip_asset_id,
            title=data.title,
            description=data.description,
            category=data.category,
            price_minor=to_minor(data.price),
            inventory_count=data.inventory_count,
            image_file_ids=[f.id for f in images],
            specifications=data.specifications,
            status=ProductStatus.DRAFT.value,
            authenticity_verified=True,
        )
        await self.products.add(product)
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="product.created",
            resource_type="product",
            resource_id=product.id,
            new_values=snapshot(product),
        )
        await publish(
            self.session,
            ProductCreated(
                product_id=product.id,
                creator_id=product.creator_id,
                license_id=product.license_id,
                ip_asset_id=product.ip_asset_id,
                title=product.title,
            ),
        )
        return product

    async def update(
        self, principal: Principal, product_id: uuid.UUID, data: ProductUpdate
    ) -> Product:
        product = await self.owned(product_id, principal)
        if not data.model_fields_set:
            raise ValidationFailed("Nothing to update")
        if product.status == ProductStatus.SUSPENDED:
            raise Conflict(
                "The product is suspended: its license no longer authorises it",
                details={"reason": product.status_reason},
            )
        before = snapshot(product)
        if data.title is not None:
            if data.title != product.title and product.published_at is not None:
                await self._forget_cached_answers(product)  # verification shows the title
                # so do the images' content credentials: they are signed again
                await content_credentials.resign_product_images(self.session, product.id)
            product.title = data.title
        if data.description is not None:
            product.description = data.description
        if data.category is not None:
            product.category = data.category
        if data.price is not None:
            product.price_minor = to_minor(data.price)
        if data.specifications is not None:
            product.specifications = data.specifications
        if data.images is not None:
            files = await resolve_owned_files(
                self.session, data.images, principal.id, base_url=self.base_url, field="images"
            )
            product.image_file_ids = [f.id for f in files]
        if data.inventory_count is not None:
            product.inventory_count = data.inventory_count
        wanted = data.status or (
            ProductStatus.DRAFT if product.status == ProductStatus.DRAFT else ProductStatus.ACTIVE
        )
        now = utcnow()
        if wanted == ProductStatus.ACTIVE:
            if product.status == ProductStatus.DRAFT:
                await self._publish(product)
            product.status = (
                ProductStatus.ACTIVE if product.inventory_count > 0 else ProductStatus.SOLD_OUT
            ).value
        elif product.status != ProductStatus.DRAFT:
            product.status = ProductStatus.DRAFT.value  # taken off sale
            await self._forget_cached_answers(product)
        product.updated_at = now
        await self.session.flush()
        after = snapshot(product)
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="product.updated",
            resource_type="product",
            resource_id=product.id,
            old_values={k: v for k, v in before.items() if after[k] != v},
            new_values={k: v for k, v in after.items() if before[k] != v},
        )
        return product

    async def _publish(self, product: Product) -> None:
        """Put a product on sale: its license must authorise it now; it gets its chain record
        and verification code."""
        chain = await self.licensing.authorising_chain(product.license_id, product.creator_id)
        record = await provenance.record_product(
            self.session,
            product_id=product.id,
            asset_id=chain[0].ip_asset_id,
            license_id=product.license_id,
        )
        expiries = [link.expires_at for link in chain if link.expires_at is not None]
        product.authorized_until = min(expiries) if expiries else None
        if product.published_at is None:  # the first time on sale: the log records it
            await publish(
                self.session,
                ProductPublished(
                    product_id=product.id,
                    creator_id=product.creator_id,
                    chain_record_id=record.id,
                    license_id=product.license_id,
                    ip_asset_id=chain[0].ip_asset_id,
                    verification_code_hash=transparency.digest_text(record.verification_code or ""),
                ),
            )
        product.published_at = product.published_at or utcnow()
        product.authenticity_verified = True
        provenance.forget_product_after_commit(self.session, product.id, record.verification_code)

    async def _forget_cached_answers(self, product: Product) -> None:
        """This product's verification answers change; nothing else's does."""
        codes = await provenance.codes_of(self.session, [product.id])
        provenance.forget_product_after_commit(self.session, product.id, codes.get(product.id))

    async def delete(self, principal: Principal, product_id: uuid.UUID) -> None:
        product = await self.owned(product_id, principal)
        now = utcnow()
        product.deleted_at = now
        product.updated_at = now
        await self._forget_cached_answers(product)
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="product.deleted",
            resource_type="product",
            resource_id=product.id,
            old_values={"status": product.status},
            new_values={"deleted": True},
        )
