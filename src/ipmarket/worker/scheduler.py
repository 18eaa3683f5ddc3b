"""A small scheduler of periodic jobs (declared with `ipmarket.kit.periodic`).

A job is a coroutine `async def job(session: AsyncSession) -> None` run every `interval`, each
run in its own transaction (committed when the job returns, rolled back when it raises). Each
run holds a PostgreSQL advisory lock on the job's name for its transaction, so when several
processes run the scheduler a job never runs twice at the same time; a process that finds the
lock taken skips that run. Intervals are counted per process, from the end of a run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import structlog
from prometheus_client import Counter
from sqlalchemy import func, select

from ipmarket.eventbus.relay import wait_for_stop
from ipmarket.kit.db import Database
from ipmarket.kit.periodic import PeriodicJob

log = structlog.get_logger(__name__)

# The first key of the two-key advisory locks that guard periodic jobs.
ADVISORY_LOCK_NAMESPACE = 0x1B5C

JOB_RUNS = Counter(
    "ipmarket_periodic_job_runs_total",
    "Runs of periodic jobs, by outcome (succeeded, failed, skipped).",
    ["job", "outcome"],
)


class Scheduler:
    def __init__(self, db: Database, jobs: Iterable[PeriodicJob]) -> None:
        self._db = db
        self._jobs = list(jobs)
        names = [job.name for job in self._jobs]
        if len(set(names)) != len(names):
            raise ValueError("two periodic jobs share a name")

    @property
    def jobs(self) -> list[PeriodicJob]:
        return list(self._jobs)

    async def run_job(self, job: PeriodicJob) -> bool:
        """Run `job` once in its own transaction; False if another process was running it
        or it failed (the failure is logged, its work rolled back)."""
        started = time.monotonic()
        try:
            async with self._db.transaction() as session:
                locked = await session.scalar(
                    select(
                        func.pg_try_advisory_xact_lock(
                            ADVISORY_LOCK_NAMESPACE, func.hashtext(job.name)
                        )
                    )
                )
                if not locked:
                    JOB_RUNS.labels(job.name, "skipped").inc()
                    log.info("job.skipped", job=job.name, reason="running elsewhere")
                    return False
                await job.func(session)
        except Exception:
            JOB_RUNS.labels(job.name, "failed").inc()
            log.exception("job.failed", job=job.name)
            return False
        JOB_RUNS.labels(job.name, "succeeded").inc()
        log.info("job.succeeded", job=job.name, seconds=round(time.monotonic() - started, 3))
        return True

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run every job on its interval until `stop` is set; a run in progress finishes."""
        if not self._jobs:
            await stop.wait()
            return
        log.info("scheduler.started", jobs=[job.name for job in self._jobs])
        async with asyncio.TaskGroup() as group:
            for job in self._jobs:
                group.create_task(self._loop(job, stop), name=f"job:{job.name}")
        log.info("scheduler.stopped")

    async def _loop(self, job: PeriodicJob, stop: asyncio.Event) -> None:
        if not job.run_at_start:
            await wait_for_stop(stop, job.interval.total_seconds())
        while not stop.is_set():
            await self.run_job(job)
            await wait_for_stop(stop, job.interval.total_seconds())
