"""yfinance backfill, offline: yfinance runs on a plain requests session (its `session=`
hook), which requests-mock answers with Yahoo's recorded chart responses, cookie and crumb."""

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from marketdata.models import Bar
from marketdata.tests.factories import AssetFactory
from marketdata.yfinance_history import YFinanceHistory

RECORDINGS = Path(__file__).parent / "recordings"
CHART = "https://query2.finance.yahoo.com/v8/finance/chart/AAPL"
D = Decimal


def recording(name: str):
    return json.loads((RECORDINGS / name).read_text())


@pytest.fixture
def yahoo(requests_mock, tmp_path):
    import yfinance

    yfinance.set_tz_cache_location(str(tmp_path))  # yfinance's own sqlite caches, kept out of $HOME
    requests_mock.get(
        "https://fc.yahoo.com", status_code=404, headers={"Set-Cookie": "A3=d=AQABBKt; Domain=.yahoo.com"}
    )
    requests_mock.get(requests_mock_any_crumb(), text="tkzb0Y6OjyA")

    def chart(request, context):
        interval = request.qs.get("interval", ["1d"])[0]
        return recording("yahoo_chart_aapl_15m.json" if interval == "15m" else "yahoo_chart_aapl_1d.json")

    requests_mock.get(CHART, json=chart)
    return requests_mock


def requests_mock_any_crumb():
    import re

    return re.compile(r"https://query[12]\.finance\.yahoo\.com/v1/test/getcrumb")


async def test_daily_bars_start_at_new_york_midnight_with_yahoos_prices_rounded(yahoo):
    bars = await YFinanceHistory(session=requests.Session()).bars(
        "AAPL", timeframe="1Day", start=datetime(2026, 12, 1, tzinfo=UTC), end=datetime(2026, 12, 5, tzinfo=UTC)
    )
    assert [bar.timestamp for bar in bars] == [datetime(2026, 12, day, 5, tzinfo=UTC) for day in (1, 2, 3, 4)]
    assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close, bars[0].volume) == (
        D("193.9000"), D("195.1000"), D("192.9000"), D("194.2700"), D("52164540"),
    )  # fmt: skip
    query = [r for r in yahoo.request_history if r.url.startswith(CHART)][-1].qs
    assert query["interval"] == ["1d"] and query["period1"] == ["1796083200"] and query["crumb"] == ["tkzb0y6ojya"]


async def test_hourly_bars_are_yahoos_quarter_hours_in_our_clock_hour_buckets(yahoo):
    bars = await YFinanceHistory(session=requests.Session()).bars(
        "AAPL", timeframe="1Hour", start=datetime(2026, 12, 4, tzinfo=UTC), end=datetime(2026, 12, 5, tzinfo=UTC)
    )
    assert [bar.timestamp for bar in bars] == [datetime(2026, 12, 4, hour, tzinfo=UTC) for hour in (14, 15, 16)]
    ten = bars[1]  # 10:00, 10:15, 10:30, 10:45 ET
    assert (ten.open, ten.high, ten.low, ten.close, ten.volume) == (
        D("194.8000"), D("195.4000"), D("194.7000"), D("195.3000"), D("5512100"),
    )  # fmt: skip
    assert bars[0].volume == D("6123400")  # 09:30 and 09:45 (the session opens mid-hour)


async def test_other_timeframes_are_refused():
    with pytest.raises(ValueError, match="yfinance backfill offers"):
        await YFinanceHistory().bars("AAPL", timeframe="1Min", start=datetime(2026, 12, 4, tzinfo=UTC))


@pytest.mark.django_db
def test_backfill_bars_yfinance_stores_daily_and_hourly_history(yahoo, monkeypatch):
    import marketdata.management.commands.backfill_bars as backfill

    asset = AssetFactory(symbol="AAPL")
    monkeypatch.setattr(backfill, "history_source", lambda provider: YFinanceHistory(session=requests.Session()))
    out = io.StringIO()
    call_command("backfill_bars", provider="yfinance", days=10, symbols=["AAPL"], stdout=out)
    assert "yfinance: 7 bars inserted" in out.getvalue()
    assert Bar.objects.filter(asset=asset, timeframe="1Day").count() == 4
    assert Bar.objects.filter(asset=asset, timeframe="1Hour").count() == 3
