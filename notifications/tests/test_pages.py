"""The notification centre (live list, mark read, unread badge) and the notification settings page."""

import pytest

from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_browser(client, alice):
    client.force_login(alice)
    return client


def test_notification_centre_marks_read_and_the_badge_counts(alice_browser, alice):
    NotificationFactory.create_batch(2, user=alice)

    assert '<span class="badge">2</span>' in alice_browser.get("/notifications/badge/").content.decode()
    page = alice_browser.get("/notifications/").content.decode()
    assert page.count("Deposit settled") == 2 and "Mark all read" in page
    alice_browser.post("/notifications/read/")
    assert 'class="badge"' not in alice_browser.get("/notifications/badge/").content.decode()


def test_notification_settings_keep_security_email_on(alice_browser, alice):
    response = alice_browser.post("/settings/notifications/", {"orders.in_app": "on", "security.in_app": "on"})

    assert response.status_code == 302
    prefs = {p.category: p for p in alice.notification_preferences.all()}
    assert prefs["orders"].email is False and prefs["security"].email is True
    assert "Always on" in alice_browser.get("/settings/notifications/").content.decode()


def test_the_notification_centre_refreshes_its_list_for_htmx(alice_browser, alice):
    NotificationFactory(user=alice, title="Deposit settled")

    partial = alice_browser.get("/notifications/", HTTP_HX_REQUEST="true").content.decode()

    assert "Deposit settled" in partial and "<html" not in partial
