"""The worker process (`ipmarket worker`) and the background work of `ipmarket serve`.

- With RABBITMQ_URL: the outbox publisher relay, the queue consumers and the periodic jobs.
- Without: the in-process outbox relay and the periodic jobs (`run_background`, which
  `ipmarket serve` also runs in the embedded mode).

Either way it runs until SIGTERM or SIGINT, then stops taking work, lets the work in progress
finish (up to `WorkerOptions.shutdown_timeout` for queue consumers) and closes connections.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog

from ipmarket.config import Settings
from ipmarket.eventbus.delivery import RetryPolicy
from ipmarket.eventbus.rabbitmq import OutboxPublisher, RabbitBroker, RabbitConsumer, Topology
from ipmarket.eventbus.registry import ConsumerRegistry
from ipmarket.eventbus.registry import registry as default_registry
from ipmarket.eventbus.relay import MAX_IDLE_BACKOFF_SECONDS, OutboxRelay, wait_for_stop
from ipmarket.kit.db import Database
from ipmarket.kit.periodic import PeriodicJob, job_registry
from ipmarket.runtime import bootstrap
from ipmarket.worker.jobs import outbox_cleanup_job
from ipmarket.worker.scheduler import Scheduler

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """Tuning of the relays, consumers and jobs; the defaults suit production."""

    poll_interval: float = 0.5
    batch_size: int = 100
    # Deliveries the in-process relay runs at once (each holds a database connection).
    relay_concurrency: int = 4
    handler_timeout: float | None = 300.0
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    outbox_retention: timedelta = timedelta(days=7)
    cleanup_interval: timedelta = timedelta(minutes=10)
    rabbitmq_prefix: str = "ipmarket"
    prefetch_count: int = 16
    shutdown_timeout: float = 30.0


def default_jobs(options: WorkerOptions | None = None) -> list[PeriodicJob]:
    """The outbox cleanup plus every job registered with `ipmarket.kit.periodic.periodic`."""
    options = options or WorkerOptions()
    return [
        outbox_cleanup_job(retention=options.outbox_retention, interval=options.cleanup_interval),
        *job_registry,
    ]


def _resolve(
    registry: ConsumerRegistry | None, jobs: Iterable[PeriodicJob] | None, options: WorkerOptions
) -> tuple[ConsumerRegistry, list[PeriodicJob]]:
    # `bootstrap` has imported every module, so the global registries are complete.
    registry = registry if registry is not None else default_registry
    return registry, list(jobs) if jobs is not None else default_jobs(options)


async def run_background(
    db: Database,
    settings: Settings,
    stop: asyncio.Event,
    *,
    options: WorkerOptions | None = None,
    registry: ConsumerRegistry | None = None,
    jobs: Iterable[PeriodicJob] | None = None,
) -> None:
    """The embedded mode: the in-process outbox relay and the periodic jobs, until `stop`.

    `ipmarket serve` starts it as a background task when `settings.run_relay_in_process`,
    sets `stop` on shutdown and awaits it (the delivery or job in progress finishes first).
    Without `registry`, the global registry (complete after `bootstrap`) is used.
    """
    options = options or WorkerOptions()
    registry, job_list = _resolve(registry, jobs, options)
    if settings.rabbitmq_url:
        log.warning(
            "background.conflicting_relays",
            detail="RABBITMQ_URL is set: events relayed in-process never reach RabbitMQ",
        )
    log.info(
        "background.started",
        consumers=sorted(registry.consumers),
        jobs=[job.name for job in job_list],
    )
    await _run_in_process(db, stop, options=options, registry=registry, jobs=job_list)


async def _run_in_process(
    db: Database,
    stop: asyncio.Event,
    *,
    options: WorkerOptions,
    registry: ConsumerRegistry,
    jobs: list[PeriodicJob],
) -> None:
    relay = OutboxRelay(
        db,
        registry=registry,
        retry_policy=options.retry_policy,
        batch_size=options.batch_size,
        concurrency=options.relay_concurrency,
        handler_timeout=options.handler_timeout,
    )
    scheduler = Scheduler(db, jobs)
    async with asyncio.TaskGroup() as group:
        group.create_task(relay.run_forever(stop, options.poll_interval), name="outbox-relay")
        group.create_task(scheduler.run_forever(stop), name="scheduler")


async def _connect(broker: RabbitBroker, stop: asyncio.Event) -> bool:
    """Connect, retrying with a growing pause until it works or `stop` is set."""
    pause = 1.0
    while not stop.is_set():
        try:
            await broker.connect()
        except Exception as exc:  # retried; the reason is logged
            log.warning("broker.connect_failed", error=repr(exc), retry_in=pause)
            await wait_for_stop(stop, pause)
            pause = min(pause * 2, MAX_IDLE_BACKOFF_SECONDS)
        else:
            return True
    return False


async def _run_rabbitmq(
    db: Database,
    url: str,
    stop: asyncio.Event,
    *,
    options: WorkerOptions,
    registry: ConsumerRegistry,
    jobs: list[PeriodicJob],
) -> None:
    broker = RabbitBroker(
        url,
        registry=registry,
        topology=Topology(options.rabbitmq_prefix),
        prefetch_count=options.prefetch_count,
    )
    if not await _connect(broker, stop):
        return
    publisher = OutboxPublisher(db, broker, batch_size=options.batch_size)
    consumer = RabbitConsumer(
        db, broker, retry_policy=options.retry_policy, handler_timeout=options.handler_timeout
    )
    scheduler = Scheduler(db, jobs)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(
                publisher.run_forever(stop, options.poll_interval), name="outbox-publisher"
            )
            group.create_task(scheduler.run_forever(stop), name="scheduler")
            await consumer.start()
            try:
                await stop.wait()
            finally:
                await consumer.stop(options.shutdown_timeout)
    finally:
        await broker.close()


async def run_worker(
    settings: Settings,
    *,
    options: WorkerOptions | None = None,
    registry: ConsumerRegistry | None = None,
    jobs: Iterable[PeriodicJob] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """`ipmarket worker`: relay events and run periodic jobs until SIGTERM/SIGINT (or `stop`).

    Uses RabbitMQ when `settings.rabbitmq_url` is set, the in-process relay otherwise.
    The process is wired by `bootstrap`, as the API's is; without `registry`, the global
    registry it completes is used.
    """
    options = options or WorkerOptions()
    runtime = bootstrap(settings)
    registry, job_list = _resolve(registry, jobs, options)
    stop = stop or asyncio.Event()
    restore = _install_signal_handlers(stop)
    mode = "rabbitmq" if settings.rabbitmq_url else "in-process"
    log.info(
        "worker.started",
        mode=mode,
        consumers=sorted(registry.consumers),
        jobs=[job.name for job in job_list],
    )
    try:
        if settings.rabbitmq_url:
            await _run_rabbitmq(
                runtime.db,
                settings.rabbitmq_url,
                stop,
                options=options,
                registry=registry,
                jobs=job_list,
            )
        else:
            await _run_in_process(
                runtime.db, stop, options=options, registry=registry, jobs=job_list
            )
    finally:
        restore()
        await runtime.close()
        log.info("worker.stopped", mode=mode)


def _install_signal_handlers(stop: asyncio.Event) -> Callable[[], None]:
    """Set `stop` on SIGTERM/SIGINT; return a function that puts the old handlers back."""
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(sig: signal.Signals) -> None:
        log.info("worker.stopping", signal=sig.name, already_stopping=stop.is_set())
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.getsignal(sig)
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError, ValueError):
            previous.pop(sig, None)  # not the main thread, or no signals on this platform

    def restore() -> None:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            if handler is not None:
                signal.signal(sig, handler)

    return restore
