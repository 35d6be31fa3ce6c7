"""Issue 18 item 8: times are shown in the customer's zone (New York unless they choose another) and always
carry the zone's label; an unknown zone is refused and changes nothing."""

from datetime import UTC, datetime

import pytest

from accounts.services import api_key_create

pytestmark = pytest.mark.django_db

# Thursday 2026-12-03 20:05 UTC: 3:05 PM in New York (EST), 12:05 PM in Los Angeles (PST).
CREATED = datetime(2026, 12, 3, 20, 5, tzinfo=UTC)


@pytest.fixture
def alice_browser(client, alice):
    client.force_login(alice)
    return client


def _key_created_at(alice):
    key, _secret = api_key_create(user=alice, label="bot", scope="read_only")
    type(key).objects.filter(pk=key.pk).update(created_at=CREATED)


def test_times_are_new_york_time_by_default_and_say_so(alice_browser, alice):
    assert alice.time_zone == "America/New_York"
    _key_created_at(alice)
    assert "Dec 3, 2026, 3:05 PM EST" in alice_browser.get("/settings/api-keys/").content.decode()


def test_a_customer_who_picks_their_zone_sees_times_in_it(alice_browser, alice):
    response = alice_browser.post(
        "/settings/", {"first_name": "Alice", "last_name": "", "time_zone": "America/Los_Angeles"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.time_zone == "America/Los_Angeles"
    _key_created_at(alice)
    assert "Dec 3, 2026, 12:05 PM PST" in alice_browser.get("/settings/api-keys/").content.decode()


def test_an_unknown_zone_is_refused_and_changes_nothing(alice_browser, alice):
    response = alice_browser.post("/settings/", {"first_name": "Alice", "last_name": "", "time_zone": "Mars/Olympus"})
    assert response.status_code == 422
    alice.refresh_from_db()
    assert alice.time_zone == "America/New_York"
