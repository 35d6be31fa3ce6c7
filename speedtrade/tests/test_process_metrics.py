"""Metrics at scale: /metrics adds up every web worker; the feed (like worker, beat and broker streams)
serves its own on METRICS_PORT. Real processes against the test database."""

import re
import sys
import time
import urllib.error
import urllib.request

import pytest

from portfolios.tests.factories import AssetFactory
from speedtrade.tests.processes import ManagedProcess, app_environment, free_port, wait_until_listening

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own http:// URL
        return response.read().decode()


def _get(url: str) -> int:
    """The status of a GET, whatever it is (an unauthenticated API call answers 401 and is counted all the same)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own http:// URL
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


def _sample(page: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape('{' + labels + '}') if labels else ''}\s+(\S+)$"
    values = [float(value) for value in re.findall(pattern, page, flags=re.MULTILINE)]
    assert values, f"{name}{{{labels}}} not in:\n{page[:3000]}"
    return sum(values)


def test_the_feed_serves_leadership_batches_and_quote_age(tmp_path):
    AssetFactory(crypto=True)  # crypto trades around the clock: ticks whatever the day
    port = free_port()
    env = app_environment(METRICS_PORT=str(port), SINGLETON_POLL_SECONDS="0.5")
    feed = ManagedProcess(
        [sys.executable, "manage.py", "run_feed", "--provider", "simulated"], tmp_path / "feed.log", env
    )
    try:
        feed.wait_for("Singleton market_data_feed:simulated: active", timeout=60)
        wait_until_listening(feed, port, timeout=60)
        started = time.monotonic()
        while "speedtrade_feed_batches_total" not in (page := _scrape(f"http://127.0.0.1:{port}/metrics")):
            assert time.monotonic() - started < 30, page[:3000]
            time.sleep(0.5)
        time.sleep(1)
        page = _scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        feed.kill()

    assert _sample(page, "speedtrade_singleton_active", 'kind="market_data_feed:simulated"') == 1
    assert _sample(page, "speedtrade_feed_batches_total") > 0
    assert 0 <= _sample(page, "speedtrade_feed_quote_age_seconds") < 5


def test_metrics_add_up_every_web_worker(tmp_path):
    port = free_port()
    env = app_environment(PROMETHEUS_WEB_MULTIPROC_DIR=str(tmp_path / "prometheus-web"))
    command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    web = ManagedProcess(command, tmp_path / "web.log", env)
    metric = "django_http_requests_total_by_method_total"
    try:
        wait_until_listening(web, port, timeout=60)
        web.wait_for("Application startup complete", timeout=60)
        time.sleep(2)  # both workers up
        before = _sample(_scrape(f"http://127.0.0.1:{port}/metrics"), metric, 'method="GET"')
        for _ in range(40):  # any request through the middleware (/health answers before it, uncounted)
            _get(f"http://127.0.0.1:{port}/api/v1/clock")
        scrapes = [_sample(_scrape(f"http://127.0.0.1:{port}/metrics"), metric, 'method="GET"') for _ in range(4)]
    finally:
        web.kill()

    # Whichever worker answers the scrape, it reports both workers' requests (plus the scrapes themselves).
    assert all(value >= before + 40 for value in scrapes), (before, scrapes)
    assert scrapes == sorted(scrapes)
    assert len(list((tmp_path / "prometheus-web").glob("*.db"))) >= 2  # files of more than one process
