"""How trading's services hand work to its Celery tasks, without importing them.

Tasks import services, never the reverse: `trading.tasks` imports the services (and
reconciliation, which imports them too), so a service that imported the tasks module would
close an import cycle. The task is looked up by its dotted name when the message is sent,
after commit; run eagerly (embedded default, tests) it executes in process as before.
"""

from django.utils.module_loading import import_string

from speedtrade.task_queue import task_queue_or_leave_to_sweep

SUBMIT_ORDER = "trading.tasks.submit_order"
CANCEL_ORDER = "trading.tasks.cancel_order"


def order_submit_queue(order_id) -> None:
    # A `new` order whose message never reached the broker is queued again by `reconcile_orders`.
    task_queue_or_leave_to_sweep(import_string(SUBMIT_ORDER), str(order_id))


def order_cancel_queue(order_id) -> None:
    import_string(CANCEL_ORDER).delay(str(order_id))
