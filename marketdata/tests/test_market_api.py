"""The market-data API: assets and the screener, clock, calendar, quotes, snapshots, bars, and bad input."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time

from marketdata.models import Asset, Bar, Timeframe
from marketdata.quotes import Quote, store_quotes
from marketdata.tests.factories import AssetFactory, CryptoAssetFactory

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def universe():
    return {
        "F": AssetFactory(symbol="F", name="Ford Motor Company", reference_price=D("10.52")),
        "AAPL": AssetFactory(symbol="AAPL", name="Apple Inc.", exchange="NASDAQ", reference_price=D("228.50")),
        "PLUG": AssetFactory(
            symbol="PLUG",
            name="Plug Power Inc.",
            fractionable=False,
            min_trade_increment=D("1"),
            reference_price=D("1.83"),
        ),
        "OLD": AssetFactory(symbol="OLD", name="Delisted Corp.", status="inactive", tradable=False),
        "BTC/USD": CryptoAssetFactory(),
    }


def quote(symbol, last, at=None):
    return Quote(
        symbol=symbol,
        bid=D(last),
        ask=D(last),
        bid_size=D(1),
        ask_size=D(1),
        last=D(last),
        timestamp=at or datetime.now(UTC),
    )


def symbols(response):
    return [asset["symbol"] for asset in response.json()["results"]]


def assert_error(response, status, code="validation_error"):
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert response.json()["message"]


# --- assets ---------------------------------------------------------------------------


def test_assets_are_listed_in_alpacas_shape_with_their_latest_price(alice_api, universe):
    store_quotes([quote("F", "10.61")])
    response = alice_api.get("/api/v1/assets", {"q": "ford"})
    assert response.status_code == 200
    (ford,) = response.json()["results"]
    assert ford["class"] == "us_equity"
    assert ford["symbol"] == "F" and ford["exchange"] == "NYSE" and ford["fractionable"] is True
    assert ford["price_increment"] == "0.010000000"
    assert ford["price"] == "10.61"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"asset_class": "crypto"}, ["BTC/USD"]),
        ({"status": "inactive"}, ["OLD"]),
        ({"tradable": "false"}, ["OLD"]),
        ({"fractionable": "false"}, ["PLUG"]),
        ({"q": "APP"}, ["AAPL"]),
        ({"q": "btc"}, ["BTC/USD"]),
        ({"max_price": "100", "status": "active"}, ["F", "PLUG"]),
        ({"min_price": "100"}, ["AAPL", "BTC/USD"]),
        ({"min_price": "5", "max_price": "300"}, ["AAPL", "F", "OLD"]),
    ],
)
def test_asset_filters(alice_api, universe, params, expected):
    assert symbols(alice_api.get("/api/v1/assets", params)) == expected


def test_the_under_100_screener_uses_the_latest_price_not_the_reference(alice_api, universe):
    store_quotes([quote("AAPL", "99.99"), quote("F", "100.01")])
    assert symbols(alice_api.get("/api/v1/assets", {"max_price": "100", "status": "active"})) == ["AAPL", "PLUG"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"asset_class": "bonds"}, "asset_class"),
        ({"max_price": "cheap"}, "max_price"),
        ({"status": "deleted"}, "status"),
    ],
)
def test_bad_asset_filters_are_400(alice_api, universe, params, field):
    response = alice_api.get("/api/v1/assets", params)
    assert_error(response, 400)
    assert field in response.json()["fields"]


@pytest.mark.parametrize("name", ["BTC%2FUSD", "BTCUSD", "btcusd", "btc%2fusd"])
def test_a_crypto_pair_is_found_with_or_without_its_slash(alice_api, universe, name):
    response = alice_api.get(f"/api/v1/assets/{name}")
    assert response.status_code == 200
    assert response.json()["symbol"] == "BTC/USD"


def test_an_asset_is_found_by_id_and_by_symbol(alice_api, universe):
    ford = universe["F"]
    assert alice_api.get(f"/api/v1/assets/{ford.pk}").json()["symbol"] == "F"
    assert alice_api.get("/api/v1/assets/f").json()["id"] == str(ford.pk)


@pytest.mark.parametrize("name", ["NOPE", "00000000-0000-0000-0000-000000000000", "ETHUSD"])
def test_unknown_assets_are_404(alice_api, universe, name):
    assert_error(alice_api.get(f"/api/v1/assets/{name}"), 404, "not_found")


def test_market_data_needs_a_logged_in_user(api_client, universe):
    for url in ("/api/v1/assets", "/api/v1/assets/F", "/api/v1/clock", "/api/v1/quotes?symbols=F", "/api/v1/bars/F"):
        assert api_client.get(url).status_code == 401


# --- clock and calendar ----------------------------------------------------------------


@freeze_time("2026-03-10 15:00:00")  # Tuesday 11:00 EDT
def test_the_clock_during_regular_hours(alice_api):
    assert alice_api.get("/api/v1/clock").json() == {
        "timestamp": "2026-03-10T11:00:00-04:00",
        "is_open": True,
        "next_open": "2026-03-11T09:30:00-04:00",
        "next_close": "2026-03-10T16:00:00-04:00",
    }


@freeze_time("2026-03-14 15:00:00")  # Saturday
def test_the_clock_on_a_weekend_points_at_monday(alice_api):
    clock = alice_api.get("/api/v1/clock").json()
    assert clock["is_open"] is False
    assert clock["next_open"] == "2026-03-16T09:30:00-04:00"


def test_the_calendar_skips_holidays_and_shows_early_closes(alice_api):
    response = alice_api.get("/api/v1/calendar", {"start": "2026-11-25", "end": "2026-11-30"})
    assert response.status_code == 200
    assert response.json() == [
        {"date": "2026-11-25", "open": "09:30", "close": "16:00", "session_open": "0400", "session_close": "2000"},
        # Thanksgiving (26th) is closed; the day after closes at 13:00.
        {"date": "2026-11-27", "open": "09:30", "close": "13:00", "session_open": "0400", "session_close": "1700"},
        {"date": "2026-11-30", "open": "09:30", "close": "16:00", "session_open": "0400", "session_close": "2000"},
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-13-01"},
        {"start": "2026-03-10", "end": "2026-03-01"},
        {"start": "2020-01-01", "end": "2026-01-01"},
        {"start": "1990-01-01", "end": "1990-02-01"},
        {"start": "2016-01-01", "end": "2016-01-10"},  # before the first session (2016-01-04): was a 500
    ],
)
def test_bad_calendar_ranges_are_400(alice_api, params):
    assert_error(alice_api.get("/api/v1/calendar", params), 400)


# --- quotes and snapshots -------------------------------------------------------------


def test_latest_quotes_mark_stale_ones_and_null_the_missing(alice_api, universe, settings):
    settings.QUOTE_STALE_AFTER_SECONDS = 60
    store_quotes([quote("F", "10.61"), quote("BTC/USD", "65010", at=datetime.now(UTC) - timedelta(minutes=5))])
    body = alice_api.get("/api/v1/quotes", {"symbols": "F,BTCUSD,AAPL"}).json()["quotes"]
    assert body["F"]["last"] == "10.61" and body["F"]["stale"] is False
    assert body["BTC/USD"]["stale"] is True
    assert body["AAPL"] is None


def test_quotes_for_an_unknown_symbol_are_404_naming_it(alice_api, universe):
    response = alice_api.get("/api/v1/quotes", {"symbols": "F,NOPE"})
    assert_error(response, 404, "not_found")
    assert "NOPE" in response.json()["message"]


@pytest.mark.parametrize(
    "params", [{}, {"symbols": ""}, {"symbols": " , "}, {"symbols": ",".join(f"S{n}" for n in range(201))}]
)
def test_quotes_without_usable_symbols_are_400(alice_api, universe, params):
    assert_error(alice_api.get("/api/v1/quotes", params), 400)


@freeze_time("2026-03-10 15:00:00")
def test_a_snapshot_has_the_quote_todays_bar_and_the_previous_close(alice_api, universe):
    ford = universe["F"]
    for day, close in ((datetime(2026, 3, 9, 4, tzinfo=UTC), "10.40"), (datetime(2026, 3, 10, 4, tzinfo=UTC), "10.60")):
        Bar.objects.create(
            asset=ford,
            timeframe=Timeframe.DAY,
            timestamp=day,
            open=D("10.5"),
            high=D("10.7"),
            low=D("10.3"),
            close=D(close),
        )
    store_quotes([quote("F", "10.61")])
    snapshot = alice_api.get("/api/v1/snapshots", {"symbols": "F,PLUG"}).json()["snapshots"]
    assert snapshot["F"]["latest_quote"]["last"] == "10.61"
    assert snapshot["F"]["daily_bar"]["close"] == "10.600000000"
    assert snapshot["F"]["prev_daily_bar"]["close"] == "10.400000000"
    assert snapshot["F"]["prev_close"] == "10.400000000"
    assert snapshot["PLUG"] == {
        "latest_quote": None,
        "daily_bar": None,
        "prev_daily_bar": None,
        "prev_close": "1.830000000",
    }


# --- bars -----------------------------------------------------------------------------


@pytest.fixture
def ford_minutes(universe):
    start = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
    Bar.objects.bulk_create(
        Bar(
            asset=universe["F"],
            timeframe=Timeframe.MINUTE,
            timestamp=start + timedelta(minutes=n),
            open=D("10"),
            high=D(10 + n),
            low=D("9"),
            close=D(10 + n),
            volume=D(100),
        )
        for n in range(5)
    )
    return start


def test_bars_in_a_range_come_in_time_order(alice_api, ford_minutes):
    response = alice_api.get(
        "/api/v1/bars/F", {"timeframe": "1Min", "start": "2026-03-10T14:31:00Z", "end": "2026-03-10T14:34:00Z"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["symbol"], body["timeframe"]) == ("F", "1Min")
    assert [bar["close"] for bar in body["bars"]] == ["11.000000000", "12.000000000", "13.000000000"]
    assert body["bars"][0]["timestamp"] == "2026-03-10T14:31:00Z"


def test_without_a_start_the_newest_bars_up_to_the_limit(alice_api, ford_minutes):
    body = alice_api.get("/api/v1/bars/F", {"timeframe": "1Min", "limit": 2, "end": "2026-03-11"}).json()
    assert [bar["close"] for bar in body["bars"]] == ["13.000000000", "14.000000000"]


def test_bars_of_another_timeframe_are_separate(alice_api, ford_minutes):
    assert alice_api.get("/api/v1/bars/F", {"timeframe": "1Day", "end": "2026-03-11"}).json()["bars"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"timeframe": "2Min"}, "timeframe"),
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-02-30"}, "end"),
        ({"start": "2026-03-10T15:00:00Z", "end": "2026-03-10T14:00:00Z"}, "start"),
        ({"timeframe": "1Min", "start": "2026-01-01", "end": "2026-03-01"}, "start"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
    ],
)
def test_bad_bar_requests_are_400(alice_api, ford_minutes, params, field):
    response = alice_api.get("/api/v1/bars/F", params)
    assert_error(response, 400)
    assert field in response.json()["fields"]


def test_bars_of_an_unknown_symbol_are_404(alice_api, universe):
    assert_error(alice_api.get("/api/v1/bars/NOPE"), 404, "not_found")
    assert Asset.objects.count() == 5  # nothing was created on the way
