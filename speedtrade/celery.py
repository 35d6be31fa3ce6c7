"""The Celery application. In the embedded default tasks run eagerly, in process."""

import os
import time

from celery import Celery
from celery.signals import beat_init, before_task_publish, task_postrun, task_prerun, worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedtrade.settings")

app = Celery("speedtrade")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def _beat_waits_for_leadership(sender=None, **kwargs) -> None:
    """Only one beat schedules: a second one waits here, as a hot standby, until the first one's lock is free."""
    from speedtrade.locks import AdvisoryLock
    from speedtrade.process_metrics import metrics_endpoint_start
    from speedtrade.singleton import Singleton

    metrics_endpoint_start("beat")
    Singleton(AdvisoryLock.CELERY_BEAT).wait_until_active()


# --- metrics (speedtrade/process_metrics.py) --------------------------------------------------


@before_task_publish.connect
def _stamp_publish_time(headers=None, **kwargs) -> None:
    if headers is not None:
        headers.setdefault("published_at", time.time())


@task_prerun.connect
def _task_started(task=None, **kwargs) -> None:
    from speedtrade.process_metrics import task_latency

    request = task.request
    request.started_at = time.monotonic()
    published_at = getattr(request, "published_at", None) or (request.headers or {}).get("published_at")
    if published_at is None or request.eta:  # a countdown is a wait asked for, not latency
        return
    task_latency.labels(task.name).observe(max(time.time() - float(published_at), 0.0))


@task_postrun.connect
def _task_finished(task=None, state=None, **kwargs) -> None:
    from speedtrade.process_metrics import task_runtime

    started_at = getattr(task.request, "started_at", None)
    if started_at is not None:
        task_runtime.labels(task.name, state or "UNKNOWN").observe(time.monotonic() - started_at)


@task_postrun.connect
def _task_connections_returned(task=None, **kwargs) -> None:
    """After each task what a request's end does: its connection back to the pool (or, persistent, dropped if
    broken or too old). Celery's fixup only closes them every CELERY_DB_REUSE_MAX tasks (settings.py: why)."""
    from django.db import close_old_connections

    if not getattr(task.request, "is_eager", False):
        close_old_connections()


@worker_init.connect
def _worker_metrics_endpoint(sender=None, **kwargs) -> None:
    from speedtrade.process_metrics import metrics_endpoint_start, multiprocess_dir_forget_dead

    multiprocess_dir_forget_dead()
    metrics_endpoint_start("worker")


@worker_ready.connect
def _worker_samples_queue_depth(sender=None, **kwargs) -> None:
    from speedtrade.process_metrics import queue_depth_sampler_start

    queue_depth_sampler_start(app, [queue.name for queue in app.amqp.queues.values()])
