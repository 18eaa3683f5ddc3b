"""The public marketplace, no sign-in needed: the home page, product search and product
pages, the IP catalogue and asset pages, and people's public profiles.

Each page calls the services and queries the API's routers call (`GET /v1/products`,
`/v1/products/{id}`, `/v1/ip-assets`, `/v1/ip-assets/{id}`, `/v1/ip-assets/{id}/licenses`,
`/v1/products/{id}/verify`) and runs a fixed number of statements whatever its page size.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ipmarket import content_credentials, provenance
from ipmarket.config import Settings
from ipmarket.identity import (
    AppSettings,
    Permission,
    Principal,
    PublicProfile,
    public_profile,
    usernames_of,
)
from ipmarket.ip_assets import AssetFilters, IPAsset, IPAssetService, licensable
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import Pagination
from ipmarket.kit.errors import NotFound
from ipmarket.licensing import LicensingService
from ipmarket.payments import best_selling_product_ids
from ipmarket.products import Product, ProductFilters, ProductService, ProductStatus
from ipmarket.web.public.queries import (
    PAGE_SIZE,
    AssetQuery,
    ProductQuery,
    read_query,
    url_with,
)
from ipmarket.web.public.views import (
    asset_cards,
    credential_words,
    product_cards,
    signed_files,
    terms_views,
)
from ipmarket.web.session import Visitor
from ipmarket.web.templating import render
from ipmarket.web.verify.chain import chain_view

router = APIRouter(include_in_schema=False)

HOME_PRODUCTS = 8
HOME_ASSETS = 4
CATEGORY_LIMIT = 100
FACET_SIZE = 30
PROFILE_ITEMS = 12
RELATED_PRODUCTS = 4

PRODUCT_SORTS = [
    ("relevance", "Best match"),
    ("newest", "Newest first"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
]
ASSET_SORTS = [
    ("relevance", "Best match"),
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("title", "Title A to Z"),
]
USER_TYPES = {
    "creator": "Original creator",
    "secondary_creator": "Secondary creator",
    "buyer": "Buyer",
}


def _products(session: DbSession, settings: Settings) -> ProductService:
    return ProductService(session, base_url=settings.public_base_url)


def _assets(session: DbSession, settings: Settings) -> IPAssetService:
    return IPAssetService(session, base_url=settings.public_base_url)


def _uuid(text: str, what: str) -> uuid.UUID:
    """An id from the URL; one that cannot exist is simply not found."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(f"{what} not found") from None


async def _names(
    session: DbSession, products: Sequence[Product] = (), assets: Sequence[IPAsset] = ()
) -> dict[uuid.UUID, str]:
    """Usernames of the sellers and creators shown, in one query."""
    ids = {p.creator_id for p in products} | {a.creator_id for a in assets}
    return await usernames_of(session, ids)


# --- home --------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: DbSession, settings: AppSettings) -> Response:
    products = _products(session, settings)
    newest, on_sale = await products.search(
        ProductFilters(), sort="newest", offset=0, limit=HOME_PRODUCTS
    )
    # Best sellers of the last 30 days; a few more asked than shown, for any since suspended.
    best = await best_selling_product_ids(session, limit=2 * HOME_PRODUCTS)
    popular = (await products.listed_in_order(best))[:HOME_PRODUCTS]
    categories = await products.listed_categories(limit=CATEGORY_LIMIT)
    assets, licensable = await _assets(session, settings).search(
        AssetFilters(), sort="newest", offset=0, limit=HOME_ASSETS
    )
    names = await _names(session, [*newest, *popular], assets)
    copies = await content_credentials.served_images(session, [p.id for p in [*newest, *popular]])
    return render(
        request,
        "public/home.html",
        {
            "products": product_cards(newest, names, settings, copies),
            "popular": product_cards(popular, names, settings, copies),
            "on_sale": on_sale,
            "categories": categories,
            "assets": asset_cards(assets, names),
            "licensable": licensable,
        },
    )


# --- product search and product pages ----------------------------------------------------


@router.get("/products", response_class=HTMLResponse)
async def search_products(
    request: Request, session: DbSession, settings: AppSettings, viewer: Visitor
) -> Response:
    query, kept, problems = read_query(ProductQuery, request.query_params)
    service = _products(session, settings)
    page: dict[str, Any] = {
        "form": kept,
        "categories": await service.listed_categories(limit=CATEGORY_LIMIT),
        "sorts": PRODUCT_SORTS,
        "cards": [],
        "paging": None,
        "chips": [],
        "notes": [],
    }
    if query is None:
        assert problems is not None
        return render(
            request,
            "public/products.html",
            page | {"error": problems.message, "errors": problems.fields},
            status_code=422,
        )
    page["sort"] = query.chosen_sort
    chips: list[tuple[str, str]] = page["chips"]
    notes: list[str] = page["notes"]
    nobody = False
    creator_id = None
    if query.seller:
        seller = await public_profile(session, query.seller)
        chips.append((f"Seller: {query.seller}", url_with("/products", kept, seller=None)))
        if seller is None:
            notes.append(f"No seller is called \u201c{query.seller}\u201d.")
            nobody = True
        else:
            creator_id = seller.id
    if query.ip_asset_id:
        asset = await _visible_asset(session, settings, query.ip_asset_id, viewer)
        title = asset.title if asset else "an IP asset not in the catalogue"
        chips.append((f"Made under: {title}", url_with("/products", kept, ipAssetId=None)))
    if query.category:
        chips.append((f"Category: {query.category}", url_with("/products", kept, category=None)))
    if query.min_price is not None:
        chips.append((f"Price from {query.min_price}", url_with("/products", kept, minPrice=None)))
    if query.max_price is not None:
        chips.append((f"Price up to {query.max_price}", url_with("/products", kept, maxPrice=None)))
    products: list[Product] = []
    total = 0
    if not nobody:
        products, total = await service.search(
            ProductFilters(
                q=query.q or None,
                category=query.category or None,
                min_price=query.min_price,
                max_price=query.max_price,
                ip_asset_id=query.ip_asset_id,
                creator_id=creator_id,
            ),
            sort=query.chosen_sort,
            offset=(query.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    names = await _names(session, products)
    return render(
        request,
        "public/products.html",
        page
        | {
            "q": query.q,
            "cards": product_cards(
                products,
                names,
                settings,
                await content_credentials.served_images(session, [p.id for p in products]),
            ),
            "total": total,
            "paging": Pagination.of(page=query.page, limit=PAGE_SIZE, total=total),
            "base_url": url_with("/products", kept),
            "clear_url": url_with("/products", {"q": query.q} if query.q else {}),
        },
    )


async def _visible_asset(
    session: DbSession, settings: Settings, asset_id: uuid.UUID, viewer: Principal | None
) -> IPAsset | None:
    """The asset a filter names, if the visitor may see it (reading only: nothing to undo)."""
    try:
        return await _assets(session, settings).visible(asset_id, viewer)
    except NotFound:
        return None


@router.get("/products/{product_id}", response_class=HTMLResponse)
async def product_page(
    request: Request,
    product_id: str,
    session: DbSession,
    settings: AppSettings,
    viewer: Visitor,
) -> Response:
    product = await _products(session, settings).visible(_uuid(product_id, "Product"), viewer)
    names = await _names(session, [product])
    answer = await provenance.verify(session, product_id=product.id)
    chain = chain_view(answer) if answer is not None else None
    own = viewer is not None and viewer.id == product.creator_id
    code = (await provenance.codes_of(session, [product.id])).get(product.id) if own else None
    on_sale = (
        product.status == ProductStatus.ACTIVE
        and product.inventory_count > 0
        and chain is not None
        and chain.authentic
    )
    return render(
        request,
        "public/product.html",
        {
            "product": product_cards([product], names, settings)[0],
            "description": product.description,
            "specifications": product.specifications or {},
            # The signed copies (content credentials) in place of the originals, once made.
            "images": signed_files(
                content_credentials.served(
                    await content_credentials.served_images(session, [product.id]),
                    product.id,
                    product.image_file_ids,
                ),
                settings,
            ),
            "published_at": product.published_at,
            "chain": chain,
            "own": own,
            "code": code,
            "on_sale": on_sale,
            "can_buy": viewer is not None and viewer.can(Permission.PURCHASE_PRODUCTS) and not own,
            "max_quantity": min(product.inventory_count, 100),
        },
    )


# --- IP catalogue and asset pages --------------------------------------------------------


@router.get("/ip", response_class=HTMLResponse)
async def ip_catalogue(request: Request, session: DbSession, settings: AppSettings) -> Response:
    query, kept, problems = read_query(AssetQuery, request.query_params)
    service = _assets(session, settings)
    page: dict[str, Any] = {
        "form": kept,
        "facets": await service.facets(limit=FACET_SIZE),
        "sorts": ASSET_SORTS,
        "cards": [],
        "paging": None,
        "chips": [],
        "notes": [],
    }
    if query is None:
        assert problems is not None
        return render(
            request,
            "public/ip_catalogue.html",
            page | {"error": problems.message, "errors": problems.fields},
            status_code=422,
        )
    page["sort"] = query.chosen_sort
    chips: list[tuple[str, str]] = page["chips"]
    nobody = False
    creator_id = None
    if query.creator:
        creator = await public_profile(session, query.creator)
        chips.append((f"Creator: {query.creator}", url_with("/ip", kept, creator=None)))
        if creator is None:
            page["notes"].append(f"No creator is called \u201c{query.creator}\u201d.")
            nobody = True
        else:
            creator_id = creator.id
    if query.category:
        chips.append((f"Category: {query.category}", url_with("/ip", kept, category=None)))
    if query.content_type:
        chips.append((f"Type: {query.content_type}", url_with("/ip", kept, contentType=None)))
    assets: list[IPAsset] = []
    total = 0
    if not nobody:
        assets, total = await service.search(
            AssetFilters(
                q=query.q or None,
                category=query.category or None,
                content_type=query.content_type or None,
                creator_id=creator_id,
            ),
            sort=query.chosen_sort,
            offset=(query.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    names = await _names(session, assets=assets)
    return render(
        request,
        "public/ip_catalogue.html",
        page
        | {
            "q": query.q,
            "cards": asset_cards(assets, names),
            "total": total,
            "paging": Pagination.of(page=query.page, limit=PAGE_SIZE, total=total),
            "base_url": url_with("/ip", kept),
            "clear_url": url_with("/ip", {"q": query.q} if query.q else {}),
        },
    )


@router.get("/ip/{asset_id}", response_class=HTMLResponse)
async def ip_asset_page(
    request: Request, asset_id: str, session: DbSession, settings: AppSettings, viewer: Visitor
) -> Response:
    asset = await _assets(session, settings).visible(_uuid(asset_id, "IP asset"), viewer)
    licensing = LicensingService(session)
    own = viewer is not None and viewer.id == asset.creator_id
    # Terms are public once the asset is licensable; before that only its owner sees them.
    terms = (
        await licensing.list_terms(asset.id, viewer, history=True)
        if own or licensable(asset)
        else []
    )
    derived_from = (
        await licensing.check(asset.parent_license_id) if asset.parent_license_id else None
    )
    products, product_total = await _products(session, settings).search(
        ProductFilters(ip_asset_id=asset.id), sort="newest", offset=0, limit=RELATED_PRODUCTS
    )
    names = await _names(session, products, [asset])
    offered = [t for t in terms_views(terms) if t.current]
    return render(
        request,
        "public/ip_asset.html",
        {
            "asset": asset_cards([asset], names)[0],
            "description": asset.description,
            "asset_status": asset.status,
            "verification_status": asset.verification_status,
            "files": signed_files(asset.file_ids, settings),
            "image": asset.content_type.lower().startswith("image"),
            "credentials": await credential_words(session, asset.file_ids),
            "terms": offered,
            "retired": [t for t in terms_views(terms) if not t.current],
            "derived_from": derived_from,
            "own": own,
            "can_apply": viewer is None or viewer.can(Permission.APPLY_LICENSE),
            "products": product_cards(
                products,
                names,
                settings,
                await content_credentials.served_images(session, [p.id for p in products]),
            ),
            "product_total": product_total,
        },
    )


# --- people ------------------------------------------------------------------------------


@router.get("/people/{username}", response_class=HTMLResponse)
async def person(
    request: Request, username: str, session: DbSession, settings: AppSettings
) -> Response:
    profile: PublicProfile | None = (
        await public_profile(session, username) if len(username) <= 50 else None
    )
    if profile is None:
        raise NotFound("No one has that username")
    assets, asset_total = await _assets(session, settings).search(
        AssetFilters(creator_id=profile.id), sort="newest", offset=0, limit=PROFILE_ITEMS
    )
    products, product_total = await _products(session, settings).search(
        ProductFilters(creator_id=profile.id), sort="newest", offset=0, limit=PROFILE_ITEMS
    )
    names = {profile.id: profile.username}
    return render(
        request,
        "public/person.html",
        {
            "profile": profile,
            "user_type": USER_TYPES.get(profile.user_type, profile.user_type),
            "assets": asset_cards(assets, names),
            "asset_total": asset_total,
            "products": product_cards(
                products,
                names,
                settings,
                await content_credentials.served_images(session, [p.id for p in products]),
            ),
            "product_total": product_total,
        },
    )
