"""The payments module's periodic jobs (`@periodic`, registered when `ipmarket.registrations`
imports this).

- `payments.expire_reservations`, every minute: unpaid purchases whose reservation is over
  give their stock back (see `checkout.reservations`).
- `payments.reconcile_license_fees`, every 5 minutes: license fees left pending by a decision
  whose transaction rolled back after the provider acted, or by a release the provider could
  not be reached for (see `checkout.license_fees`).
- `payments.purge_idempotency_keys`, hourly: keys past their retention are deleted.

- `payments.release_matured_earnings`, every minute: earnings whose hold period is over
  become available (the ledger's `release_matured`, against the app clock).
- `payments.ensure_transaction_partitions`, daily: the yearly partitions of `transactions`
  for this year and the next exist, so a sale on New Year's Eve always has its partition.
- `payments.reconcile_payouts`, every minute: pending payouts older than a minute (their
  request could not reach the provider, or died) are paid again under the same idempotency
  key until they are paid or failed (see `money_out.payouts`).
- `payments.reconcile_refunds`, every minute: pending refunds older than a minute (their
  request could not reach the provider, or died) are made again under the same idempotency
  key until they succeed or fail (see `refunds`).
- `payments.scheduled_payouts`, every 15 minutes: on the first day of a payout period
  (`settings.payments.payoutSchedule`), everyone whose available balance is at least the
  minimum payout is paid out, once per user and period. A period whose first day passes
  without a run (the worker down all day) is skipped: its balances go out with the next one.

The payout and refund jobs commit as they go (no transaction is open while the provider is
called), so their scheduler lock ends with their first commit; they stay safe to run twice at
once, as every payout or refund is settled under its row lock and made under its own
idempotency key.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.kit.idempotency import purge_expired_keys
from ipmarket.kit.periodic import periodic
from ipmarket.payments.checkout.license_fees import LicenseFeeService
from ipmarket.payments.checkout.reservations import expire_reservations
from ipmarket.payments.ledger import release_matured
from ipmarket.payments.money_out import flows as money_out_flows
from ipmarket.payments.refunds import flows as refund_flows

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


@periodic("payments.reconcile_payouts", every=timedelta(minutes=1))
async def reconcile_payouts(session: AsyncSession) -> None:
    settled = await money_out_flows.settle_stale(session, now=utcnow())
    if settled.paid or settled.failed or settled.pending:
        log.info(
            "payments.payouts_reconciled",
            paid=settled.paid,
            failed=settled.failed,
            still_pending=settled.pending,
        )


@periodic("payments.reconcile_refunds", every=timedelta(minutes=1))
async def reconcile_refunds(session: AsyncSession) -> None:
    settled = await refund_flows.settle_stale_refunds(session, now=utcnow())
    if settled.succeeded or settled.failed or settled.pending:
        log.info(
            "payments.refunds_reconciled",
            succeeded=settled.succeeded,
            failed=settled.failed,
            still_pending=settled.pending,
        )


@periodic("payments.scheduled_payouts", every=timedelta(minutes=15))
async def scheduled_payouts(session: AsyncSession) -> None:
    made = await money_out_flows.pay_out_scheduled(session, now=utcnow())
    if made:
        log.info("payments.scheduled_payouts_made", count=made)


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
