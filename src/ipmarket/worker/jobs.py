"""The worker's own periodic jobs."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus.maintenance import purge_delivered
from ipmarket.kit.periodic import PeriodicJob

log = structlog.get_logger(__name__)

OUTBOX_CLEANUP_JOB = "eventbus.purge_delivered"


def outbox_cleanup_job(
    *,
    retention: timedelta = timedelta(days=7),
    interval: timedelta = timedelta(minutes=10),
    batch_size: int = 5000,
) -> PeriodicJob:
    """Delete events published more than `retention` ago whose deliveries are all processed
    (delivery records first: they reference the event), `batch_size` at most per run.
    Events with a pending or dead delivery are kept for the relay or an operator."""

    async def purge(session: AsyncSession) -> None:
        deleted = await purge_delivered(session, older_than=retention, batch_size=batch_size)
        if deleted:
            log.info("outbox.purged", events=deleted, retention_days=retention.days)

    return PeriodicJob(name=OUTBOX_CLEANUP_JOB, interval=interval, func=purge)
