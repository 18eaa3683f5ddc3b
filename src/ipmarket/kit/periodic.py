"""Periodic jobs as modules declare them: `@periodic(name, every=...)` on a coroutine
`async def job(session: AsyncSession) -> None`.

The declaration lives in the kernel so that feature modules need not import the worker that
runs them (`ipmarket.worker.scheduler`). Jobs register when their module is imported, which
`ipmarket.runtime.bootstrap` does for every module, like event consumers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

JobFunc = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval: timedelta
    func: JobFunc
    # Run as soon as the scheduler starts, rather than one interval later.
    run_at_start: bool = True

    def __post_init__(self) -> None:
        if self.interval <= timedelta(0):
            raise ValueError(f"job {self.name}: the interval must be positive")


@dataclass
class JobRegistry:
    """Named jobs; modules' jobs are registered (with `periodic`) when they are imported."""

    jobs: dict[str, PeriodicJob] = field(default_factory=dict)

    def add(self, job: PeriodicJob) -> None:
        if job.name in self.jobs:
            raise ValueError(f"periodic job {job.name} is registered twice")
        self.jobs[job.name] = job

    def periodic(
        self, name: str, *, every: timedelta, run_at_start: bool = True
    ) -> Callable[[JobFunc], JobFunc]:
        def decorate(func: JobFunc) -> JobFunc:
            self.add(PeriodicJob(name=name, interval=every, func=func, run_at_start=run_at_start))
            return func

        return decorate

    def __iter__(self) -> Iterator[PeriodicJob]:
        return iter(list(self.jobs.values()))


job_registry = JobRegistry()
periodic = job_registry.periodic
