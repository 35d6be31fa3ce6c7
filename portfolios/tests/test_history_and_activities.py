"""Portfolio history from snapshots; activities as one time-ordered feed."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from freezegun import freeze_time

from portfolios import services
from portfolios.models import EquitySnapshot
from portfolios.tests.conftest import WEDNESDAY

pytestmark = pytest.mark.django_db
D = Decimal
WEDNESDAY_CLOSE = datetime(2026, 3, 4, 21, 5, tzinfo=UTC)  # 16:05 ET


def test_session_close_snapshot_once_per_session(funded, acme):
    services.fill_apply(
        account=funded, asset=acme, side="buy", qty=D("10"), price=D("9"), fee=D("0"), executed_at=WEDNESDAY, cause=None
    )
    assert services.session_close_snapshots_take(at=WEDNESDAY) == 0  # before the close
    assert services.session_close_snapshots_take(at=WEDNESDAY_CLOSE) == 1
    assert services.session_close_snapshots_take(at=WEDNESDAY_CLOSE + timedelta(minutes=5)) == 0
    snapshot = EquitySnapshot.objects.get()
    # reference price 10 stands in until market data is wired: 910 cash + 100
    assert (snapshot.equity, snapshot.profit_loss, snapshot.session_date) == (
        D("1010.00"),
        D("10.00"),
        WEDNESDAY.date(),
    )


def test_history_buckets_and_pl_exclude_deposits(alice_api, funded):
    start = WEDNESDAY.replace(hour=14, minute=30)
    for minutes, equity, contributions in [(0, "1000", "1000"), (2, "1003", "1000"), (7, "1105", "1100")]:
        EquitySnapshot.objects.create(
            account=funded,
            timestamp=start + timedelta(minutes=minutes),
            kind="intraday",
            equity=D(equity),
            cash=D(equity),
            long_market_value=0,
            net_contributions=D(contributions),
            profit_loss=D(equity) - D(contributions),
        )
    with freeze_time(start + timedelta(minutes=10)):
        body = alice_api.get("/api/v1/account/portfolio/history", {"period": "1D", "timeframe": "5Min"}).json()
    assert body == {
        "timestamp": [int(start.timestamp()), int((start + timedelta(minutes=5)).timestamp())],
        "equity": ["1003.00", "1105.00"],  # the last snapshot in each 5-minute bucket
        "profit_loss": ["0.00", "2.00"],  # 1105 − 1100 deposited − (1003 − 1000)
        "profit_loss_pct": ["0.000000", "0.001994"],
        "base_value": "1003.00",
        "timeframe": "5Min",
    }


def test_history_refuses_unknown_periods(alice_api, funded):
    response = alice_api.get("/api/v1/account/portfolio/history", {"period": "2Y"})
    assert response.status_code == 400 and "period" in response.json()["fields"]


def test_activities_mix_fills_fees_and_transfers_in_time_order(alice_api, funded, acme):
    services.fill_apply(
        account=funded,
        asset=acme,
        side="buy",
        qty=D("2"),
        price=D("10"),
        fee=D("0.10"),
        executed_at=WEDNESDAY,
        cause=None,
    )
    body = alice_api.get("/api/v1/account/activities").json()
    assert [a["activity_type"] for a in body] == ["FEE", "FILL", "TRANS"] or [a["activity_type"] for a in body] == [
        "FILL",
        "FEE",
        "TRANS",
    ]
    fill = next(a for a in body if a["activity_type"] == "FILL")
    assert (fill["symbol"], fill["side"], fill["qty"], fill["price"], fill["net_amount"]) == (
        "ACME",
        "buy",
        "2.000000000",
        "10.000000000",
        "-20.00",
    )
    assert next(a for a in body if a["activity_type"] == "TRANS")["net_amount"] == "1000.00"
    only_fills = alice_api.get("/api/v1/account/activities", {"activity_types": "FILL"}).json()
    assert [a["activity_type"] for a in only_fills] == ["FILL"]
    later = alice_api.get("/api/v1/account/activities", {"after": WEDNESDAY.isoformat(), "direction": "asc"}).json()
    assert later == []  # `after` is exclusive and the fills happened exactly then


def test_activities_refuse_unknown_types(alice_api, funded):
    response = alice_api.get("/api/v1/account/activities", {"activity_types": "FILL,DIVIDEND"})
    assert response.status_code == 400 and "activity_types" in response.json()["fields"]


def test_two_beats_in_one_interval_write_one_intraday_snapshot_per_account(funded, settings):
    """A second beat (or a retried task) in the same interval writes nothing twice; the database refuses it too."""
    settings.EQUITY_SNAPSHOT_INTERVAL_SECONDS = 300
    first_beat = services.snapshot_slot(WEDNESDAY + timedelta(seconds=10))
    second_beat = services.snapshot_slot(WEDNESDAY + timedelta(seconds=250))
    assert first_beat == second_beat == WEDNESDAY

    assert services.equity_snapshots_take(at=first_beat) == 1
    assert services.equity_snapshots_take(at=second_beat) == 0
    assert EquitySnapshot.objects.filter(account=funded, kind="intraday").count() == 1

    duplicate = EquitySnapshot.objects.get(account=funded, kind="intraday")
    duplicate.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
