"""The mobile client's headless login: JWT access (30 min) and refresh (7 days) tokens."""

import jwt
import pytest
from django.conf import settings
from freezegun import freeze_time

from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = "/_allauth/app/v1/auth/login"
REFRESH = "/_allauth/app/v1/tokens/refresh"


def app_login(api_client, user):
    response = api_client.post(LOGIN, {"email": user.email, "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["meta"]


def test_app_login_returns_access_and_refresh_tokens_with_the_documented_lifetimes(api_client, alice):
    with freeze_time("2026-11-27 15:00:00"):
        meta = app_login(api_client, alice)
    access = jwt.decode(meta["access_token"], options={"verify_signature": False})
    refresh = jwt.decode(meta["refresh_token"], options={"verify_signature": False})
    assert access["sub"] == str(alice.pk)
    assert access["exp"] - access["iat"] == 30 * 60
    assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600


def test_access_token_reaches_the_api(api_client, alice):
    meta = app_login(api_client, alice)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {meta['access_token']}")
    response = api_client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == alice.email


def test_refresh_token_issues_a_new_working_access_token(api_client, alice):
    meta = app_login(api_client, alice)
    response = api_client.post(REFRESH, {"refresh_token": meta["refresh_token"]}, format="json")
    assert response.status_code == 200
    new_access = response.json()["data"]["access_token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {new_access}")
    assert api_client.get("/api/v1/me").status_code == 200


def test_expired_access_token_is_401(api_client, alice):
    with freeze_time("2026-11-27 15:00:00") as clock:
        meta = app_login(api_client, alice)
        clock.tick(31 * 60)
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {meta['access_token']}")
        response = api_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_forged_token_is_401(api_client, alice):
    meta = app_login(api_client, alice)
    claims = jwt.decode(meta["access_token"], options={"verify_signature": False})
    forged = jwt.encode(claims, "not-our-" + settings.SECRET_KEY, algorithm="HS256")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert api_client.get("/api/v1/me").status_code == 401


def test_logging_out_revokes_the_access_token(api_client, alice):
    meta = app_login(api_client, alice)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {meta['access_token']}")
    assert api_client.delete("/_allauth/app/v1/auth/session").status_code == 401  # allauth: 401 = logged out
    assert api_client.get("/api/v1/me").status_code == 401


def test_no_credentials_is_401_in_the_common_error_format(api_client):
    response = api_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == {"code": "not_authenticated", "message": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Bearer"


def test_browser_session_needs_csrf_for_writes(alice):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.login(email=alice.email, password=DEFAULT_PASSWORD)
    assert browser.get("/api/v1/me").status_code == 200
    response = browser.patch("/api/v1/me", {"first_name": "Mallory"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    alice.refresh_from_db()
    assert alice.first_name == "Alice"
