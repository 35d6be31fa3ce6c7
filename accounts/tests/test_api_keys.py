"""API keys: created with a secret shown once, stored as a digest, usable on every API
route with Alpaca's headers, refused at once when revoked, read-only keys cannot write."""

import hashlib
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiKey, AuditEvent
from accounts.tests.factories import DEFAULT_PASSWORD, approved_customer


def key_client(key_id: str, secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_APCA_API_KEY_ID=key_id, HTTP_APCA_API_SECRET_KEY=secret)
    return client


@pytest.fixture
def alice_key(alice):
    approved_customer(alice)
    return services.api_key_create(user=alice, label="bot", scope=ApiKey.Scope.TRADING)


def test_create_shows_the_secret_once_and_stores_only_its_digest(alice_api, alice):
    response = alice_api.post(
        "/api/v1/api-keys", {"label": "my bot", "scope": "read_only", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["key_id"].startswith("PK") and len(body["key_id"]) == 20 and body["key_id"].isupper()
    assert len(body["secret"]) == 40
    key = ApiKey.objects.get(user=alice)
    assert key.secret_sha256 == hashlib.sha256(body["secret"].encode()).hexdigest()
    assert body["secret"] not in str(ApiKey.objects.filter(pk=key.pk).values().first())
    listed = alice_api.get("/api/v1/api-keys").json()
    assert listed == [
        {
            "key_id": key.key_id,
            "label": "my bot",
            "scope": "read_only",
            "created_at": listed[0]["created_at"],
            "last_used_at": None,
            "revoked_at": None,
        }
    ]


def test_creation_and_revocation_are_audited_without_the_secret(alice_api, alice):
    created = alice_api.post("/api/v1/api-keys", {"label": "x", "password": DEFAULT_PASSWORD}).json()
    assert alice_api.delete(f"/api/v1/api-keys/{created['key_id']}").status_code == 204

    events = list(AuditEvent.objects.filter(action__startswith="api_key.").order_by("id"))
    assert [event.action for event in events] == ["api_key.created", "api_key.revoked"]
    assert all(event.actor == alice and event.subject_user == alice for event in events)
    assert events[0].after == {"key_id": created["key_id"], "label": "x", "scope": "trading"}
    assert created["secret"] not in str([(event.before, event.after) for event in events])


def test_key_headers_authenticate_the_trading_and_market_data_routes(alice_key, alice):
    key, secret = alice_key
    client = key_client(key.key_id, secret)

    assert client.get("/api/v1/account").json()["id"] == str(alice.brokerage_accounts.get().pk)
    assert client.get("/api/v1/orders").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_APCA_API_KEY_ID": "PKUNKNOWN0000000000", "HTTP_APCA_API_SECRET_KEY": "x" * 40},
        {"HTTP_APCA_API_KEY_ID": "<own>", "HTTP_APCA_API_SECRET_KEY": "wrong"},
        {"HTTP_APCA_API_KEY_ID": "<own>"},
    ],
    ids=["unknown key", "wrong secret", "missing secret"],
)
def test_bad_keys_get_401(alice_key, headers):
    key, _ = alice_key
    client = APIClient()
    client.credentials(**{name: key.key_id if value == "<own>" else value for name, value in headers.items()})

    response = client.get("/api/v1/account")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_revoked_key_is_refused_on_the_next_request(alice_key, alice):
    key, secret = alice_key
    client = key_client(key.key_id, secret)
    assert client.get("/api/v1/account").status_code == 200

    services.api_key_revoke(user=alice, key_id=key.key_id)

    assert client.get("/api/v1/account").status_code == 401


def test_a_read_only_key_reads_but_cannot_place_orders(alice):
    approved_customer(alice)
    key, secret = services.api_key_create(user=alice, scope=ApiKey.Scope.READ_ONLY)
    client = key_client(key.key_id, secret)

    assert client.get("/api/v1/orders").status_code == 200
    response = client.post("/api/v1/orders", {"symbol": "ACME", "qty": "1", "side": "buy", "type": "market"})

    assert response.status_code == 403
    assert "read-only" in response.json()["message"]
    assert not alice.brokerage_accounts.get().orders.exists()


def test_keys_cannot_manage_keys(alice_key):
    key, secret = alice_key
    client = key_client(key.key_id, secret)

    assert client.post("/api/v1/api-keys", {"label": "successor"}).status_code == 403
    assert client.delete(f"/api/v1/api-keys/{key.key_id}").status_code == 403
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None


def test_another_users_key_cannot_be_revoked(alice_key, bob):
    key, _ = alice_key
    bob_api = APIClient()
    bob_api.force_authenticate(bob)

    assert bob_api.delete(f"/api/v1/api-keys/{key.key_id}").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


@override_settings(API_KEYS_MAX_ACTIVE=2)
def test_active_keys_are_limited_and_revoking_frees_a_place(alice_api, alice):
    first = alice_api.post("/api/v1/api-keys", {"password": DEFAULT_PASSWORD}).json()
    alice_api.post("/api/v1/api-keys", {"password": DEFAULT_PASSWORD})

    refused = alice_api.post("/api/v1/api-keys", {"password": DEFAULT_PASSWORD})
    assert refused.status_code == 422
    assert refused.json()["code"] == "api_key_limit_reached"
    assert ApiKey.objects.filter(user=alice).count() == 2

    alice_api.delete(f"/api/v1/api-keys/{first['key_id']}")
    assert alice_api.post("/api/v1/api-keys", {"password": DEFAULT_PASSWORD}).status_code == 201


def test_invalid_scope_is_a_validation_error(alice_api):
    response = alice_api.post("/api/v1/api-keys", {"scope": "admin", "password": DEFAULT_PASSWORD})

    assert response.status_code == 400
    assert "scope" in response.json()["fields"]
    assert not ApiKey.objects.exists()


def test_last_used_is_written_at_most_once_a_minute(alice_key):
    key, secret = alice_key
    start = timezone.now()
    with freeze_time(start):
        services.api_key_authenticate(key_id=key.key_id, secret=secret)
    with freeze_time(start + timedelta(seconds=30)):
        services.api_key_authenticate(key_id=key.key_id, secret=secret)
    key.refresh_from_db()
    assert key.last_used_at == start

    with freeze_time(start + timedelta(seconds=61)):
        services.api_key_authenticate(key_id=key.key_id, secret=secret)
    key.refresh_from_db()
    assert key.last_used_at == start + timedelta(seconds=61)


def test_a_deactivated_users_keys_stop_working(alice_key, alice):
    key, secret = alice_key
    alice.is_active = False
    alice.save(update_fields=["is_active"])

    with pytest.raises(services.ApiKeyInvalid):
        services.api_key_authenticate(key_id=key.key_id, secret=secret)


@override_settings(API_KEY_RATE_LIMIT_PER_MINUTE=3)
def test_each_key_has_a_per_minute_budget_with_alpacas_headers(alice_key, alice):
    key, secret = alice_key
    client = key_client(key.key_id, secret)
    other_key, other_secret = services.api_key_create(user=alice)
    start = timezone.now().replace(second=5, microsecond=0)

    with freeze_time(start):
        responses = [client.get("/api/v1/clock") for _ in range(4)]
        other = key_client(other_key.key_id, other_secret).get("/api/v1/clock")
    with freeze_time(start + timedelta(minutes=1)):
        next_window = client.get("/api/v1/clock")

    reset = str(int(start.timestamp()) - 5 + 60)
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert all(r["X-RateLimit-Limit"] == "3" and r["X-RateLimit-Reset"] == reset for r in responses)
    assert responses[-1].json()["code"] == "rate_limited"
    assert responses[-1]["Retry-After"] == "55"
    assert (other.status_code, other["X-RateLimit-Remaining"]) == (200, "2")  # the budget is per key
    assert (next_window.status_code, next_window["X-RateLimit-Remaining"]) == (200, "2")


def test_requests_without_a_key_carry_no_rate_limit_headers(alice_api):
    assert "X-RateLimit-Limit" not in alice_api.get("/api/v1/me")
