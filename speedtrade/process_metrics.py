"""Prometheus metrics of every process kind, beyond django-prometheus's HTTP and database ones.

* web: `/metrics` (speedtrade/metrics.py) adds up all uvicorn workers of the machine — Prometheus
  multiprocess mode: `manage.py serve` points PROMETHEUS_MULTIPROC_DIR at an emptied directory
  before it starts the workers, and each worker writes its samples there. Open WebSockets.
* worker, beat, feed, order engine, broker streams: their own endpoint on METRICS_PORT (0: none), started by
  `metrics_endpoint_start`. A prefork worker's children write to PROMETHEUS_MULTIPROC_DIR as well,
  which the worker's endpoint then aggregates. Queue depth and task latency (publish → start) from
  the worker, quote age and batches from the feed, orders and batch times from the order engine,
  leadership (1 active, 0 standby) from each singleton.
"""

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import prometheus_client
from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram, multiprocess

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

singleton_active = Gauge(
    "speedtrade_singleton_active",
    "1 while this process leads its singleton kind, 0 on standby.",
    ["kind"],
    multiprocess_mode="max",
)
task_queue_depth = Gauge(
    "speedtrade_task_queue_depth",
    "Messages waiting in the task queue (sampled by the worker).",
    ["queue"],
    multiprocess_mode="max",
)
task_latency = Histogram(
    "speedtrade_task_latency_seconds",
    "From publish to the start of the task (countdowns excluded).",
    ["task"],
    buckets=LATENCY_BUCKETS,
)
task_runtime = Histogram(
    "speedtrade_task_runtime_seconds", "Task run time.", ["task", "state"], buckets=LATENCY_BUCKETS
)
quote_age = Gauge(
    "speedtrade_feed_quote_age_seconds",
    "Age of the newest quote in the feed's latest batch, when handled.",
    multiprocess_mode="max",
)
feed_batches = Counter("speedtrade_feed_batches", "Tick batches handled by the feed.")
engine_orders = Counter("speedtrade_engine_orders", "Paper orders the order engine took (accepted, filled or refused).")
engine_batch_seconds = Histogram(
    "speedtrade_engine_batch_seconds",
    "One paper batch of the order engine, claim to pushes sent.",
    buckets=LATENCY_BUCKETS,
)
websockets_open = Gauge("speedtrade_websockets_open", "Open WebSocket connections.", multiprocess_mode="livesum")


def multiprocess_dir_prepare(path: str) -> None:
    """Start a fresh multiprocess directory (stale files of dead processes would be counted) and use it."""
    shutil.rmtree(path, ignore_errors=True)
    Path(path).mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


def scrape_registry() -> prometheus_client.CollectorRegistry:
    """What an endpoint serves: every process's files in multiprocess mode, else this process's registry."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


def metrics_endpoint_start(kind: str) -> int | None:
    """Serve this process's metrics on METRICS_ADDR:METRICS_PORT (a thread); the port, or None when off."""
    port = settings.METRICS_PORT
    if not port:
        return None
    prometheus_client.start_http_server(port, addr=settings.METRICS_ADDR, registry=scrape_registry())
    logger.info("%s metrics on http://%s:%d/metrics", kind, settings.METRICS_ADDR, port)
    return port


def queue_depth_sampler_start(app, queues: list[str], every_seconds: float = 15.0) -> threading.Thread:
    """Sample the broker's queue lengths in the background (passive declare: RabbitMQ and Redis alike)."""

    def sample() -> None:
        while True:
            try:
                with app.connection_for_read() as connection:
                    channel = connection.default_channel
                    for queue in queues:
                        task_queue_depth.labels(queue).set(channel.queue_declare(queue, passive=True).message_count)
            except Exception as failure:  # noqa: BLE001 - a metric must never stop the worker
                logger.debug("queue depth not sampled: %s", failure)
            time.sleep(every_seconds)

    thread = threading.Thread(target=sample, name="queue-depth-sampler", daemon=True)
    thread.start()
    return thread


def multiprocess_dir_forget_dead() -> None:
    """Drop the sample files of processes that no longer exist (a restarted worker's previous pool)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    for path in Path(directory).glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), directory)
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CountedWebSockets:
    """ASGI wrapper for the WebSocket router: counts connections from accept to close."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        accepted = False

        async def counting_send(message):
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                websockets_open.inc()
            await send(message)

        try:
            return await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                websockets_open.dec()
