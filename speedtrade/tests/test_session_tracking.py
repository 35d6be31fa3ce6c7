"""Session activity (allauth user sessions) is tracked at most once per interval, and at once on a new client."""

import pytest
from allauth.usersessions.models import UserSession
from django.test import Client

pytestmark = pytest.mark.django_db


def test_activity_is_written_once_per_interval_and_at_once_from_a_new_user_agent(alice, settings):
    settings.USERSESSIONS_TRACK_ACTIVITY_SECONDS = 3600
    browser = Client(HTTP_USER_AGENT="Firefox")
    browser.force_login(alice)
    browser.get("/api/v1/me")
    first = UserSession.objects.get(user=alice)

    browser.get("/api/v1/me")
    assert UserSession.objects.get(user=alice).last_seen_at == first.last_seen_at  # no write within the interval

    browser.get("/api/v1/me", HTTP_USER_AGENT="Safari")
    changed = UserSession.objects.get(user=alice)
    assert (changed.user_agent, changed.last_seen_at > first.last_seen_at) == ("Safari", True)


def test_activity_is_written_again_after_the_interval(alice, settings):
    settings.USERSESSIONS_TRACK_ACTIVITY_SECONDS = 0
    browser = Client()
    browser.force_login(alice)
    browser.get("/api/v1/me")
    first = UserSession.objects.get(user=alice).last_seen_at
    browser.get("/api/v1/me")
    assert UserSession.objects.get(user=alice).last_seen_at > first


def test_api_calls_with_a_jwt_do_not_write_the_session_each_time(api_client, alice, settings):
    from speedtrade.tests.test_app_tokens import app_login

    settings.USERSESSIONS_TRACK_ACTIVITY_SECONDS = 3600
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {app_login(api_client, alice)['access_token']}")
    assert api_client.get("/api/v1/me").status_code == 200
    seen = UserSession.objects.get(user=alice).last_seen_at
    assert api_client.get("/api/v1/me").status_code == 200
    assert UserSession.objects.get(user=alice).last_seen_at == seen
