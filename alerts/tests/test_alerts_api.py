"""/api/v1/alerts: create, list, edit, cancel; the per-user limit; bob never sees alice's alerts."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from alerts.models import PriceAlert
from alerts.services import alert_create
from portfolios.tests.factories import AssetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(db):
    return AssetFactory(symbol="ACME", reference_price=Decimal("100.00"))


def test_alice_creates_and_lists_an_alert(alice, alice_api, acme):
    response = alice_api.post(
        "/api/v1/alerts", {"symbol": "acme", "condition": "price_above", "value": "120.5"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["symbol"], body["value"], body["status"], body["description"]) == (
        "ACME",
        "120.5",
        "active",
        "at or above $120.5",
    )
    assert [a["id"] for a in alice_api.get("/api/v1/alerts").json()["results"]] == [body["id"]]


def test_unknown_symbol_and_bad_values_write_nothing(alice_api, acme):
    assert (
        alice_api.post(
            "/api/v1/alerts", {"symbol": "NOPE", "condition": "price_above", "value": "1"}, format="json"
        ).json()["code"]
        == "asset_not_found"
    )
    assert (
        alice_api.post(
            "/api/v1/alerts", {"symbol": "ACME", "condition": "price_above", "value": "0"}, format="json"
        ).status_code
        == 422
    )
    assert (
        alice_api.post(
            "/api/v1/alerts", {"symbol": "ACME", "condition": "sideways", "value": "1"}, format="json"
        ).status_code
        == 400
    )
    response = alice_api.post(
        "/api/v1/alerts",
        {"symbol": "ACME", "condition": "price_above", "value": "1", "repeat": True, "cooldown_seconds": 5},
        format="json",
    )
    assert response.status_code == 400
    assert not PriceAlert.objects.exists()


def test_at_most_fifty_active_alerts(alice, alice_api, acme, settings):
    for n in range(settings.ALERTS_MAX_ACTIVE_PER_USER):
        alert_create(user=alice, symbol="ACME", condition="price_above", value=Decimal(200 + n))

    response = alice_api.post(
        "/api/v1/alerts", {"symbol": "ACME", "condition": "price_above", "value": "1"}, format="json"
    )

    assert response.status_code == 422 and response.json()["code"] == "alert_limit_reached"
    assert PriceAlert.objects.count() == 50


def test_edit_and_cancel(alice, alice_api, acme):
    created = alert_create(user=alice, symbol="ACME", condition="price_above", value=Decimal("120"))

    edited = alice_api.patch(f"/api/v1/alerts/{created.pk}", {"value": "130", "repeat": True}, format="json").json()
    canceled = alice_api.delete(f"/api/v1/alerts/{created.pk}").json()

    assert (edited["value"], edited["repeat"]) == ("130", True)
    assert canceled["status"] == "canceled"
    assert alice_api.patch(f"/api/v1/alerts/{created.pk}", {"value": "1"}, format="json").status_code == 422


def test_bob_cannot_see_or_touch_alices_alert(alice, bob, acme):
    created = alert_create(user=alice, symbol="ACME", condition="price_above", value=Decimal("120"))
    bob_api = APIClient()
    bob_api.force_authenticate(bob)

    assert bob_api.get(f"/api/v1/alerts/{created.pk}").status_code == 404
    assert bob_api.patch(f"/api/v1/alerts/{created.pk}", {"value": "1"}, format="json").status_code == 404
    assert bob_api.delete(f"/api/v1/alerts/{created.pk}").status_code == 404
    assert bob_api.get("/api/v1/alerts").json()["results"] == []
    created.refresh_from_db()
    assert (created.status, created.value) == ("active", Decimal("120"))
