"""The seller's shop: products made under the licenses they hold — create, edit, images,
stock, publish and unpublish — with each product's verification code and its sales. The
products, files and payments modules' use cases as pages."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from ipmarket import provenance
from ipmarket.config import Settings
from ipmarket.files import FILES_PATH, Storage, accepted_upload, get_storage
from ipmarket.identity import AppSettings, Permission, Principal
from ipmarket.ip_assets import IPAssetRepository
from ipmarket.kit.clock import utcnow
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import Pagination
from ipmarket.kit.errors import NotFound
from ipmarket.kit.pagination import Paging
from ipmarket.licensing import LicenseStatus, LicensingService
from ipmarket.payments import TransactionFilters, TransactionRepository
from ipmarket.products import Product, ProductFilters, ProductService
from ipmarket.products.schemas import ProductCreate, ProductUpdate
from ipmarket.web.forms import field_problem, form_values, rejects_form
from ipmarket.web.session import SignedIn
from ipmarket.web.shop.views import ProductView, SaleView
from ipmarket.web.templating import redirect, render
from ipmarket.web.uploads import file_bytes, upload_form_router

router = APIRouter(include_in_schema=False)

# Image uploads post here: the body size limit for uploads (not the 1 MB of other forms)
# applies below this prefix (app.py).
UPLOADS_PATH = "/shop/uploads"
SALES_PER_PAGE = 20

# As the API's product routes: sellers hold CREATE_PRODUCTS or MANAGE_INVENTORY.
SELLER = SignedIn(Permission.CREATE_PRODUCTS, Permission.MANAGE_INVENTORY)
Seller = Annotated[Principal, Depends(SELLER)]
# The image upload form: the seller is checked before its body is read (web/uploads.py).
uploads = upload_form_router(SELLER)
FileStore = Annotated[Storage, Depends(get_storage)]


def _products(session: AsyncSession, settings: Settings) -> ProductService:
    return ProductService(session, base_url=settings.public_base_url)


async def _views(
    session: AsyncSession, settings: Settings, products: list[Product]
) -> list[ProductView]:
    """Products with their asset's title and verification code: two queries in all."""
    codes = await provenance.codes_of(session, [p.id for p in products])
    assets = await IPAssetRepository(session).get_many([p.ip_asset_id for p in products])
    now = utcnow()
    return [
        ProductView.of(
            p,
            settings=settings,
            now=now,
            asset_title=assets[p.ip_asset_id].title if p.ip_asset_id in assets else "",
            code=codes.get(p.id),
        )
        for p in products
    ]


# --- my products -----------------------------------------------------------------------------


@router.get("/shop", response_class=HTMLResponse)
async def shop(
    request: Request, session: DbSession, settings: AppSettings, principal: Seller, paging: Paging
) -> Response:
    products, total = await _products(session, settings).search(
        ProductFilters(mine_of=principal.id),
        sort="newest",
        offset=paging.offset,
        limit=paging.limit,
    )
    return render(
        request,
        "shop/products.html",
        {
            "products": await _views(session, settings, products),
            "page": Pagination.of(page=paging.page, limit=paging.limit, total=total),
        },
    )


# --- create ------------------------------------------------------------------------------


async def _license_choices(session: AsyncSession, principal: Principal) -> list[tuple[str, str]]:
    """The licenses a product can be made under: those the seller holds (approved)."""
    held, _ = await LicensingService(session).list_applications(
        principal,
        role="applicant",
        status=LicenseStatus.APPROVED.value,
        ip_asset_id=None,
        offset=0,
        limit=100,
    )
    assets = await IPAssetRepository(session).get_many([lic.ip_asset_id for lic in held])
    choices = []
    for lic in held:
        asset = assets.get(lic.ip_asset_id)
        until = f", until {lic.expires_at.date().isoformat()}" if lic.expires_at else ""
        choices.append((str(lic.id), f"{asset.title if asset else lic.ip_asset_id}{until}"))
    return choices


_PRODUCT_FIELDS = ("title", "description", "category", "price")


@router.get("/shop/products/new", response_class=HTMLResponse)
async def new_product_form(
    request: Request,
    session: DbSession,
    principal: Seller,
    license_id: Annotated[uuid.UUID | None, Query(alias="license")] = None,
) -> Response:
    choices = await _license_choices(session, principal)
    return render(
        request,
        "shop/new.html",
        {
            "licenses": choices,
            "form": {"licenseId": str(license_id or ""), "inventoryCount": "1"},
        },
    )


@router.post("/shop/products/new", response_class=HTMLResponse)
async def create_product(
    request: Request, session: DbSession, settings: AppSettings, principal: Seller
) -> Response:
    values = form_values(await request.form())
    page = {"licenses": await _license_choices(session, principal)}
    async with rejects_form("shop/new.html", page, values):
        data = ProductCreate.model_validate(
            {k: values[k] for k in ("licenseId", "inventoryCount", *_PRODUCT_FIELDS) if k in values}
            | {"description": values.get("description", "")}
        )
        product = await _products(session, settings).create(principal, data)
    return redirect(
        request,
        f"/shop/products/{product.id}",
        flash="Your product is saved as a draft. Add images, then publish it to put it on sale.",
    )


# --- one product -----------------------------------------------------------------------------


async def _product_page(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    product_id: uuid.UUID,
    *,
    sales_page: int = 1,
) -> dict[str, Any]:
    """The product page's content; refuses (403/404) a product that is not the seller's."""
    product = await _products(session, settings).owned(product_id, principal, for_update=False)
    [view] = await _views(session, settings, [product])
    sales, total = await TransactionRepository(session).search(
        TransactionFilters(party_id=principal.id, role="seller", product_id=product.id),
        offset=(sales_page - 1) * SALES_PER_PAGE,
        limit=SALES_PER_PAGE,
    )
    return {
        "product": view,
        "sales": [SaleView.of(tx) for tx in sales],
        "sales_page": Pagination.of(page=sales_page, limit=SALES_PER_PAGE, total=total),
        "uploads_path": UPLOADS_PATH,
    }


@router.get("/shop/products/{product_id}", response_class=HTMLResponse)
async def product_page(
    request: Request,
    product_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Seller,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    context = await _product_page(session, settings, principal, product_id, sales_page=page)
    return render(request, "shop/product.html", context | {"form": {}})


async def _change(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    product_id: uuid.UUID,
    changes: dict[str, Any],
    values: dict[str, Any],
    *,
    template: str = "shop/product.html",
    flash: str,
) -> Response:
    """Apply `changes` (the API's product update body) from a form on the product page; a
    refusal draws the page again with the problem, and nothing changes."""
    page = await _product_page(session, settings, principal, product_id)
    async with rejects_form(template, page, values):
        data = ProductUpdate.model_validate(changes)
        await _products(session, settings).update(principal, product_id, data)
    return redirect(request, f"/shop/products/{product_id}", flash=flash)


@router.get("/shop/products/{product_id}/edit", response_class=HTMLResponse)
async def edit_form(
    request: Request,
    product_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Seller,
) -> Response:
    page = await _product_page(session, settings, principal, product_id)
    product: ProductView = page["product"]
    form = {
        "title": product.title,
        "description": product.description,
        "category": product.category,
        "price": f"{product.price:.2f}",
    }
    return render(request, "shop/edit.html", page | {"form": form})


@router.post("/shop/products/{product_id}/edit", response_class=HTMLResponse)
async def edit(
    request: Request,
    product_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Seller,
) -> Response:
    values = form_values(await request.form())
    # Every box is sent: an emptied one is a change (refused where the API requires it).
    changes = {k: values.get(k, "") for k in _PRODUCT_FIELDS}
    return await _change(
        request,
        session,
        settings,
        principal,
        product_id,
        changes,
        values,
        template="shop/edit.html",
        flash="Your changes are saved.",
    )


@router.post("/shop/products/{product_id}/stock", response_class=HTMLResponse)
async def set_stock(
    request: Request,
    product_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Seller,
) -> Response:
    values = form_values(await request.form())
    return await _change(
        request,
        session,
        settings,
        principal,
        product_id,
        {"inventoryCount": values.get("inventoryCount", "")},
        values,
        flash="The stock is updated.",
    )


@router.post("/shop/products/{product_id}/publish", response_class=HTMLResponse)
async def publish(
    request: Request,
    product_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Seller,
) -> Response:
    return await _change(
        request,
        session,
        settings,
        principal,
        product_id,
        {"status": "active"},
        {},
        flash="Your product is on sale. Its verification code is below.",
    )


@router.post("/shop/products/{product_id}/unpublish", response_class=HTMLResponse)
async def unpublish(
    request: Request,
    product_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Seller,
) -> Response:
    return await _change(
        request,
        session,
        settings,
        principal,
        product_id,
        {"status": "draft"},
        {},
        flash="Your product is taken off sale; it is a draft again.",
    )


# --- images ----------------------------------------------------------------------------------


@uploads.post(UPLOADS_PATH + "/{product_id}", response_class=HTMLResponse)
async def upload_image(
    request: Request,
    product_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    storage: FileStore,
    principal: Seller,
) -> Response:
    """Add an image (multipart field `file`) to the product: stored as the seller's file
    under the upload rules of `POST /v1/files`, then added to the product's images."""
    upload = (await request.form()).get("file")
    # The seller's product, or 403/404 before anything is stored.
    page = await _product_page(session, settings, principal, product_id)
    product: ProductView = page["product"]
    async with rejects_form("shop/product.html", page, {}):
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise field_problem("Choose an image file to upload.", field_name="file")
        async with accepted_upload(
            session, storage, principal.id, file_bytes(upload), upload.filename
        ) as stored:
            data = ProductUpdate.model_validate(
                {"images": [*product.image_paths, f"{FILES_PATH}/{stored.id}"]}
            )
            await _products(session, settings).update(principal, product_id, data)
    return redirect(request, f"/shop/products/{product_id}", flash="The image is added.")


@router.post("/shop/products/{product_id}/images/remove", response_class=HTMLResponse)
async def remove_image(
    request: Request,
    product_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Seller,
) -> Response:
    values = form_values(await request.form())
    page = await _product_page(session, settings, principal, product_id)
    product: ProductView = page["product"]
    kept = [i for i in product.images if str(i.file_id) != values.get("fileId")]
    if len(kept) == len(product.images):
        raise NotFound("This product has no such image")
    async with rejects_form("shop/product.html", page, values):
        data = ProductUpdate.model_validate({"images": [f"{FILES_PATH}/{i.file_id}" for i in kept]})
        await _products(session, settings).update(principal, product_id, data)
    return redirect(request, f"/shop/products/{product_id}", flash="The image is removed.")
