"""Content credentials use cases: sign a product's images, read an uploaded image's.

c2pa's calls block (they hash the whole image and sign), so they run in a worker thread.
Services flush but never commit: the request or the job owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import anyio.to_thread
import structlog
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.config import Settings, get_settings
from ipmarket.content_credentials.certificates import SigningMaterial, signing_material
from ipmarket.content_credentials.manifest import (
    READABLE_TYPES,
    SIGNABLE_TYPES,
    Credentials,
    Validation,
    read_credentials,
    sign_image,
)
from ipmarket.content_credentials.models import ImageCredentials, SignedImage
from ipmarket.files import (
    Storage,
    StoredFile,
    make_storage,
    read_bytes,
    store_derived,
    stored_files,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Signing:
    """This process's signing setup: where blobs live, what signs, and the public base of
    the verification links."""

    storage: Storage
    material: SigningMaterial
    public_base_url: str


_configured: Signing | None = None


def configure_signing(settings: Settings) -> Signing:
    """Set this process's signing setup (at startup). RuntimeError in production without
    C2PA_CERT_CHAIN and C2PA_PRIVATE_KEY, so a misconfigured deployment does not start."""
    global _configured  # noqa: PLW0603 - one setup per process, like the payment provider
    _configured = Signing(
        storage=make_storage(settings),
        material=signing_material(settings),
        public_base_url=settings.public_base_url.rstrip("/"),
    )
    return _configured


def signing() -> Signing:
    return _configured if _configured is not None else configure_signing(get_settings())


def verification_url(code: str) -> str:
    """The public page that verifies a product by its code."""
    return f"{signing().public_base_url}/verify/{code}"


@dataclass(frozen=True)
class ProductImages:
    """What a product's signed images state."""

    product_id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    license_ids: Sequence[uuid.UUID]  # every license of its chain (licensing.authorising_chain)
    ip_asset_id: uuid.UUID
    verification_code: str
    file_ids: Sequence[uuid.UUID]


async def sign_product_images(session: AsyncSession, product: ProductImages) -> int:
    """Store a signed copy of each JPEG/PNG image of `product` that has none yet; the other
    images are recorded as not signable. Returns how many copies were made."""
    done = await _signed_originals(session, product.product_id)
    todo = [f for f in dict.fromkeys(product.file_ids) if f not in done]
    if not todo:
        return 0
    setup = signing()
    files = await stored_files(session, todo)
    made = 0
    for file_id in todo:
        stored = files.get(file_id)
        signed_id, problem = None, None
        if stored is None or stored.content_type not in SIGNABLE_TYPES:
            problem = "not a JPEG or PNG image"
        else:
            try:
                signed_id = (await _signed_copy(session, setup, stored, product)).id
                made += 1
            except Exception as error:  # c2pa refuses a broken image: keep the original
                problem = f"{type(error).__name__}: {error}"[:500]
                log.warning("content_credentials.sign_failed", file_id=str(file_id), error=problem)
        await session.execute(
            insert(SignedImage)
            .values(
                product_id=product.product_id,
                original_file_id=file_id,
                signed_file_id=signed_id,
                problem=problem,
            )
            .on_conflict_do_nothing(index_elements=["product_id", "original_file_id"])
        )
    return made


async def _signed_copy(
    session: AsyncSession, setup: Signing, stored: StoredFile, product: ProductImages
) -> StoredFile:
    assertion: dict[str, Any] = {
        "productId": str(product.product_id),
        "title": product.title,
        "ipAssetId": str(product.ip_asset_id),
        "licenseChain": [str(i) for i in product.license_ids],
        "verificationUrl": verification_url(product.verification_code),
    }
    data = await read_bytes(setup.storage, stored)
    signed = await anyio.to_thread.run_sync(
        lambda: sign_image(
            data,
            stored.content_type,
            title=product.title,
            assertion=assertion,
            material=setup.material,
            version=version("ipmarket"),
        )
    )
    return await store_derived(
        session,
        setup.storage,
        owner_id=product.owner_id,
        data=signed,
        content_type=stored.content_type,
        filename=stored.original_filename,
    )


async def _signed_originals(session: AsyncSession, product_id: uuid.UUID) -> set[uuid.UUID]:
    stmt = select(SignedImage.original_file_id).where(SignedImage.product_id == product_id)
    return set((await session.execute(stmt)).scalars())


async def served_images(
    session: AsyncSession, product_ids: Collection[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID]:
    """The signed copy to serve for each (product id, original file id) that has one (one
    query for the whole list)."""
    if not product_ids:
        return {}
    stmt = select(
        SignedImage.product_id, SignedImage.original_file_id, SignedImage.signed_file_id
    ).where(SignedImage.product_id.in_(set(product_ids)), SignedImage.signed_file_id.is_not(None))
    return {
        (row.product_id, row.original_file_id): row.signed_file_id
        for row in (await session.execute(stmt)).all()
        if row.signed_file_id is not None
    }


def served(
    copies: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID],
    product_id: uuid.UUID,
    file_ids: Sequence[uuid.UUID],
) -> list[uuid.UUID]:
    """A product's image ids as served: each signed copy in place of its original."""
    return [copies.get((product_id, f), f) for f in file_ids]


async def record_credentials(session: AsyncSession, files: Sequence[StoredFile]) -> None:
    """Read once the credentials each image among `files` carries (none is recorded too)."""
    images = [f for f in files if f.content_type in READABLE_TYPES]
    if not images:
        return
    known = await credentials_of(session, [f.id for f in images])
    storage = signing().storage
    for stored in images:
        if stored.id in known:
            continue
        data = await read_bytes(storage, stored)
        found = await anyio.to_thread.run_sync(read_credentials, data, stored.content_type)
        await session.execute(
            insert(ImageCredentials)
            .values(
                file_id=stored.id,
                validation=found.validation.value if found else None,
                author=found.author if found else None,
                tool=found.tool if found else None,
                signer=found.signer if found else None,
                title=found.title if found else None,
            )
            .on_conflict_do_nothing(index_elements=["file_id"])
        )


async def credentials_of(
    session: AsyncSession, file_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Credentials | None]:
    """What was read of each file among `file_ids` that was read: its credentials, or None
    when it carried none (one query). Files never read are absent."""
    if not file_ids:
        return {}
    stmt = select(ImageCredentials).where(ImageCredentials.file_id.in_(set(file_ids)))
    return {
        row.file_id: (
            Credentials(
                validation=Validation(row.validation),
                author=row.author,
                tool=row.tool,
                signer=row.signer,
                title=row.title,
            )
            if row.validation is not None
            else None
        )
        for row in (await session.execute(stmt)).scalars()
    }


async def resign_product_images(session: AsyncSession, product_id: uuid.UUID) -> None:
    """What a product's images state changed (its title): their copies are made again by the
    next signing run. Until then the originals are served; old copies stay as files."""
    await session.execute(delete(SignedImage).where(SignedImage.product_id == product_id))
