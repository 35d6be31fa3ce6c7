"""/api/v1/recurring-investments: create, list with the next run, edit, pause, resume, cancel, runs."""

import pytest
from rest_framework.test import APIClient

from portfolios.tests.factories import AssetFactory
from recurring.models import RecurringPlan
from recurring.tasks import recurring_runs_due

pytestmark = pytest.mark.django_db

WEEKLY_FRIDAY = {"symbol": "ACME", "amount": "25.00", "frequency": "weekly", "weekday": 4, "start_date": "2026-03-04"}


def test_alice_creates_a_weekly_plan_and_sees_its_next_run(alice_api, alice_account, acme):
    response = alice_api.post("/api/v1/recurring-investments", WEEKLY_FRIDAY, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["amount"], body["next_run_date"]) == ("active", "25.00", "2026-03-06")
    assert body["next_run_at"] == "2026-03-06T14:30:00Z"  # the open, 09:30 New York
    listed = alice_api.get("/api/v1/recurring-investments").json()["results"]
    assert [p["id"] for p in listed] == [body["id"]]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": "0.99"}, 400, "validation_error"),
        ({"amount": "1.005"}, 400, "validation_error"),
        ({"weekday": None}, 422, "missing_field"),
        ({"start_date": "2026-03-01"}, 422, "invalid_start_date"),
        ({"symbol": "NOPE"}, 422, "asset_not_found"),
        ({"end_date": "2026-03-05"}, 422, "no_runs_in_range"),
        ({"frequency": "monthly"}, 422, "missing_field"),
        ({"hourly": True}, 400, "validation_error"),
    ],
)
def test_refusals_write_nothing(alice_api, alice_account, acme, change, status, code):
    payload = {k: v for k, v in {**WEEKLY_FRIDAY, **change}.items() if v is not None}

    response = alice_api.post("/api/v1/recurring-investments", payload, format="json")

    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert not RecurringPlan.objects.exists()


def test_a_whole_share_stock_is_refused(alice_api, alice_account, market_open):
    AssetFactory(symbol="WHOLE", fractionable=False)

    response = alice_api.post("/api/v1/recurring-investments", {**WEEKLY_FRIDAY, "symbol": "WHOLE"}, format="json")

    assert response.json()["code"] == "not_fractionable"


def test_edit_pause_resume_cancel(alice_api, alice_account, acme):
    plan_id = alice_api.post("/api/v1/recurring-investments", WEEKLY_FRIDAY, format="json").json()["id"]
    url = f"/api/v1/recurring-investments/{plan_id}"

    edited = alice_api.patch(url, {"frequency": "monthly", "day_of_month": 31, "amount": "40"}, format="json").json()
    assert (edited["next_scheduled_date"], edited["next_run_date"], edited["amount"]) == (
        "2026-03-31",
        "2026-03-31",
        "40.00",
    )
    paused = alice_api.post(f"{url}/pause").json()
    assert (paused["status"], paused["next_run_date"]) == ("paused", None)
    resumed = alice_api.post(f"{url}/resume").json()
    assert (resumed["status"], resumed["next_run_date"]) == ("active", "2026-03-31")
    canceled = alice_api.delete(url).json()
    assert canceled["status"] == "canceled"
    assert alice_api.post(f"{url}/resume").json()["code"] == "plan_ended"
    events = RecurringPlan.objects.get(pk=plan_id).events.values_list("event", flat=True)
    assert list(events) == ["created", "edited", "paused", "resumed", "canceled"]


def test_runs_link_to_their_orders(alice_api, alice_account, acme):
    payload = {**WEEKLY_FRIDAY, "frequency": "daily"}
    plan_id = alice_api.post("/api/v1/recurring-investments", payload, format="json").json()["id"]
    recurring_runs_due()

    (run,) = alice_api.get(f"/api/v1/recurring-investments/{plan_id}/runs").json()["results"]

    assert (run["status"], run["scheduled_date"]) == ("placed", "2026-03-04")
    assert alice_api.get(f"/api/v1/orders/{run['order_id']}").status_code == 200


def test_bob_cannot_see_or_change_alices_plan(alice_api, alice_account, acme, bob):
    plan_id = alice_api.post("/api/v1/recurring-investments", WEEKLY_FRIDAY, format="json").json()["id"]
    bob_api = APIClient()
    bob_api.force_authenticate(bob)
    url = f"/api/v1/recurring-investments/{plan_id}"

    assert bob_api.get(url).status_code == 404
    assert bob_api.get(f"{url}/runs").status_code == 404
    assert bob_api.patch(url, {"amount": "2"}, format="json").status_code == 404
    assert bob_api.post(f"{url}/pause").status_code == 404
    assert bob_api.delete(url).status_code == 404
    assert RecurringPlan.objects.get(pk=plan_id).status == "active"


def test_a_plan_that_ran_out_of_dates_while_paused_stays_paused(alice_api, alice_account, acme, market_open):
    payload = {**WEEKLY_FRIDAY, "end_date": "2026-03-13"}
    plan_id = alice_api.post("/api/v1/recurring-investments", payload, format="json").json()["id"]
    url = f"/api/v1/recurring-investments/{plan_id}"
    alice_api.post(f"{url}/pause")
    market_open.move_to("2026-03-16 15:00:00")

    response = alice_api.post(f"{url}/resume")

    assert response.status_code == 422 and response.json()["code"] == "no_runs_in_range"
    assert RecurringPlan.objects.get(pk=plan_id).status == "paused"
