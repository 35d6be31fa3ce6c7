"""Browser end-to-end fixtures: the real server, a headless Chromium, a compliance officer.

Fixtures that write to the database come before `browser` (see e2e/support.py).
"""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from playwright.sync_api import expect, sync_playwright

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from e2e.support import CHROMIUM, EXPECT_TIMEOUT_MS, LiveServer, screenshot, totp_code
from marketdata.quotes import latest_quotes
from marketdata.tests.factories import CryptoAssetFactory


@pytest.fixture
def quoted_assets(transactional_db):
    """What the feed quotes; created before the server starts, since the feed reads the symbols once."""
    return [CryptoAssetFactory()]


@pytest.fixture
def e2e_environment() -> dict[str, str]:
    """More server settings; a test module overrides this (e.g. BANK_RAIL=plaid)."""
    return {}


@pytest.fixture
def e2e_clock_starts_at() -> str | None:
    """The server's clock (ISO 8601) when a journey depends on the hour; None: the real time."""
    return None


@pytest.fixture
def e2e_server(transactional_db, quoted_assets, e2e_environment, e2e_clock_starts_at, settings, tmp_path):
    """The ASGI app (HTTP + WebSockets) as `manage.py serve` runs it, against the test
    PostgreSQL and Redis: the simulated feed in process, the paper venue matching on its
    ticks, Celery eager, the demo bank rail settling at once."""
    server = LiveServer.start(
        environment={
            "SPEEDTRADE_ENV": "test",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "FEED_IN_PROCESS": "true",
            "TRANSFER_SETTLEMENT_DELAY_SECONDS": "0",
            "PRIVATE_MEDIA_ROOT": str(settings.PRIVATE_MEDIA_ROOT),
            "WHITENOISE_USE_FINDERS": "true",
            **e2e_environment,
        },
        mail_dir=tmp_path / "mail",
        clock_starts_at=e2e_clock_starts_at,
    )
    try:
        symbols = [asset.symbol for asset in quoted_assets]
        server.wait_until(lambda: len(latest_quotes(symbols)) == len(symbols), "quotes from the feed")
        yield server
    finally:
        server.stop()


@pytest.fixture
def compliance_officer(transactional_db):
    """Compliance staff with TOTP; `totp_code()` is what their authenticator app shows now."""
    officer = UserFactory(email="officer@speedtrade.test", first_name="Olivia", staff_group="Compliance")
    secret = generate_totp_secret()
    TOTP.activate(officer, secret)
    officer.raw_password = DEFAULT_PASSWORD
    officer.totp_code = lambda: totp_code(secret)
    return officer


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_failed = report.failed
    return report


@pytest.fixture
def browser(request, e2e_server):
    """Headless Debian Chromium (never a downloaded build). A failed test leaves a
    screenshot of every page it had open in test-artifacts/ (failed-*.png)."""
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield chromium
            if getattr(request.node, "e2e_failed", False):
                pages = [page for context in chromium.contexts for page in context.pages]
                for number, page in enumerate(pages, start=1):
                    screenshot(page, f"failed-{request.node.name}-{number}")
        finally:
            chromium.close()
