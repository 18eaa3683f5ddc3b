"""The payments module's periodic jobs (registered when `ipmarket.handlers` imports this).

- `payments.release_matured_earnings`, every minute: earnings whose hold period is over
  become available (the ledger's `release_matured`, against the app clock).
- `payments.ensure_transaction_partitions`, daily: the yearly partitions of `transactions`
  for this year and the next exist, so a sale on New Year's Eve always has its partition.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.payments.ledger import release_matured
from ipmarket.worker.scheduler import periodic

log = structlog.get_logger(__name__)

# Entries released per statement batch, and batches per run: a run catches up on a backlog
# of up to RELEASE_BATCH * RELEASE_BATCHES_PER_RUN entries within one short transaction.
RELEASE_BATCH = 1000
RELEASE_BATCHES_PER_RUN = 10


@periodic("payments.release_matured_earnings", every=timedelta(minutes=1))
async def release_matured_earnings(session: AsyncSession) -> None:
    now = utcnow()
    released = 0
    for _ in range(RELEASE_BATCHES_PER_RUN):
        batch = await release_matured(session, now=now, limit=RELEASE_BATCH)
        released += batch
        if batch < RELEASE_BATCH:
            break
    if released:
        log.info("payments.earnings_released", entries=released)


@periodic("payments.ensure_transaction_partitions", every=timedelta(days=1))
async def ensure_transaction_partitions(session: AsyncSession) -> None:
    year = utcnow().year
    for y in (year, year + 1):
        # Creating a partition locks the parent table: only when it is missing.
        if await session.scalar(select(func.to_regclass(f"transactions_{y}"))) is None:
            await session.execute(select(func.ipmarket_ensure_transactions_partition(y)))
            log.info("payments.partition_created", table=f"transactions_{y}")
