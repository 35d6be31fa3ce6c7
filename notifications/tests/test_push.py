"""Web Push through pywebpush to a local push service; /api/v1/devices; gone subscriptions pruned;
nothing personal in a push."""

import pytest
from py_vapid import Vapid01

from notifications.models import Delivery, DeliveryStatus, PushDevice
from notifications.services import device_register, notification_record
from notifications.tests.push_service import BrowserSubscription, PushService, b64url

pytestmark = pytest.mark.django_db


@pytest.fixture
def push_service():
    service = PushService()
    yield service
    service.close()


@pytest.fixture
def vapid(settings):
    key = Vapid01()
    key.generate_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = b64url(key.private_key.private_numbers().private_value.to_bytes(32, "big"))
    return key


def browser(user, push_service, path="/wpush/v2/alice-laptop"):
    subscription = BrowserSubscription(push_service.url + path)
    device = device_register(
        user=user, kind="webpush", endpoint=subscription.endpoint, p256dh=subscription.p256dh, auth=subscription.auth
    )
    return subscription, device


def fill(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification, _ = notification_record(
            user_id=user.pk,
            kind="order_filled",
            event_key="order:1:fill",
            context={
                "side": "Buy",
                "symbol": "ACME",
                "summary": "Buy $10.00 of ACME",
                "price": "$10.01",
                "order_id": "1",
            },
        )
    return notification


def test_a_fill_is_pushed_encrypted_signed_and_without_personal_data(
    alice, push_service, vapid, django_capture_on_commit_callbacks
):
    subscription, device = browser(alice, push_service)

    notification = fill(alice, django_capture_on_commit_callbacks)

    ((path, headers, body),) = push_service.received
    assert path == "/wpush/v2/alice-laptop"
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["authorization"].startswith("vapid t=")
    payload = subscription.decrypt(body)
    assert payload == {
        "id": str(notification.id),
        "category": "orders",
        "title": "SpeedTrade",
        "body": "New notification: orders",
        "url": "/notifications/",
    }
    delivery = Delivery.objects.get(channel="push")
    assert (delivery.status, delivery.device_id) == (DeliveryStatus.SENT, device.pk)


def test_a_gone_subscription_is_removed_and_not_retried(alice, push_service, vapid, django_capture_on_commit_callbacks):
    browser(alice, push_service, path="/wpush/gone/old-phone")

    fill(alice, django_capture_on_commit_callbacks)

    assert len(push_service.received) == 1  # asked once, never again
    assert not PushDevice.objects.exists()
    delivery = Delivery.objects.get(channel="push")
    assert delivery.status == DeliveryStatus.SKIPPED and "410" in delivery.last_error


def test_two_devices_get_one_push_each(alice, push_service, vapid, django_capture_on_commit_callbacks):
    browser(alice, push_service, "/wpush/v2/laptop")
    browser(alice, push_service, "/wpush/v2/desktop")

    fill(alice, django_capture_on_commit_callbacks)
    fill(alice, django_capture_on_commit_callbacks)  # the same event again

    assert sorted(path for path, _, _ in push_service.received) == ["/wpush/v2/desktop", "/wpush/v2/laptop"]


def test_push_switched_off_sends_nothing(alice, push_service, vapid, django_capture_on_commit_callbacks):
    from notifications.services import preference_update

    browser(alice, push_service)
    preference_update(user=alice, category="orders", push=False)

    fill(alice, django_capture_on_commit_callbacks)

    assert push_service.received == []


def test_devices_api_registers_lists_and_removes(alice, alice_api, bob):
    fcm = alice_api.post("/api/v1/devices", {"kind": "fcm", "token": "fcm-token-abc", "label": "Pixel"}, format="json")
    assert fcm.status_code == 201
    web = alice_api.post(
        "/api/v1/devices",
        {"kind": "webpush", "endpoint": "https://push.example/wpush/v2/x", "keys": {"p256dh": "BPk", "auth": "au"}},
        format="json",
    )
    assert web.status_code == 201
    assert [d["kind"] for d in alice_api.get("/api/v1/devices").json()] == ["fcm", "webpush"]
    assert "token" not in fcm.json() and "endpoint" not in web.json()  # never echoed back

    from rest_framework.test import APIClient

    bob_api = APIClient()
    bob_api.force_authenticate(bob)
    assert bob_api.delete(f"/api/v1/devices/{fcm.json()['id']}").status_code == 404
    assert alice_api.delete(f"/api/v1/devices/{fcm.json()['id']}").status_code == 204
    assert PushDevice.objects.filter(user=alice).count() == 1


def test_devices_api_refuses_incomplete_or_plain_http_subscriptions(alice_api):
    assert alice_api.post("/api/v1/devices", {"kind": "fcm"}, format="json").status_code == 400
    plain = {"kind": "webpush", "endpoint": "http://push.example/x", "keys": {"p256dh": "a", "auth": "b"}}
    assert alice_api.post("/api/v1/devices", plain, format="json").status_code == 400
    assert not PushDevice.objects.exists()


def test_the_service_worker_is_served_from_the_root_and_the_settings_page_offers_push(alice, client):
    response = client.get("/service-worker.js")
    assert response.status_code == 200 and response["Content-Type"] == "text/javascript"
    assert b'addEventListener("push"' in response.content

    client.force_login(alice)
    page = client.get("/settings/notifications/").content.decode()
    assert 'id="push-enable"' in page and "js/push.js" in page and "<script>" not in page
