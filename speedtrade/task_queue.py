"""Queueing a task whose work a beat sweep also finds: a broker outage must not fail the caller.

The caller's transaction has committed (this runs from `transaction.on_commit`): the work is
recorded in the database in a non-final state, and the sweep for that state (`recover_transfers`,
`reconcile_orders`) queues it again. Raising here would answer a 500 for a request that succeeded.
"""

import logging

from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def task_queue_or_leave_to_sweep(task, *args, **options) -> bool:
    """`task.apply_async(args, **options)`; False (logged) when the broker cannot take it."""
    try:
        task.apply_async(args=args, **options)
    except OperationalError as unreachable:
        logger.warning("Broker unreachable: %s%r left to its recovery sweep (%s).", task.name, args, unreachable)
        return False
    return True
