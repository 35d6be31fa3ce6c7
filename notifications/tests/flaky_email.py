"""An email backend that refuses the first N messages like an SMTP server having a bad minute, then
delivers into Django's locmem outbox. (A real backend subclass, not a mock: the task sees a real exception.)"""

import smtplib

from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

FAILURES_LEFT = {"count": 0}


class FlakyEmailBackend(LocmemBackend):
    def send_messages(self, messages):
        if FAILURES_LEFT["count"] > 0:
            FAILURES_LEFT["count"] -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)
