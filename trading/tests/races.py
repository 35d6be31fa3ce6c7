"""Deterministic races (saleor's way): one side runs inside an open transaction holding a row lock, the other
starts on its own database connection and is seen waiting on that lock in pg_stat_activity before the first
commits. No sleeps decide an outcome."""

import threading
import time

from django.db import connection, transaction

LOCK_WAIT_LIMIT_SECONDS = 30  # a ceiling against hanging, not a timing assertion


class Competitor(threading.Thread):
    """Runs `action` on its own database connection; `blocked()` waits until it queues on a row lock."""

    def __init__(self, action):
        super().__init__(daemon=True)
        self.action = action
        self.pid: int | None = None
        self.started_work = threading.Event()
        self.result = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            self.started_work.set()
            self.result = self.action()
        except Exception as error:  # handed to the test
            self.error = error
        finally:
            self.started_work.set()
            connection.close()

    def blocked(self) -> None:
        self.started_work.wait(LOCK_WAIT_LIMIT_SECONDS)
        deadline = time.monotonic() + LOCK_WAIT_LIMIT_SECONDS
        with connection.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [self.pid])
                row = cursor.fetchone()
                if row and row[0] == "Lock":
                    return
                time.sleep(0.01)
        raise AssertionError("the competing transaction never waited on the lock")


def race(first, second):
    """Run `first` in an open transaction, let `second` queue behind its lock, then commit."""
    competitor = Competitor(second)
    with transaction.atomic():
        outcome = first()
        competitor.start()
        competitor.blocked()
    competitor.join(LOCK_WAIT_LIMIT_SECONDS)
    assert not competitor.is_alive()
    return outcome, competitor
