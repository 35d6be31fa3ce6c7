"""The notification email: HTML and text, RFC 8058 one-click unsubscribe per category, none for security."""

import pytest
from django.core import mail
from django.test import Client

from notifications.email import unsubscribe_token
from notifications.models import NotificationPreference
from notifications.services import notification_record

pytestmark = pytest.mark.django_db


def emailed(user, kind, key, django_capture_on_commit_callbacks, **context):
    with django_capture_on_commit_callbacks(execute=True):
        notification_record(user_id=user.pk, kind=kind, event_key=key, context=context)
    return mail.outbox[-1]


def test_email_has_html_text_and_one_click_unsubscribe(alice, settings, django_capture_on_commit_callbacks):
    settings.NOTIFICATIONS_SITE_URL = "https://speedtrade.example"
    message = emailed(alice, "deposit_settled", "t:1", django_capture_on_commit_callbacks, amount="$25.00")

    assert message.subject == "Deposit settled"
    assert "Your deposit of $25.00 has arrived." in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "Your deposit of $25.00 has arrived." in html
    unsubscribe = message.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://speedtrade.example/notifications/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.strip("<>") in message.body and unsubscribe.strip("<>") in html
    assert message.extra_headers["Message-ID"].endswith("@speedtrade.local>")


def test_one_click_post_unsubscribes_from_that_category_only(alice, django_capture_on_commit_callbacks):
    message = emailed(alice, "deposit_settled", "t:1", django_capture_on_commit_callbacks, amount="$25.00")
    path = message.extra_headers["List-Unsubscribe"].strip("<>").removeprefix("http://127.0.0.1:8000")

    # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click", no cookie, no CSRF token.
    response = Client(enforce_csrf_checks=True).post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert NotificationPreference.objects.get(user=alice, category="transfers").email is False
    assert not NotificationPreference.objects.filter(user=alice, category="orders").exists()


def test_the_unsubscribe_link_opened_in_a_browser_asks_first(alice, client):
    token = unsubscribe_token(user_id=alice.pk, category="orders")

    response = client.get(f"/notifications/unsubscribe/{token}/")

    assert response.status_code == 200 and b"Unsubscribe</button>" in response.content
    assert not NotificationPreference.objects.exists()  # link scanners unsubscribe no one


def test_a_forged_or_security_token_unsubscribes_no_one(alice, client):
    forged = unsubscribe_token(user_id=alice.pk, category="orders")[:-3] + "abc"
    security = unsubscribe_token(user_id=alice.pk, category="security")

    assert client.post(f"/notifications/unsubscribe/{forged}/").status_code == 404
    assert client.post(f"/notifications/unsubscribe/{security}/").status_code == 404
    assert not NotificationPreference.objects.exists()


def test_security_email_has_no_unsubscribe(alice, django_capture_on_commit_callbacks):
    message = emailed(alice, "security_new_login", "a:1", django_capture_on_commit_callbacks, ip_address="203.0.113.9")

    assert "List-Unsubscribe" not in message.extra_headers
    assert "Security emails are always sent" in message.body
