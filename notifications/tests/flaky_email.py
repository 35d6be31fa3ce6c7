"""Email backends for the sending tests, real backend subclasses (not mocks: the task sees real exceptions), all
delivering into Django's locmem outbox:
* `FlakyEmailBackend` refuses the first N messages like an SMTP server having a bad minute;
* `CrashingEmailBackend` stops the process (SystemExit, which no attempt catches) at its Nth message, as a worker
  killed while sending.
Each records which backend instance (connection) sent each message."""

import smtplib

from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

FAILURES_LEFT = {"count": 0}
CRASH_AT = {"message": 0}
SENT_THROUGH: list[int] = []  # id() of the connection each delivered message went through


class FlakyEmailBackend(LocmemBackend):
    def send_messages(self, messages):
        if FAILURES_LEFT["count"] > 0:
            FAILURES_LEFT["count"] -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        SENT_THROUGH.extend(id(self) for _ in messages)
        return super().send_messages(messages)


class CrashingEmailBackend(FlakyEmailBackend):
    def send_messages(self, messages):
        CRASH_AT["message"] -= 1
        if CRASH_AT["message"] == 0:
            raise SystemExit("worker killed")
        return super().send_messages(messages)
