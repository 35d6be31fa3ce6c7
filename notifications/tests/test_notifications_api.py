"""/api/v1/notifications and /api/v1/notification-preferences."""

import pytest
from rest_framework.test import APIClient

from notifications.models import Notification, NotificationPreference
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


def test_alice_lists_her_notifications_newest_first(alice, alice_api, bob):
    older = NotificationFactory(user=alice, title="Older")
    newer = NotificationFactory(user=alice, title="Newer")
    NotificationFactory(user=bob, title="Bob's")

    response = alice_api.get("/api/v1/notifications")

    assert response.status_code == 200
    assert [n["id"] for n in response.json()["results"]] == [str(newer.id), str(older.id)]
    assert response.json()["results"][0]["is_read"] is False


def test_unread_filter_and_count(alice, alice_api):
    NotificationFactory(user=alice)
    read = NotificationFactory(user=alice)
    alice_api.post(f"/api/v1/notifications/{read.id}/read")

    assert alice_api.get("/api/v1/notifications/unread-count").json() == {"unread_count": 1}
    assert len(alice_api.get("/api/v1/notifications?unread=true").json()["results"]) == 1


def test_mark_all_read(alice, alice_api):
    NotificationFactory.create_batch(3, user=alice)

    response = alice_api.post("/api/v1/notifications/read", {}, format="json")

    assert response.json() == {"marked_read": 3, "unread_count": 0}


def test_bob_cannot_read_alices_notification(alice, bob):
    notification = NotificationFactory(user=alice)
    bob_api = APIClient()
    bob_api.force_authenticate(bob)

    assert bob_api.post(f"/api/v1/notifications/{notification.id}/read").status_code == 404
    assert (
        bob_api.post("/api/v1/notifications/read", {"ids": [str(notification.id)]}, format="json").json()["marked_read"]
        == 0
    )
    notification.refresh_from_db()
    assert notification.read_at is None


def test_preferences_list_every_category_with_defaults(alice_api):
    response = alice_api.get("/api/v1/notification-preferences")

    categories = {p["category"]: p for p in response.json()}
    assert list(categories) == ["orders", "recurring", "alerts", "transfers", "account", "security"]
    assert categories["security"]["email_required"] is True
    assert all(p["in_app"] and p["email"] and p["push"] for p in categories.values())


def test_switching_order_emails_off(alice, alice_api):
    response = alice_api.patch("/api/v1/notification-preferences/orders", {"email": False}, format="json")

    assert response.status_code == 200 and response.json()["email"] is False
    assert NotificationPreference.objects.get(user=alice, category="orders").email is False


def test_security_email_stays_on(alice, alice_api):
    response = alice_api.patch("/api/v1/notification-preferences/security", {"email": False}, format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "security_email_required"
    assert not NotificationPreference.objects.exists()


def test_unknown_category_and_field(alice_api):
    assert alice_api.patch("/api/v1/notification-preferences/nope", {"email": False}, format="json").status_code == 404
    response = alice_api.patch("/api/v1/notification-preferences/orders", {"sms": True}, format="json")
    assert response.status_code == 400
    assert not NotificationPreference.objects.exists()


def test_anonymous_is_refused(api_client):
    assert api_client.get("/api/v1/notifications").status_code == 401


def test_schema_names_the_routes(alice_api):
    schema = alice_api.get("/api/schema/?format=json").json()
    assert "/api/v1/notifications" in schema["paths"]
    assert "/api/v1/notification-preferences/{category}" in schema["paths"]
    assert Notification.objects.count() == 0
