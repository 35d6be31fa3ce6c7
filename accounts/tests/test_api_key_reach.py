"""What an API key reaches (issue 16, item 7): trading and market data, never money out, identity or keys.

Keys are for programs; withdrawals, KYC and its documents, the profile and key management need the
user's own login. Creating a key asks for the password again and tells the user by email; a password
reset or an MFA change revokes every key. Rate limits count per user as well as per key.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiKey, AuditEvent, KYCApplication
from accounts.tests.factories import DEFAULT_PASSWORD, KYCDocumentFactory, approved_customer
from notifications.models import Notification
from portfolios.models import Transfer

pytestmark = pytest.mark.django_db


def key_client(key: ApiKey, secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_APCA_API_KEY_ID=key.key_id, HTTP_APCA_API_SECRET_KEY=secret)
    return client


@pytest.fixture
def alice_approved(alice):
    return approved_customer(alice)


@pytest.fixture
def alice_trading_key(alice, alice_approved):
    key, secret = services.api_key_create(user=alice, label="bot", scope=ApiKey.Scope.TRADING)
    return key_client(key, secret)


def assert_refused_for_keys(response):
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "permission_denied"
    assert "API keys reach trading and market data only" in body["message"]


def test_a_trading_key_cannot_withdraw_or_cancel_a_transfer(alice_trading_key, alice_approved, alice):
    pending = Transfer.objects.create(
        account=alice_approved, direction=Transfer.Direction.INCOMING, amount=Decimal("5.00"), status="pending"
    )
    transfers_before = Transfer.objects.count()

    assert_refused_for_keys(alice_trading_key.post("/api/v1/transfers", {"direction": "outgoing", "amount": "900.00"}))
    assert_refused_for_keys(alice_trading_key.get("/api/v1/transfers"))
    assert_refused_for_keys(alice_trading_key.delete(f"/api/v1/transfers/{pending.pk}"))

    assert Transfer.objects.count() == transfers_before
    pending.refresh_from_db()
    assert pending.status == Transfer.Status.PENDING


def test_a_trading_key_cannot_edit_kyc_or_download_identity_documents(alice_trading_key, alice):
    document = KYCDocumentFactory(application=KYCApplication.objects.get(user=alice))
    status_before = KYCApplication.objects.get(user=alice).status

    assert_refused_for_keys(alice_trading_key.patch("/api/v1/kyc", {"given_name": "Mallory"}, format="json"))
    assert_refused_for_keys(alice_trading_key.get("/api/v1/kyc"))
    assert_refused_for_keys(alice_trading_key.get(f"/api/v1/kyc/documents/{document.pk}"))
    assert_refused_for_keys(alice_trading_key.patch("/api/v1/me", {"first_name": "Mallory"}, format="json"))

    application = KYCApplication.objects.get(user=alice)
    assert application.status == status_before and application.given_name != "Mallory"


def test_a_read_only_key_cannot_read_kyc_documents(alice, alice_approved):
    document = KYCDocumentFactory(application=KYCApplication.objects.get(user=alice))
    key, secret = services.api_key_create(user=alice, scope=ApiKey.Scope.READ_ONLY)

    assert_refused_for_keys(key_client(key, secret).get("/api/v1/kyc/documents"))
    assert_refused_for_keys(key_client(key, secret).get(f"/api/v1/kyc/documents/{document.pk}"))


def test_keys_still_reach_trading_and_market_data(alice_trading_key):
    for path in ("/api/v1/account", "/api/v1/orders", "/api/v1/positions", "/api/v1/assets", "/api/v1/clock"):
        assert alice_trading_key.get(path).status_code == 200, path
    assert alice_trading_key.get("/v2/account").status_code == 200
    assert alice_trading_key.get("/api/v1/watchlists").status_code == 200


def test_creating_a_key_asks_for_the_password_again_and_emails_the_user(
    alice_api, alice, django_capture_on_commit_callbacks
):
    missing = alice_api.post("/api/v1/api-keys", {"label": "bot"})
    wrong = alice_api.post("/api/v1/api-keys", {"label": "bot", "password": "not-my-password"})

    assert missing.status_code == 400 and "password" in missing.json()["fields"]
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "reauthentication_failed"
    assert not ApiKey.objects.filter(user=alice).exists() and mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        created = alice_api.post("/api/v1/api-keys", {"label": "bot", "password": DEFAULT_PASSWORD})

    assert created.status_code == 201
    [email] = mail.outbox
    assert email.to == [alice.email] and "API key was created" in email.subject
    assert created.json()["key_id"] in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html" and created.json()["key_id"] in html
    assert created.json()["secret"] not in email.body + html


def test_an_authenticator_code_confirms_a_new_key_too(alice_api, alice):
    import time

    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, hotp_value

    secret = generate_totp_secret()
    TOTP.activate(alice, secret)
    code = f"{hotp_value(secret, int(time.time()) // 30):06d}"  # what her authenticator app shows now

    response = alice_api.post("/api/v1/api-keys", {"label": "bot", "password": code})

    assert response.status_code == 201


def test_a_password_reset_revokes_every_key(alice, alice_trading_key, django_capture_on_commit_callbacks):
    assert alice_trading_key.get("/api/v1/account").status_code == 200
    browser = Client()
    with django_capture_on_commit_callbacks(execute=True):
        browser.post("/accounts/password/reset/", {"email": alice.email})
    link = next(line for line in mail.outbox[-1].body.splitlines() if "/accounts/password/reset/key/" in line)
    set_password_page = browser.get(link.strip()[link.strip().index("/accounts/") :], follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        done = browser.post(
            set_password_page.redirect_chain[-1][0] if set_password_page.redirect_chain else link.strip(),
            {"password1": "a-brand-new-passphrase-42", "password2": "a-brand-new-passphrase-42"},
        )
    assert done.status_code == 302

    refused = alice_trading_key.get("/api/v1/account")
    assert refused.status_code == 401 and refused.json()["code"] == "authentication_failed"
    assert not ApiKey.objects.filter(user=alice, revoked_at__isnull=True).exists()
    subjects = [email.subject for email in mail.outbox]
    assert any("API keys were revoked" in subject for subject in subjects)
    assert any("Password Reset" in subject or "password" in subject.lower() for subject in subjects[1:])
    # The change is in the audit trail and the notification centre; allauth's notice is its only email.
    assert AuditEvent.objects.filter(action="auth.password_changed", subject_user=alice).count() == 1
    notice = Notification.objects.get(user=alice, kind="security_password_changed")
    assert notice.title not in subjects


def test_an_mfa_change_revokes_every_key(alice, alice_trading_key):
    from allauth.mfa.models import Authenticator
    from allauth.mfa.signals import authenticator_removed
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    authenticator = TOTP.activate(alice, generate_totp_secret()).instance
    # What allauth's deactivate flow announces once the authenticator is gone.
    Authenticator.objects.filter(pk=authenticator.pk).delete()
    authenticator_removed.send(sender=Authenticator, request=None, user=alice, authenticator=authenticator)

    assert alice_trading_key.get("/api/v1/account").status_code == 401


@override_settings(API_KEY_RATE_LIMIT_PER_MINUTE=100, API_USER_RATE_LIMIT_PER_MINUTE=3)
def test_the_rate_limit_counts_all_of_a_users_keys_together(alice, alice_approved):
    first = key_client(*services.api_key_create(user=alice, label="one"))
    second = key_client(*services.api_key_create(user=alice, label="two"))
    start = timezone.now().replace(second=5, microsecond=0)

    with freeze_time(start):
        statuses = [client.get("/api/v1/clock").status_code for client in (first, second, first, second)]
    with freeze_time(start + timedelta(minutes=1)):
        next_window = second.get("/api/v1/clock")

    assert statuses == [200, 200, 200, 429]
    assert next_window.status_code == 200 and next_window["X-RateLimit-Limit"] == "3"
