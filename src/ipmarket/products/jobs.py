"""Products' periodic jobs: images of products on sale get their content credentials."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.periodic import periodic
from ipmarket.products.credentials import sign_listed_images


@periodic("products.sign_images", every=timedelta(seconds=30))
async def sign_images(session: AsyncSession) -> None:
    await sign_listed_images(session)
