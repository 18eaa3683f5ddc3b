"""The worker process and the embedded background work, started as `ipmarket` starts them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.config import Settings
from ipmarket.eventbus import EventType, Queue
from ipmarket.eventbus.delivery import RetryPolicy
from ipmarket.kit.db import Database
from ipmarket.kit.periodic import PeriodicJob
from ipmarket.worker.main import WorkerOptions, run_background, run_worker
from tests.conftest import RABBITMQ_URL
from tests.eventbus.support import (
    Announcement,
    Recorder,
    delete_rabbitmq_names,
    effects,
    eventually,
    publish_committed,
    unique_prefix,
)

FAST = WorkerOptions(
    poll_interval=0.02,
    retry_policy=RetryPolicy(base=timedelta(milliseconds=50), jitter=0),
    shutdown_timeout=5,
)


class JobRuns:
    def __init__(self) -> None:
        self.count = 0

    def job(self) -> PeriodicJob:
        async def tick(session: AsyncSession) -> None:
            self.count += 1

        return PeriodicJob(name="test.tick", interval=timedelta(milliseconds=50), func=tick)

    async def ran(self) -> bool:
        return self.count >= 2


async def delivered(db: Database, event_id: uuid.UUID) -> bool:
    return await effects(db, "test.mailer", event_id) == 1


async def test_the_worker_relays_events_in_process_and_runs_jobs_until_stopped(
    db: Database, recorder: Recorder, settings: Settings
) -> None:
    # given a worker without RabbitMQ, with a consumer and a periodic job
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    runs = JobRuns()
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(settings, options=FAST, registry=recorder.registry, jobs=[runs.job()], stop=stop)
    )

    # when an event is committed
    event_id = await publish_committed(db, Announcement(note="x"))

    # then the consumer's effect lands, and the job runs repeatedly
    await eventually(lambda: delivered(db, event_id))
    await eventually(runs.ran)

    # and the worker stops when asked
    stop.set()
    await asyncio.wait_for(worker, 10)


async def test_the_worker_uses_rabbitmq_when_configured(
    db: Database, recorder: Recorder, settings: Settings
) -> None:
    # given a worker with RABBITMQ_URL, its queues under a prefix of this test's own
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    prefix = unique_prefix()
    options = WorkerOptions(
        poll_interval=0.02,
        retry_policy=FAST.retry_policy,
        shutdown_timeout=5,
        rabbitmq_prefix=prefix,
    )
    runs = JobRuns()
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(
            settings.model_copy(update={"rabbitmq_url": RABBITMQ_URL}),
            options=options,
            registry=recorder.registry,
            jobs=[runs.job()],
            stop=stop,
        )
    )
    try:
        # when an event is committed
        event_id = await publish_committed(db, Announcement(note="x"))

        # then it goes out through RabbitMQ and its effect lands; the jobs run too
        await eventually(lambda: delivered(db, event_id))
        await eventually(runs.ran)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
        await delete_rabbitmq_names(RABBITMQ_URL, prefix)


@pytest.fixture
def sigterm_fallback() -> Iterator[list[int]]:
    """If the worker failed to take SIGTERM over, this handler keeps the test run alive."""
    caught: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: caught.append(signum))
    yield caught
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_sigterm_stops_the_worker_gracefully(
    db: Database, recorder: Recorder, settings: Settings, sigterm_fallback: list[int]
) -> None:
    # given a running worker
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    runs = JobRuns()
    worker = asyncio.create_task(
        run_worker(settings, options=FAST, registry=recorder.registry, jobs=[runs.job()])
    )
    await eventually(runs.ran)

    # when it receives SIGTERM
    os.kill(os.getpid(), signal.SIGTERM)

    # then it stops on its own, and the previous handler is back in place
    await asyncio.wait_for(worker, 10)
    assert sigterm_fallback == []
    os.kill(os.getpid(), signal.SIGTERM)
    await eventually(lambda: _true_if(sigterm_fallback))


async def _true_if(values: list[int]) -> bool:
    return bool(values)


async def test_the_embedded_background_relays_events_until_stopped(
    db: Database, recorder: Recorder, settings: Settings
) -> None:
    # given the background work `ipmarket serve` starts in the embedded mode
    recorder.add("test.mailer", Queue.NOTIFICATIONS, EventType.SYSTEM_MAINTENANCE)
    runs = JobRuns()
    stop = asyncio.Event()
    background = asyncio.create_task(
        run_background(
            db, settings, stop, options=FAST, registry=recorder.registry, jobs=[runs.job()]
        )
    )

    # when an event is committed, then it is delivered and the jobs run
    event_id = await publish_committed(db, Announcement(note="x"))
    await eventually(lambda: delivered(db, event_id))
    await eventually(runs.ran)

    # and it stops with the server
    stop.set()
    await asyncio.wait_for(background, 10)
