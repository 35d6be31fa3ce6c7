"""Issue #16 item 4: cancel-all over a buy stop, an OTO entry (and its held leg) and a cls market buy
with the market closed used to answer 500 and leave the cls order `pending_cancel`, its cash held.

The cause was the reservation counter's arithmetic, not the orders: SQLite (the embedded default,
where it was seen) computes decimal columns in binary floating point, so `reserved − 15.75 − 9.00`
left 11.049999999999997 and releasing the cls order's 11.05 was refused. Counters are now kept on
whole cents by the UPDATE itself (`speedtrade.money.cents_in_db`)."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from portfolios.tests.factories import AssetFactory
from speedtrade.tests.test_settings_modes import run as run_embedded
from trading.models import Order
from trading.tests.conftest import cash, quote

pytestmark = pytest.mark.django_db
# Wednesday 19:30 New York: the market is closed and cls orders are for Thursday's close.
EVENING = datetime(2026, 3, 5, 0, 30, tzinfo=UTC)
STOP = {"symbol": "F", "side": "buy", "type": "stop", "qty": "1", "stop_price": "15", "time_in_force": "gtc"}
LIMIT = {"symbol": "F", "side": "buy", "type": "limit", "qty": "1", "limit_price": "9", "time_in_force": "gtc"}
OTO = {**LIMIT, "order_class": "oto", "stop_loss": {"stop_price": "8"}}
CLS = {"symbol": "F", "side": "buy", "type": "market", "qty": "1", "time_in_force": "cls"}


def test_cancel_all_in_the_embedded_default_cancels_everything_and_verify_ledger_sees_drift(tmp_path):
    """The issue exactly as reported: `make run`'s mode (SQLite, tasks in process, DEBUG on), through the API."""
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    run = run_embedded(
        {"DATABASE_URL": database, "SPEEDTRADE_ENV": "development"}, "-m", "trading.tests.embedded_cancel_all"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["placed"] == [201, 201, 201] and result["reserved_before"] == "35.80"
    assert result["cancel_all"] == {"status": 207, "content_type": "application/json"}
    assert result["statuses"] == ["canceled"] * 4  # stop, OTO entry, its held leg, cls
    assert float(result["reserved_after"]) == 0
    assert result["verify_ledger"] == "Ledger OK."
    # verify_ledger compares the counter as stored: a drift off whole cents is a disagreement.
    assert "reserved cash 8.999999999999998 ≠ open orders hold 9" in result["verify_ledger_after_drift"]


def test_cancel_all_with_legs_and_an_auction_order_on_postgresql(
    alice_api, alice_account, market_closed, django_capture_on_commit_callbacks, capsys
):
    market_closed.move_to(EVENING)
    AssetFactory(symbol="F", reference_price=Decimal("10.00"))
    quote(symbol="F", bid="10.50", ask="10.52")
    for body in (STOP, OTO, CLS):
        with django_capture_on_commit_callbacks(execute=True):
            assert alice_api.post("/api/v1/orders", body, format="json").status_code == 201
    assert cash(alice_account).reserved == Decimal("35.80")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete("/api/v1/orders")
    assert response.status_code == 207
    assert [row["status"] for row in response.json()] == [200, 200, 200, 200]
    assert set(Order.objects.values_list("status", flat=True)) == {"canceled"}
    assert cash(alice_account).reserved == 0
    call_command("verify_ledger")
    assert "Ledger OK" in capsys.readouterr().out


def test_canceling_a_pending_cancel_order_again_asks_the_venue_again(
    alice_account, acme, market_closed, scripted_venue, django_capture_on_commit_callbacks
):
    """A cancel whose venue call failed after commit is not stranded: asking again retries it."""
    from trading.services import order_cancel
    from trading.tests.conftest import place

    order = place(alice_account, type="limit", limit_price=Decimal("9.00"), qty=Decimal("1"))
    scripted_venue.down = True
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(account=alice_account, order_id=order.id)  # the venue is unreachable: retried later
    order.refresh_from_db()
    assert order.status == "pending_cancel" and order.reserved_cash == Decimal("9.00")
    scripted_venue.down = False
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(account=alice_account, order_id=order.id)
    order.refresh_from_db()
    assert order.status == "canceled" and order.reserved_cash == 0
    assert cash(alice_account).reserved == 0
