"""Settings pages: profile, security overview, API keys (secret shown once, own keys only)."""

import hashlib

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import override_settings

from accounts.models import ApiKey, AuditEvent
from accounts.services import api_key_create
from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_browser(client, alice):
    client.force_login(alice)
    return client


@pytest.mark.parametrize("path", ["/settings/", "/settings/security/", "/settings/api-keys/"])
def test_settings_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_profile_saves_the_name(alice_browser, alice):
    response = alice_browser.post(
        "/settings/", {"first_name": "Alicia", "last_name": "Liddell", "time_zone": "America/New_York"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.first_name, alice.last_name) == ("Alicia", "Liddell")


def test_a_refused_profile_shows_the_error_and_changes_nothing(alice_browser, alice):
    response = alice_browser.post(
        "/settings/", {"first_name": "A" * 151, "last_name": "Liddell", "time_zone": "America/New_York"}
    )
    assert response.status_code == 422
    assert b"at most 150 characters" in response.content
    alice.refresh_from_db()
    assert (alice.first_name, alice.last_name) == ("Alice", alice.last_name) and alice.last_name != "Liddell"


def test_security_says_whether_two_factor_is_on(alice_browser, alice):
    assert b"Turn on two-factor authentication" in alice_browser.get("/settings/security/").content
    TOTP.activate(alice, generate_totp_secret())
    page = alice_browser.get("/settings/security/").content
    assert b"Turn off" in page and b"Turn on two-factor" not in page


def test_a_new_key_shows_its_secret_once(alice_browser, alice):
    response = alice_browser.post(
        "/settings/api-keys/", {"label": "my bot", "scope": "read_only", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(user=alice)
    secret = response.context["secret"]
    assert (key.label, key.scope) == ("my bot", ApiKey.Scope.READ_ONLY)
    assert key.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.encode() in response.content
    assert secret.encode() not in alice_browser.get("/settings/api-keys/").content
    assert AuditEvent.objects.filter(action="api_key.created", actor=alice).count() == 1


def test_an_unknown_scope_writes_nothing(alice_browser, alice):
    response = alice_browser.post("/settings/api-keys/", {"label": "x", "scope": "admin", "password": DEFAULT_PASSWORD})
    assert response.status_code == 422
    assert not ApiKey.objects.filter(user=alice).exists()


@override_settings(API_KEYS_MAX_ACTIVE=1)
def test_the_key_limit_is_explained_and_nothing_is_written(alice_browser, alice):
    api_key_create(user=alice, label="first")
    response = alice_browser.post(
        "/settings/api-keys/", {"label": "second", "scope": "trading", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 422
    assert b"revoke one first" in response.content
    assert ApiKey.objects.filter(user=alice).count() == 1


def test_revoking_a_key_refuses_it_from_then_on(alice_browser, alice):
    key, _ = api_key_create(user=alice, label="old")
    response = alice_browser.post(f"/settings/api-keys/{key.key_id}/revoke/")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert f"Key {key.key_id} revoked".encode() in alice_browser.get("/settings/api-keys/").content


def test_another_users_key_cannot_be_revoked(alice_browser, bob):
    bobs_key, _ = api_key_create(user=bob, label="bob's")
    assert alice_browser.post(f"/settings/api-keys/{bobs_key.key_id}/revoke/").status_code == 404
    bobs_key.refresh_from_db()
    assert bobs_key.revoked_at is None


def test_the_key_list_shows_only_own_keys(alice_browser, alice, bob):
    mine, _ = api_key_create(user=alice, label="mine")
    bobs, _ = api_key_create(user=bob, label="bob's")
    page = alice_browser.get("/settings/api-keys/").content.decode()
    assert mine.key_id in page and bobs.key_id not in page


def test_a_key_is_created_only_after_the_password_is_given_again(alice_browser, alice):
    response = alice_browser.post("/settings/api-keys/", {"label": "bot", "scope": "trading", "password": "wrong"})

    assert response.status_code == 422
    assert b"Confirm with your password" in response.content
    assert not ApiKey.objects.filter(user=alice).exists()
