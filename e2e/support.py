"""What the browser tests share: the live server process, its mailbox, pages and screenshots.

Playwright's sync API keeps an asyncio loop running in the test's thread, which makes
Django refuse ORM calls there: fixtures that touch the database run before the browser
starts, and a test body reads the database through `in_worker_thread`.
"""

import email
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import TypeVar

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.conf import settings
from django.db import connection
from django.test import Client
from playwright.sync_api import expect

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Ports the test server may take, "first-last" (the first free one wins).
E2E_PORTS = os.environ.get("E2E_PORTS", "8150-8159")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
STARTUP_TIMEOUT_SECONDS = 30
EXPECT_TIMEOUT_MS = 10_000
PASSWORD_FOR_NEW_USERS = "Lantern-harbour-2026!"

# Browser tests write to the database from another process: the tables are flushed
# afterwards, and serialized_rollback restores the rows migrations created (staff groups).
e2e = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

T = TypeVar("T")


def in_worker_thread(call: Callable[[], T]) -> T:
    """Run database work outside the thread where Playwright's event loop runs."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@dataclass
class LiveServer:
    """`manage.py serve` in a subprocess: the command production runs, with its own event loop
    and database connections, all closed when it stops (before pytest-django flushes)."""

    process: subprocess.Popen
    url: str
    mail_dir: Path
    log_path: Path
    environment: dict[str, str]  # the server's whole environment (`server_environment`)

    @classmethod
    def start(
        cls,
        *,
        environment: dict[str, str],
        mail_dir: Path,
        ports: str = E2E_PORTS,
        name: str = "e2e-server",
        clock_starts_at: str | None = None,
    ) -> "LiveServer":
        """`environment` overrides the defaults (e.g. DATABASE_URL and REDIS_URL for a second instance);
        the log goes to test-artifacts/<name>.log. `clock_starts_at` (ISO 8601) sets the server's clock
        (e2e/frozen_clock.py), which then runs on."""
        ARTIFACTS.mkdir(exist_ok=True)
        port = _free_port(ports)
        log_path = ARTIFACTS / f"{name}.log"
        clock = ["-m", "e2e.frozen_clock", clock_starts_at] if clock_starts_at else []
        full_environment = server_environment(environment, mail_dir=mail_dir)
        with log_path.open("w") as log:
            process = subprocess.Popen(  # noqa: S603  (our own interpreter and manage.py)
                [sys.executable, *clock, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=settings.BASE_DIR,
                env=full_environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = cls(
            process=process,
            url=f"http://127.0.0.1:{port}",
            mail_dir=mail_dir,
            log_path=log_path,
            environment=full_environment,
        )
        server.wait_until(lambda: _responds(f"{server.url}/health"), "healthy")
        return server

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The end-to-end server never got {what}:\n{self.log_path.read_text()[-4000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # uvicorn stops the feed through the lifespan
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def manage(self, *args: str) -> str:
        """`manage.py <args>` as an operator would run it next to this server (same database, storage, Redis)."""
        return manage(*args, environment=self.environment)

    def sent_messages(self) -> list[Message]:
        """Every email the server has sent, oldest first (the file backend's files)."""
        messages = []
        for path in sorted(self.mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime_ns):
            # The file backend ends each message with a line of 79 dashes.
            for chunk in path.read_bytes().split(b"-" * 79 + b"\n"):
                if chunk.strip():
                    messages.append(email.message_from_bytes(chunk.lstrip()))
        return messages

    def link_in_last_mail(self, *, to: str, path_pattern: str) -> str:
        for message in reversed(self.sent_messages()):
            if to in message["To"]:
                body = "".join(
                    part.get_payload(decode=True).decode()
                    for part in message.walk()
                    if part.get_content_type() == "text/plain"
                )
                if match := re.search(rf"https?://\S*{path_pattern}\S*", body):
                    return match.group(0)
        raise AssertionError(f"No email to {to} with a link matching {path_pattern!r}")


def server_environment(environment: dict[str, str], *, mail_dir: Path) -> dict[str, str]:
    """What a server subprocess (and a management command run for it) sees: the test database and Redis
    unless `environment` names others."""
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "DB_CONN_MAX_AGE": "0",  # ASGI: a connection per request thread, closed after it
        "ACCESS_LOG_LEVEL": "INFO",
        **environment,
    }


def manage(*args: str, environment: dict[str, str]) -> str:
    """Run `manage.py <args>` in a server's environment (see `server_environment`); returns its output."""
    result = subprocess.run(  # noqa: S603  (our own interpreter and manage.py)
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
    return result.stdout


def test_database_url() -> str:
    db = connection.settings_dict  # the test database pytest-django created
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def _free_port(ports: str) -> int:
    first, last = map(int, ports.split("-"))
    for port in range(first, last + 1):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"No free port in {ports} for the end-to-end server.")


def _responds(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310  (our own http:// URL)
            return response.status == 200
    except OSError:
        return False


def new_page(browser, server: LiveServer, **context_options):
    """A page in a fresh browser context (its own cookies: one person)."""
    context = browser.new_context(base_url=server.url, **context_options)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    return context.new_page()


def signed_in_page(browser, server: LiveServer, user):
    """A page in a fresh browser context already signed in as `user` (a session made outside the browser)."""
    session_key = in_worker_thread(lambda: _session_key(user))  # the ORM, outside Playwright's event loop
    page = new_page(browser, server)
    page.context.add_cookies([{"name": "sessionid", "value": session_key, "url": server.url}])
    return page


def _session_key(user) -> str:
    client = Client()
    client.force_login(user)
    connection.close()  # this worker thread's connection, so the test database can be dropped
    return client.cookies["sessionid"].value


def open_live(page, path: str) -> None:
    """Open a page and wait for its sockets (the indicator says Live)."""
    page.goto(path)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")


def review_and_place(page, *, side: str) -> None:
    """Review the ticket, place it; the fill is then announced live."""
    expect(page.get_by_label("Order type")).to_have_value("market")
    page.get_by_role("button", name="Review order").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#order-status")).to_contain_text("Order placed")
    # Read out by live.js from the /ws/trades fill event (aria-live), not from the page load.
    expect(page.locator("#live-announcer")).to_contain_text(f"Filled: {side}")


def screenshot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def totp_code(secret: str) -> str:
    """The code an authenticator app shows, taken as a person would: not in the last seconds
    of its period (the server allows no tolerance, so such a code may expire on the way)."""
    seconds_left = mfa_settings.TOTP_PERIOD - time.time() % mfa_settings.TOTP_PERIOD
    if seconds_left < 3:
        time.sleep(seconds_left)
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
