"""Licensing's periodic jobs: licenses expire, and undecided applications whose fee hold
lapsed expire."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.periodic import periodic
from ipmarket.licensing.service import expire_due, expire_lapsed_fee_holds

log = structlog.get_logger(__name__)


@periodic("licensing.expire_licenses", every=timedelta(minutes=1))
async def expire_licenses(session: AsyncSession) -> None:
    expired = await expire_due(session)
    if expired:
        log.info("licenses.expired", count=expired)


@periodic("licensing.expire_lapsed_fee_holds", every=timedelta(minutes=10))
async def expire_lapsed_fee_holds_job(session: AsyncSession) -> None:
    """Applications left undecided while their fee's card hold ran out expire, the hold
    released (see `FEE_HOLD_WINDOW`)."""
    expired = await expire_lapsed_fee_holds(session)
    if expired:
        log.info("licenses.fee_holds_lapsed", count=expired)
