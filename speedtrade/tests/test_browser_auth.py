"""The browser's allauth flows: sign up, verify, log in, and MFA with TOTP."""

import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.core import mail
from freezegun import freeze_time

from accounts.models import User
from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-long-unusual-passphrase-42"


def current_totp(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def test_signup_verify_then_login(client):
    response = client.post(
        "/accounts/signup/", {"email": "dana@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert client.get("/").status_code == 302, "an unverified user is not logged in"

    (message,) = mail.outbox
    assert message.to == ["dana@example.com"]
    confirm_url = re.search(r"http://testserver(/accounts/confirm-email/[^\s]+/)", message.body).group(1)
    assert client.post(confirm_url).status_code == 302

    home = client.get("/")
    assert home.status_code == 200
    assert b"dana@example.com" in home.content
    assert User.objects.get(email="dana@example.com").emailaddress_set.get().verified


def test_signup_refuses_weak_passwords(client):
    weak = client.post("/accounts/signup/", {"email": "eve@example.com", "password1": "123", "password2": "123"})
    assert weak.status_code == 200
    assert "too short" in weak.content.decode()
    assert not User.objects.filter(email="eve@example.com").exists()


def test_signup_with_a_taken_email_creates_nothing_and_does_not_reveal_the_account(client, alice):
    duplicate = client.post(
        "/accounts/signup/", {"email": "ALICE@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert duplicate["Location"] == "/accounts/confirm-email/", "same answer as a new signup: no enumeration"
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"]
    assert "already" in message.body


def test_login_with_wrong_password_is_refused(client, alice):
    response = client.post("/accounts/login/", {"login": alice.email, "password": "not-the-password"})
    assert response.status_code == 200
    assert client.get("/").status_code == 302


def test_password_reset_sends_a_link_that_sets_a_new_password(client, alice):
    client.post("/accounts/password/reset/", {"email": alice.email})
    (message,) = mail.outbox
    reset_url = re.search(r"http://testserver(/accounts/password/reset/key/[^\s]+/)", message.body).group(1)
    form_url = client.get(reset_url)["Location"]
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_mfa_enrollment_then_login_requires_the_totp_code(client, alice):
    with freeze_time("2026-11-27 15:00:00") as clock:
        client.post("/accounts/login/", {"login": alice.email, "password": DEFAULT_PASSWORD})
        response = client.get("/accounts/2fa/totp/activate/")
        assert response["Location"].startswith("/accounts/reauthenticate/"), "enabling MFA asks for the password again"
        client.post(response["Location"], {"password": DEFAULT_PASSWORD})
        assert client.get("/accounts/2fa/totp/activate/").status_code == 200
        secret = client.session[SECRET_SESSION_KEY]
        response = client.post("/accounts/2fa/totp/activate/", {"code": current_totp(secret)})
        assert response.status_code == 302
        assert Authenticator.objects.filter(user=alice, type=Authenticator.Type.TOTP).exists()
        assert Authenticator.objects.filter(user=alice, type=Authenticator.Type.RECOVERY_CODES).exists()

        client.post("/accounts/logout/")
        clock.tick(90)
        response = client.post("/accounts/login/", {"login": alice.email, "password": DEFAULT_PASSWORD})
        assert response["Location"] == "/accounts/2fa/authenticate/"
        assert client.get("/").status_code == 302, "password alone is not enough once MFA is on"

        wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
        assert wrong.status_code == 200
        assert client.get("/").status_code == 302

        response = client.post("/accounts/2fa/authenticate/", {"code": current_totp(secret)})
        assert response.status_code == 302
        assert client.get("/").status_code == 200
