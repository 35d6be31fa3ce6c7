"""Dashboard: plans page, a plan's runs linked to orders, "Repeat this buy" on the ticket, next runs on Home,
the alerts page and the trade page's bell."""

import re
from decimal import Decimal

import pytest

from alerts.models import PriceAlert
from recurring.models import RecurringPlan
from recurring.services import plan_create
from recurring.tasks import recurring_runs_due
from recurring.tests.conftest import WEDNESDAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_browser(client, alice):
    client.force_login(alice)
    return client


def test_alice_creates_a_plan_from_the_plans_page(alice_browser, alice_account, acme):
    response = alice_browser.post(
        "/recurring/",
        {"symbol": "ACME", "amount": "20", "frequency": "weekly", "weekday": "4", "start_date": "2026-03-04"},
    )

    assert response.status_code == 302
    assert RecurringPlan.objects.filter(user__email="alice@example.com").count() == 1
    page = alice_browser.get("/recurring/").content.decode()
    assert "$20.00 of ACME" in page and 'datetime="2026-03-06"' in page


def test_a_refused_plan_comes_back_with_its_error(alice_browser, alice_account, acme):
    response = alice_browser.post(
        "/recurring/", {"symbol": "ACME", "amount": "20", "frequency": "monthly", "start_date": "2026-03-04"}
    )

    assert response.status_code == 422
    assert "Monthly plans need a day of the month" in response.content.decode()
    assert not RecurringPlan.objects.exists()


def test_the_plan_page_links_each_run_to_its_order(alice_browser, alice, alice_account, acme):
    plan = plan_create(user=alice, symbol="ACME", amount=Decimal("10"), frequency="daily", start_date=WEDNESDAY)
    recurring_runs_due()
    run = plan.runs.get()

    page = alice_browser.get(f"/recurring/{plan.id}/").content.decode()

    assert f'href="/orders/{run.order_id}/"' in page


def test_pause_from_the_page_and_bob_cannot(alice_browser, alice, alice_account, acme, bob, client):
    plan = plan_create(user=alice, symbol="ACME", amount=Decimal("10"), frequency="daily", start_date=WEDNESDAY)
    alice_browser.post(f"/recurring/{plan.id}/pause/")
    plan.refresh_from_db()
    assert plan.status == "paused"

    client.force_login(bob)
    assert client.post(f"/recurring/{plan.id}/resume/").status_code == 404
    assert client.get(f"/recurring/{plan.id}/").status_code == 404
    plan.refresh_from_db()
    assert plan.status == "paused"


def test_home_shows_the_next_run(alice_browser, alice, alice_account, acme):
    plan_create(user=alice, symbol="ACME", amount=Decimal("10"), frequency="weekly", weekday=4, start_date=WEDNESDAY)

    page = alice_browser.get("/").content.decode()

    assert "Next recurring buys" in page and "$10.00 of ACME" in page and 'datetime="2026-03-06"' in page


def test_the_tickets_review_offers_to_repeat_a_dollar_buy(alice_browser, alice_account, acme):
    page = alice_browser.get("/trade/ACME/").content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(symbol|client_order_id)" value="([^"]*)"', page))
    review = alice_browser.post(
        "/orders/ticket/",
        {
            **fields,
            "side": "buy",
            "amount_in": "dollars",
            "notional": "15",
            "type": "market",
            "time_in_force": "day",
            "step": "review",
        },
    ).content.decode()

    assert 'href="/recurring/?symbol=ACME&amp;amount=15' in review and ">Repeat this buy<" in review


def test_the_trade_page_has_an_alert_bell_and_the_alerts_page_creates_one(alice_browser, alice_account, acme):
    assert 'href="/alerts/?symbol=ACME"' in alice_browser.get("/trade/ACME/").content.decode()

    response = alice_browser.post(
        "/alerts/", {"symbol": "ACME", "condition": "price_below", "value": "9", "cooldown_minutes": "60"}
    )

    assert response.status_code == 302
    assert PriceAlert.objects.get().describe() == "at or below $9"
    assert "at or below $9" in alice_browser.get("/alerts/").content.decode()
