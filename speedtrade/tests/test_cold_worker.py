"""A web worker is ready for a crowd from its first request: what Django builds lazily on the first request and
rebuilds in every thread that asks meanwhile is built when the ASGI app loads (issue 22: a worker restarted under
250 orders/s answered nothing for minutes, each of hundreds of threads building the URL maps again), and what it
loaded is kept out of the garbage collector's full collections."""

from speedtrade.tests.test_settings_modes import DEVELOPMENT, run

URL_MAPS_BUILT = """
import speedtrade.asgi
from django.urls import URLResolver, get_resolver

def unbuilt(resolver):
    missing = [] if resolver._populated else [str(resolver.pattern)]
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            missing += unbuilt(pattern)
    return missing

print(unbuilt(get_resolver()))
"""


def test_every_url_map_is_built_before_a_worker_serves():
    result = run(DEVELOPMENT, "-c", URL_MAPS_BUILT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


STARTUP_OBJECTS = """
import gc
import speedtrade.asgi

print(gc.get_freeze_count(), len(gc.get_objects()))
"""


def test_a_full_collection_in_a_serving_worker_skips_what_it_loaded_at_start():
    """What the app loads lives as long as the worker: a full garbage collection walking it paused every request
    of the worker for 0.1–0.9 s."""
    result = run(DEVELOPMENT, "-c", STARTUP_OBJECTS)
    assert result.returncode == 0, result.stderr
    frozen, collectable = map(int, result.stdout.split())
    assert frozen > 100_000 and collectable < frozen / 100


CONCURRENT_FIRST_TASK_LOOKUPS = """
import threading

import speedtrade.asgi
from speedtrade.task_queue import task_named

missing = []


def look_up():
    try:
        task_named("notifications.tasks.announcements_handle")
    except Exception as error:
        missing.append(repr(error))


threads = [threading.Thread(target=look_up) for _ in range(50)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(missing))
"""


def test_a_burst_of_first_requests_all_find_the_tasks_they_queue():
    """Each request of a fresh worker's first burst queues its trade notification: none finds the task registry
    half filled (40 of 50 did, and those notifications were lost)."""
    result = run(DEVELOPMENT, "-c", CONCURRENT_FIRST_TASK_LOOKUPS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
