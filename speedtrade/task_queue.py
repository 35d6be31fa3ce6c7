"""Queueing a task whose work a beat sweep also finds: a broker outage must not fail the caller.

The caller's transaction has committed (this runs from `transaction.on_commit`): the work is
recorded in the database in a non-final state, and the sweep for that state (`recover_transfers`,
`reconcile_orders`) queues it again. Raising here would answer a 500 for a request that succeeded.

A service names its task (Celery's name, e.g. "portfolios.tasks.settle_transfer") instead of
importing it: the tasks module imports the services, never the reverse.
"""

import logging
import threading
from functools import cache

from celery import current_app
from celery.app.task import Task
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


_registry_filling = threading.Lock()


def _task_registry() -> dict:
    # One thread fills it: a web worker's first burst of requests (one thread each) asking at once found the
    # registry half filled (40 of 50 concurrent first calls: NotRegistered, the trade notifications lost).
    with _registry_filling:
        return _task_registry_filled()


@cache
def _task_registry_filled() -> dict:
    # What a worker does at start: import every app's tasks module (autodiscovery), so each
    # task is registered under its name in a web process too.
    current_app.loader.import_default_modules()
    return current_app.tasks


def task_named(name: str) -> Task:
    """The registered task called `name` (its module's path and function name)."""
    return _task_registry()[name]


def task_queue_or_leave_to_sweep(task: Task | str, *args, **options) -> bool:
    """`task.apply_async(args, **options)`; False (logged) when the broker cannot take it."""
    if isinstance(task, str):
        task = task_named(task)
    try:
        task.apply_async(args=args, **options)
    except OperationalError as unreachable:
        logger.warning("Broker unreachable: %s%r left to its recovery sweep (%s).", task.name, args, unreachable)
        return False
    return True
