"""Logins, failed logins and MFA changes land in the audit trail."""

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.test import Client

from accounts.models import AuditEvent
from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_a_login_is_recorded_with_ip_and_user_agent(alice):
    Client(HTTP_USER_AGENT="Firefox").post("/accounts/login/", {"login": alice.email, "password": DEFAULT_PASSWORD})
    event = AuditEvent.objects.get(action="auth.login")
    assert (event.actor, event.subject_user, event.user_agent, event.ip_address) == (
        alice,
        alice,
        "Firefox",
        "127.0.0.1",
    )


def test_a_failed_login_is_recorded_without_the_password(alice):
    Client().post("/accounts/login/", {"login": alice.email, "password": "wrong-password-123"})
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert (event.actor, event.subject_user, event.after) == (None, alice, {"login": alice.email})
    assert "wrong-password" not in str(event.after)


def test_a_failed_login_for_an_unknown_email_is_recorded_too():
    Client().post("/accounts/login/", {"login": "nobody@example.com", "password": "whatever-123456"})
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.subject_user is None and event.after == {"login": "nobody@example.com"}


def test_adding_and_removing_totp_is_recorded(alice, django_capture_on_commit_callbacks):
    # allauth sends these signals after its own commit, so the event follows in its own transaction.
    browser = Client()
    browser.post("/accounts/login/", {"login": alice.email, "password": DEFAULT_PASSWORD})
    browser.post("/accounts/reauthenticate/", {"password": DEFAULT_PASSWORD})  # allauth asks before MFA changes
    page = browser.get("/accounts/2fa/totp/activate/")
    secret = page.context["form"].secret
    code = format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/accounts/2fa/totp/activate/", {"code": code})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="mfa.authenticator_added", actor=alice, after={"type": "totp"}).exists()

    browser.post("/accounts/reauthenticate/", {"password": DEFAULT_PASSWORD})
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/accounts/2fa/totp/deactivate/")
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="mfa.authenticator_removed", actor=alice, before={"type": "totp"}).exists()
