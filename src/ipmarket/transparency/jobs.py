"""The log's periodic job: `transparency.sign_checkpoint`, every minute, signs a checkpoint
when the tree grew since the last one (and does nothing otherwise)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.periodic import periodic
from ipmarket.transparency.service import sign_checkpoint


@periodic("transparency.sign_checkpoint", every=timedelta(seconds=60))
async def sign_checkpoint_job(session: AsyncSession) -> None:
    await sign_checkpoint(session)
