"""Issue 18 item 11: chart indicators from our bars with TA-Lib, checked against values worked by hand, offered
by the bars API (`indicators=`) for mobile clients, and the trade chart's toggles remembered per user."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from accounts.models import User
from marketdata.indicators import indicators_compute
from marketdata.models import Bar, Timeframe
from marketdata.tests.factories import AssetFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)


@pytest.fixture
def ford():
    return AssetFactory(symbol="F", reference_price=D("10.52"))


def minute_bars(asset, closes, volume="100"):
    return Bar.objects.bulk_create(
        Bar(
            asset=asset,
            timeframe=Timeframe.MINUTE,
            timestamp=START + timedelta(minutes=n),
            open=D(close),
            high=D(close),
            low=D(close),
            close=D(close),
            volume=D(volume),
        )
        for n, close in enumerate(closes)
    )


def test_averages_and_bands_match_values_worked_by_hand(ford):
    # Closes 1..25: the 20-bar average at bar k (k ≥ 20) is k − 9.5; the bands' middle is that average.
    bars = minute_bars(ford, [str(n) for n in range(1, 26)])
    result = indicators_compute(bars, ["sma", "bbands", "volume"])
    sma = result["sma"]["sma"]
    assert len(sma) == 6 and sma[0] == {"time": int(bars[19].timestamp.timestamp()), "value": 10.5}
    assert sma[-1]["value"] == 15.5
    assert [p["value"] for p in result["bbands"]["middle"]] == [p["value"] for p in sma]
    # Population standard deviation of 20 consecutive integers: √((20² − 1) / 12) ≈ 5.766; ±2σ.
    assert result["bbands"]["upper"][0]["value"] == pytest.approx(10.5 + 2 * 5.766281, abs=1e-5)
    assert result["volume"]["volume"][0]["value"] == 100.0 and len(result["volume"]["volume"]) == 25


def test_rsi_is_100_on_a_steady_rise_and_macd_has_its_three_lines(ford):
    bars = minute_bars(ford, [str(10 + n) for n in range(40)])
    result = indicators_compute(bars, ["rsi", "macd"])
    assert result["rsi"]["rsi"][0]["time"] == int(bars[14].timestamp.timestamp())  # 14 changes needed first
    assert {p["value"] for p in result["rsi"]["rsi"]} == {100.0}
    assert set(result["macd"]) == {"macd", "signal", "histogram"}
    assert len(result["macd"]["signal"]) == 40 - 33  # 26-bar slow average, then a 9-bar signal: 33 warm-up bars


def test_too_few_bars_give_empty_lines_not_errors(ford):
    assert indicators_compute(minute_bars(ford, ["10", "11"]), ["sma", "macd"])["sma"] == {"sma": []}
    assert indicators_compute([], ["rsi"]) == {"rsi": {"rsi": []}}


def test_the_bars_api_returns_indicators_when_asked(alice_api, ford):
    minute_bars(ford, [str(n) for n in range(1, 26)])
    params = {"timeframe": "1Min", "end": "2026-03-11", "indicators": "sma,RSI"}
    body = alice_api.get("/api/v1/bars/F", params).json()
    assert set(body["indicators"]) == {"sma", "rsi"}
    assert body["indicators"]["sma"]["sma"][-1]["value"] == 15.5
    assert "indicators" not in alice_api.get("/api/v1/bars/F", {"end": "2026-03-11"}).json()


def test_an_unknown_indicator_is_400_naming_the_choices(alice_api, ford):
    response = alice_api.get("/api/v1/bars/F", {"indicators": "sma,ichimoku"})
    assert response.status_code == 400
    assert "sma, ema, bbands, volume, rsi, macd" in str(response.json())


def test_the_chart_toggles_are_remembered_per_user(client, alice, bob, ford):
    client.force_login(alice)
    response = client.post("/chart/indicators/", {"indicator": ["rsi", "sma"]})
    assert response.status_code == 204
    alice.refresh_from_db()
    assert alice.chart_indicators == ["sma", "rsi"]  # in the chart's order
    html = client.get("/trade/F/").content.decode()
    assert 'value="sma" checked' in html and 'value="rsi" checked' in html and 'value="macd">' in html
    assert 'id="price-chart-indicators"' in html
    assert User.objects.get(pk=bob.pk).chart_indicators == []


def test_an_unknown_toggle_is_refused_and_changes_nothing(client, alice):
    client.force_login(alice)
    client.post("/chart/indicators/", {"indicator": ["sma"]})
    response = client.post("/chart/indicators/", {"indicator": ["sma", "astrology"]})
    assert response.status_code == 422
    alice.refresh_from_db()
    assert alice.chart_indicators == ["sma"]
