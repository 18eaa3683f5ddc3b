"""HTTP routes: /v1/products."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status

from ipmarket import content_credentials, provenance
from ipmarket.config import Settings
from ipmarket.files import signed_url
from ipmarket.identity import (
    OPTIONAL_AUTH,
    AppSettings,
    Authorize,
    MaybePrincipal,
    Permission,
    Principal,
)
from ipmarket.kit.clock import utcnow
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok, paged
from ipmarket.kit.errors import Unauthorized
from ipmarket.kit.money import from_minor
from ipmarket.kit.pagination import Paging
from ipmarket.products.models import Product
from ipmarket.products.repository import ProductFilters
from ipmarket.products.schemas import ProductCreate, ProductRead, ProductUpdate
from ipmarket.products.service import ProductService

router = APIRouter(prefix="/products", tags=["products"])

_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422, 429, 500)
Seller = Annotated[
    Principal, Depends(Authorize(Permission.CREATE_PRODUCTS, Permission.MANAGE_INVENTORY))
]


async def product_reads(
    session: DbSession, products: list[Product], settings: Settings, viewer: Principal | None
) -> list[ProductRead]:
    """API views; image URLs are signed afresh, and owners see their verification codes
    (one query for the whole page)."""
    now = utcnow()
    own = [p.id for p in products if viewer is not None and p.creator_id == viewer.id]
    codes = await provenance.codes_of(session, own)
    # Others get the signed copies (content credentials); the seller edits with the originals.
    copies = await content_credentials.served_images(
        session, [p.id for p in products if p.id not in own]
    )
    return [
        ProductRead(
            id=p.id,
            creator_id=p.creator_id,
            license_id=p.license_id,
            ip_asset_id=p.ip_asset_id,
            title=p.title,
            description=p.description,
            category=p.category,
            price=from_minor(p.price_minor),
            currency=p.currency,
            inventory_count=p.inventory_count,
            images=[
                signed_url(f, settings=settings, now=now)
                for f in content_credentials.served(copies, p.id, p.image_file_ids)
            ],
            specifications=p.specifications,
            status=p.status,
            authenticity_verified=p.authenticity_verified,
            published_at=p.published_at,
            created_at=p.created_at,
            updated_at=p.updated_at,
            verification_code=codes.get(p.id),
        )
        for p in products
    ]


def _service(session: DbSession, settings: Settings) -> ProductService:
    return ProductService(session, base_url=settings.public_base_url)


@router.get(
    "",
    responses=_ERRORS,
    summary="Browse products on sale (or your own with mine=true)",
    openapi_extra=OPTIONAL_AUTH,
)
async def list_products(
    session: DbSession,
    settings: AppSettings,
    paging: Paging,
    viewer: MaybePrincipal,
    q: Annotated[str | None, Query(max_length=200, description="Full-text search")] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    min_price: Annotated[
        Decimal | None, Query(alias="minPrice", ge=0, max_digits=12, decimal_places=2)
    ] = None,
    max_price: Annotated[
        Decimal | None, Query(alias="maxPrice", ge=0, max_digits=12, decimal_places=2)
    ] = None,
    ip_asset_id: Annotated[uuid.UUID | None, Query(alias="ipAssetId")] = None,
    creator_id: Annotated[uuid.UUID | None, Query(alias="creatorId")] = None,
    mine: bool = False,
    sort: Literal["newest", "price", "-price", "relevance"] | None = None,
) -> APIResponse[list[ProductRead]]:
    if mine and viewer is None:
        raise Unauthorized("Log in to list your own products")
    filters = ProductFilters(
        q=q.strip() if q and q.strip() else None,
        category=category,
        min_price=min_price,
        max_price=max_price,
        ip_asset_id=ip_asset_id,
        creator_id=creator_id,
        mine_of=viewer.id if mine and viewer else None,
    )
    chosen = sort or ("relevance" if filters.q else "newest")
    products, total = await _service(session, settings).search(
        filters, sort=chosen, offset=paging.offset, limit=paging.limit
    )
    items = await product_reads(session, products, settings, viewer)
    return paged(items, page=paging.page, limit=paging.limit, total=total)


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses=_ERRORS, summary="Create a product (a draft)"
)
async def create_product(
    body: ProductCreate, session: DbSession, settings: AppSettings, principal: Seller
) -> APIResponse[ProductRead]:
    product = await _service(session, settings).create(principal, body)
    return ok((await product_reads(session, [product], settings, principal))[0])


@router.get("/{product_id}", responses=_ERRORS, summary="A product", openapi_extra=OPTIONAL_AUTH)
async def get_product(
    product_id: uuid.UUID, session: DbSession, settings: AppSettings, viewer: MaybePrincipal
) -> APIResponse[ProductRead]:
    product = await _service(session, settings).visible(product_id, viewer)
    return ok((await product_reads(session, [product], settings, viewer))[0])


@router.put(
    "/{product_id}",
    responses=_ERRORS,
    summary="Edit, publish (status: active) or unpublish your product",
)
async def update_product(
    product_id: uuid.UUID,
    body: ProductUpdate,
    session: DbSession,
    settings: AppSettings,
    principal: Seller,
) -> APIResponse[ProductRead]:
    product = await _service(session, settings).update(principal, product_id, body)
    return ok((await product_reads(session, [product], settings, principal))[0])


@router.delete("/{product_id}", responses=_ERRORS, summary="Delete your product (soft)")
async def delete_product(
    product_id: uuid.UUID, session: DbSession, settings: AppSettings, principal: Seller
) -> APIResponse[None]:
    await _service(session, settings).delete(principal, product_id)
    return APIResponse[None](data=None)
