"""Production email: SMTP from EMAIL_URL, or an email service's HTTP API through django-anymail chosen by
EMAIL_PROVIDER; a notification email goes out through anymail's SendGrid backend to a local SendGrid v3 API."""

import json

import pytest

from notifications.models import Delivery, DeliveryStatus
from notifications.services import notification_record
from notifications.tests.sendgrid_service import API_KEY, SendGridService
from speedtrade.tests.test_settings_modes import run

pytestmark = pytest.mark.django_db

EMAIL_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
    "'backend': s.EMAIL_BACKEND, 'anymail': s.ANYMAIL, 'host': s.EMAIL_HOST, 'port': s.EMAIL_PORT, "
    "'tls': s.EMAIL_USE_TLS, 'user': s.EMAIL_HOST_USER}))"
)


def email_settings(**variables) -> dict:
    result = run({"SPEEDTRADE_ENV": "development", **variables}, "-c", EMAIL_SETTINGS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sendgrid_is_chosen_by_email_provider_and_its_api_key():
    loaded = email_settings(EMAIL_PROVIDER="sendgrid", SENDGRID_API_KEY="SG.abc")

    assert loaded["backend"] == "anymail.backends.sendgrid.EmailBackend"
    assert loaded["anymail"] == {"SENDGRID_API_KEY": "SG.abc"}


def test_any_anymail_provider_takes_its_settings_from_anymail_variables():
    loaded = email_settings(EMAIL_PROVIDER="postmark", ANYMAIL_POSTMARK_SERVER_TOKEN="pm-token")

    assert loaded["backend"] == "anymail.backends.postmark.EmailBackend"
    assert loaded["anymail"] == {"POSTMARK_SERVER_TOKEN": "pm-token"}


def test_sendgrid_without_a_key_or_an_unknown_provider_refuses_to_start():
    no_key = run({"SPEEDTRADE_ENV": "development", "EMAIL_PROVIDER": "sendgrid"}, "-c", EMAIL_SETTINGS)
    assert no_key.returncode != 0 and "needs SENDGRID_API_KEY" in no_key.stderr

    typo = run({"SPEEDTRADE_ENV": "development", "EMAIL_PROVIDER": "sendgird"}, "-c", EMAIL_SETTINGS)
    assert typo.returncode != 0 and "EMAIL_PROVIDER 'sendgird' is not a django-anymail backend" in typo.stderr


def test_email_url_names_the_smtp_server_and_nothing_later_overrides_it():
    loaded = email_settings(EMAIL_URL="smtp+tls://mailer:secret@smtp.example.com:587")

    assert loaded["backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (loaded["host"], loaded["port"], loaded["tls"], loaded["user"]) == ("smtp.example.com", 587, True, "mailer")


@pytest.fixture
def sendgrid(settings):
    service = SendGridService()
    settings.EMAIL_BACKEND = "anymail.backends.sendgrid.EmailBackend"
    settings.ANYMAIL = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_API_URL": service.url + "/v3/"}
    yield service
    service.close()


def deposit_settled(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification_record(user_id=user.pk, kind="deposit_settled", event_key="t:1", context={"amount": "$25.00"})
    return Delivery.objects.get(channel="email")


def test_a_notification_email_goes_out_through_sendgrids_v3_api(alice, sendgrid, django_capture_on_commit_callbacks):
    delivery = deposit_settled(alice, django_capture_on_commit_callbacks)

    ((path, headers, body),) = sendgrid.received
    assert path == "/v3/mail/send"
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert body["personalizations"][0]["to"] == [{"email": alice.email}]
    assert body["from"] == {"email": "no-reply@speedtrade.local", "name": "SpeedTrade"}
    assert body["subject"] == "Deposit settled"
    contents = {part["type"]: part["value"] for part in body["content"]}
    assert "Your deposit of $25.00 has arrived." in contents["text/plain"]
    assert "Your deposit of $25.00 has arrived." in contents["text/html"]
    assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert body["headers"]["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/notifications/unsubscribe/")
    assert delivery.status == DeliveryStatus.SENT


def test_a_refused_api_key_fails_the_attempt_and_is_retried(
    alice, sendgrid, settings, django_capture_on_commit_callbacks
):
    settings.ANYMAIL = {**settings.ANYMAIL, "SENDGRID_API_KEY": "SG.revoked"}
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2

    delivery = deposit_settled(alice, django_capture_on_commit_callbacks)

    assert len(sendgrid.received) == 2
    assert delivery.status == DeliveryStatus.FAILED and "AnymailRequestsAPIError" in delivery.last_error
