"""The payments module's periodic jobs."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.periodic import periodic
from ipmarket.payments.idempotency import purge_expired_keys
from ipmarket.payments.license_fees import LicenseFeeService
from ipmarket.payments.reservations import expire_reservations

log = structlog.get_logger(__name__)


@periodic("payments.expire_reservations", every=timedelta(minutes=1))
async def expire_reservations_job(session: AsyncSession) -> None:
    ended = await expire_reservations(session)
    if ended:
        log.info("payments.reservations_expired", count=ended)


@periodic("payments.reconcile_license_fees", every=timedelta(minutes=5))
async def reconcile_license_fees_job(session: AsyncSession) -> None:
    """License fees left pending by a decision whose transaction rolled back after the
    provider acted, or by a release the provider could not be reached for."""
    settled = await LicenseFeeService(session).reconcile_license_fees()
    if settled:
        log.info("payments.license_fees_reconciled", count=settled)


@periodic("payments.purge_idempotency_keys", every=timedelta(hours=1))
async def purge_idempotency_keys_job(session: AsyncSession) -> None:
    purged = await purge_expired_keys(session)
    if purged:
        log.info("payments.idempotency_keys_purged", count=purged)
