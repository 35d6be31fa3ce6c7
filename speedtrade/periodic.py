"""The embedded default's beat: `CELERY_BEAT_SCHEDULE` run inside the web server.

`make run` has no Celery worker or beat: tasks run eagerly, in process. Its periodic jobs
(equity snapshots, order expiry, reconciliation, transfer recovery, recurring runs, ...) are
the same schedule run here, as a task of the server's event loop (ASGI lifespan, next to the
in-process feed), each job in a worker thread and one after another. Services mode runs
Celery beat (`make beat`) and leaves PERIODIC_TASKS_IN_PROCESS off, so no job runs twice.

A job is due by its own schedule (`celery.schedules`: intervals and crontabs alike); interval
jobs also run once at start, so a freshly started demo has its first equity point at once.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from celery.schedules import BaseSchedule, maybe_schedule
from channels.db import database_sync_to_async
from django.conf import settings

from speedtrade.celery import app

logger = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 5.0  # as Celery beat's max_interval: a schedule change is never far away


@dataclass
class Job:
    name: str
    task: str
    schedule: BaseSchedule
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    last_run_at: datetime | None = None

    def seconds_until_due(self) -> float:
        """0 when due now; the first check of an interval job is due at once."""
        if self.last_run_at is None:
            if hasattr(self.schedule, "run_every"):
                return 0.0
            self.last_run_at = self.schedule.now()
        due, next_seconds = self.schedule.is_due(self.last_run_at)
        return 0.0 if due else float(next_seconds)


def jobs_from_schedule(schedule: dict) -> list[Job]:
    app.loader.import_default_modules()  # every app's tasks module, as a worker or beat imports them at start
    return [
        Job(
            name=name,
            task=entry["task"],
            schedule=maybe_schedule(entry["schedule"], app=app),
            args=tuple(entry.get("args", ())),
            kwargs=dict(entry.get("kwargs", {})),
        )
        for name, entry in schedule.items()
    ]


def job_run(job: Job) -> None:
    """Run one job's task in this thread, as a worker would (eager tasks raise their failures)."""
    app.tasks[job.task].apply(args=job.args, kwargs=job.kwargs)


class InProcessBeat:
    """The schedule's jobs, each run when due, until stopped."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self._stop = asyncio.Event()
        self.task: asyncio.Task | None = None

    @classmethod
    async def start(cls, schedule: dict | None = None) -> "InProcessBeat":
        beat = cls(jobs_from_schedule(settings.CELERY_BEAT_SCHEDULE if schedule is None else schedule))
        beat.task = asyncio.create_task(beat.run(), name="in-process-beat")
        logger.info("In-process beat started with %d periodic jobs.", len(beat.jobs))
        return beat

    async def run(self) -> None:
        while not self._stop.is_set():
            await self.run_due()
            wait = min([MAX_SLEEP_SECONDS, *(job.seconds_until_due() for job in self.jobs)])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(wait, 0.1))

    async def run_due(self) -> list[str]:
        """Run every job due now; returns their names."""
        ran = []
        for job in self.jobs:
            if job.seconds_until_due() > 0:
                continue
            job.last_run_at = job.schedule.now()
            try:
                await database_sync_to_async(job_run)(job)
            except Exception:  # noqa: BLE001 — one broken job must not stop the others
                logger.exception("Periodic job %s (%s) failed.", job.name, job.task)
            ran.append(job.name)
            if self._stop.is_set():
                break
        return ran

    async def stop(self) -> None:
        self._stop.set()
        if self.task is not None:
            await self.task
