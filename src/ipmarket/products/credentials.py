"""Products' images carry content credentials: a signed C2PA manifest naming the product,
its license chain and its verification page.

Signed in the worker (a periodic job), not in the request that publishes: signing reads and
rewrites every image (hundreds of milliseconds for a large one), which the seller should not
wait for, and a sweep also catches an image added to a product already on sale, and a
signature that failed in a crash, with no event to miss. Until its copy exists, a page
serves the original; the original is never changed.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import content_credentials, provenance
from ipmarket.kit.errors import AppError
from ipmarket.licensing import LicensingService
from ipmarket.products.repository import ProductRepository

log = structlog.get_logger(__name__)
BATCH = 20


async def sign_listed_images(session: AsyncSession, *, limit: int = BATCH) -> int:
    """Sign the images of products on sale that have unsigned ones; how many were signed."""
    products = await ProductRepository(session).with_unsigned_images(limit=limit)
    codes = await provenance.codes_of(session, [p.id for p in products])
    licensing = LicensingService(session)
    signed = 0
    for product in products:
        code = codes.get(product.id)
        if code is None:
            continue
        try:
            chain = await licensing.authorising_chain(product.license_id, product.creator_id)
        except AppError:
            continue  # no longer authorised: the product is being suspended, not signed
        signed += await content_credentials.sign_product_images(
            session,
            content_credentials.ProductImages(
                product_id=product.id,
                owner_id=product.creator_id,
                title=product.title,
                license_ids=[link.license_id for link in chain],
                ip_asset_id=product.ip_asset_id,
                verification_code=code,
                file_ids=product.image_file_ids,
            ),
        )
    if signed:
        log.info("products.images_signed", count=signed)
    return signed
