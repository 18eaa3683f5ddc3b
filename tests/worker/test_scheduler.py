"""Periodic jobs: each run in its own transaction, on its interval, once at a time."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.db import Database
from ipmarket.kit.periodic import JobRegistry, PeriodicJob
from ipmarket.worker.scheduler import Scheduler
from tests.eventbus.support import Recorder, effects, eventually

JOB_EVENT = uuid.UUID(int=0)


async def record_run(session: AsyncSession, job: str) -> None:
    await session.execute(
        text("INSERT INTO eventbus_test_effects (event_id, consumer) VALUES (:e, :c)"),
        {"e": JOB_EVENT, "c": job},
    )


async def test_a_periodic_job_runs_on_its_interval_until_stopped(
    db: Database, recorder: Recorder
) -> None:
    # given a job every 50 ms that records each run, the second run failing after its work
    runs = 0

    async def tick(session: AsyncSession) -> None:
        nonlocal runs
        runs += 1
        await record_run(session, "test.tick")
        if runs == 2:
            raise RuntimeError("the second run fails")

    scheduler = Scheduler(
        db, [PeriodicJob(name="test.tick", interval=timedelta(milliseconds=50), func=tick)]
    )
    stop = asyncio.Event()

    # when the scheduler runs for a while
    task = asyncio.create_task(scheduler.run_forever(stop))

    async def ran_four_times() -> bool:
        return runs >= 4

    await eventually(ran_four_times, within=5)
    stop.set()
    await asyncio.wait_for(task, 5)

    # then every run but the failed one committed its work, and the failure stopped nothing
    assert await effects(db, "test.tick") == runs - 1

    # and after stopping no run starts
    finished = runs
    await asyncio.sleep(0.15)
    assert runs == finished


async def test_a_job_never_runs_twice_at_the_same_time(db: Database, recorder: Recorder) -> None:
    # given a slow job, known to two schedulers (as in two worker processes)
    async def slow(session: AsyncSession) -> None:
        await record_run(session, "test.slow")
        await asyncio.sleep(0.2)

    job = PeriodicJob(name="test.slow", interval=timedelta(minutes=1), func=slow)
    first, second = Scheduler(db, [job]), Scheduler(db, [job])

    # when both run it at once
    results = await asyncio.gather(first.run_job(job), second.run_job(job))

    # then one ran it and the other skipped it
    assert sorted(results) == [False, True]
    assert await effects(db, "test.slow") == 1


async def test_a_job_can_wait_an_interval_before_its_first_run(
    db: Database, recorder: Recorder
) -> None:
    async def tick(session: AsyncSession) -> None:
        await record_run(session, "test.later")

    job = PeriodicJob(
        name="test.later", interval=timedelta(seconds=30), func=tick, run_at_start=False
    )
    stop = asyncio.Event()
    task = asyncio.create_task(Scheduler(db, [job]).run_forever(stop))
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert await effects(db, "test.later") == 0


def test_jobs_are_registered_once_by_name() -> None:
    jobs = JobRegistry()

    @jobs.periodic("test.daily", every=timedelta(days=1))
    async def daily(session: AsyncSession) -> None:
        return None

    assert [job.name for job in jobs] == ["test.daily"]
    with pytest.raises(ValueError, match="registered twice"):
        jobs.add(PeriodicJob(name="test.daily", interval=timedelta(hours=1), func=daily))
    with pytest.raises(ValueError, match="positive"):
        PeriodicJob(name="test.never", interval=timedelta(0), func=daily)
