"""FCM through firebase-admin to a local FCM HTTP v1 service (and OAuth token endpoint): what a push carries,
invalid tokens pruned, other refusals retried, and settings that refuse to start half-configured."""

import pytest

from notifications.models import Delivery, DeliveryStatus, PushDevice
from notifications.services import device_register
from notifications.tests.fcm_service import ACCESS_TOKEN, FcmService, service_account_key
from notifications.tests.test_push import fill
from speedtrade.tests.test_settings_modes import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def fcm(settings, tmp_path):
    service = FcmService()
    key = service_account_key(tmp_path / "firebase-key.json", token_uri=service.url + "/token")
    service.public_key = key.public_key()
    settings.FCM_ENABLED = True
    settings.FCM_CREDENTIALS_FILE = str(tmp_path / "firebase-key.json")
    settings.FCM_PROJECT_ID = "speedtrade-test"
    settings.FCM_API_URL = service.url
    yield service
    service.close()


def phone(user, token):
    return device_register(user=user, kind="fcm", endpoint=token, label="Pixel")


def test_a_fill_is_sent_to_fcm_with_a_title_and_the_notification_id_only(
    alice, fcm, django_capture_on_commit_callbacks
):
    device = phone(alice, "alice-pixel-token")

    notification = fill(alice, django_capture_on_commit_callbacks)

    (token_request,) = fcm.token_requests
    assert token_request["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert token_request["iss"] == "push@speedtrade-test.iam.gserviceaccount.com"
    ((path, headers, body),) = fcm.sent
    assert path == "/v1/projects/speedtrade-test/messages:send"
    assert headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert body == {
        "message": {
            "token": "alice-pixel-token",
            "notification": {"title": "SpeedTrade", "body": "New notification: orders"},
            "data": {"id": str(notification.id), "category": "orders", "url": "/notifications/"},
        }
    }
    assert "ACME" not in str(body) and alice.email not in str(body)  # no symbol, amount or name
    delivery = Delivery.objects.get(channel="push")
    assert (delivery.status, delivery.device_id) == (DeliveryStatus.SENT, device.pk)
    device.refresh_from_db()
    assert device.last_used_at is not None


@pytest.mark.parametrize(
    ("token", "code"), [("unregistered-old-phone", "NOT_FOUND"), ("malformed-token", "INVALID_ARGUMENT")]
)
def test_a_token_fcm_reports_invalid_is_removed_and_not_retried(
    alice, fcm, django_capture_on_commit_callbacks, token, code
):
    phone(alice, token)

    fill(alice, django_capture_on_commit_callbacks)

    assert len(fcm.sent) == 1  # asked once, never again
    assert not PushDevice.objects.exists()
    delivery = Delivery.objects.get(channel="push")
    assert delivery.status == DeliveryStatus.SKIPPED and code in delivery.last_error


def test_an_invalid_message_keeps_the_device_and_fails_the_delivery(
    alice, fcm, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    phone(alice, "badmessage-token")

    fill(alice, django_capture_on_commit_callbacks)

    assert len(fcm.sent) == 2  # retried up to the limit (eager: at once)
    assert PushDevice.objects.count() == 1
    delivery = Delivery.objects.get(channel="push")
    assert delivery.status == DeliveryStatus.FAILED and "InvalidArgumentError" in delivery.last_error


def test_fcm_switched_off_records_the_delivery_skipped(alice, settings, django_capture_on_commit_callbacks):
    settings.FCM_ENABLED = False
    phone(alice, "alice-pixel-token")

    fill(alice, django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get(channel="push")
    assert delivery.status == DeliveryStatus.SKIPPED and "FCM_ENABLED" in delivery.last_error
    assert PushDevice.objects.count() == 1


SETTINGS = "import django; django.setup(); from django.conf import settings; print(settings.FCM_PROJECT_ID)"


def test_fcm_enabled_without_a_key_refuses_to_start_naming_the_setting():
    result = run({"SPEEDTRADE_ENV": "development", "FCM_ENABLED": "true"}, "-c", SETTINGS)

    assert result.returncode != 0
    assert "FCM_CREDENTIALS_FILE is not set" in result.stderr


def test_fcm_takes_the_project_from_the_key_or_refuses_without_one(tmp_path):
    service_account_key(tmp_path / "key.json", token_uri="https://oauth2.googleapis.com/token", project_id="")
    without = run(
        {"SPEEDTRADE_ENV": "development", "FCM_ENABLED": "true", "FCM_CREDENTIALS_FILE": str(tmp_path / "key.json")},
        "-c",
        SETTINGS,
    )
    assert without.returncode != 0 and "FCM_PROJECT_ID is not set" in without.stderr

    service_account_key(tmp_path / "key.json", token_uri="https://oauth2.googleapis.com/token", project_id="st-prod")
    loaded = run(
        {"SPEEDTRADE_ENV": "development", "FCM_ENABLED": "true", "FCM_CREDENTIALS_FILE": str(tmp_path / "key.json")},
        "-c",
        SETTINGS,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "st-prod"
