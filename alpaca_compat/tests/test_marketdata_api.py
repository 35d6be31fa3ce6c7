"""The market-data routes driven by the real alpaca-py historical data clients over a live ASGI server (uvicorn)."""

from datetime import UTC, datetime, timedelta

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import CryptoHistoricalDataClient, StockHistoricalDataClient
from alpaca.data.requests import (
    CryptoBarsRequest,
    CryptoLatestQuoteRequest,
    CryptoSnapshotRequest,
    StockBarsRequest,
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockQuotesRequest,
    StockSnapshotRequest,
    StockTradesRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from alpaca_compat.tests.conftest import MINUTE_ZERO, make_quote
from marketdata.quotes import quote_store
from marketdata.services import latest_quotes_record, latest_quotes_restore

# Live-server tests commit for real. Like the suite's other transactional tests they use serialized
# rollback: otherwise their flush re-creates the content types and the next serialized_rollback test,
# restoring them again, fails on a duplicate key.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def stocks(asgi_server, alice_key):
    return StockHistoricalDataClient(*alice_key, url_override=asgi_server)


@pytest.fixture
def crypto(asgi_server, alice_token):
    return CryptoHistoricalDataClient(oauth_token=alice_token, url_override=asgi_server)


def minute_bars(symbols, **extra):
    return StockBarsRequest(
        symbol_or_symbols=symbols,
        timeframe=TimeFrame.Minute,
        start=MINUTE_ZERO,
        end=MINUTE_ZERO + timedelta(hours=1),
        **extra,
    )


def test_stock_bars_of_several_symbols_parse_into_alpacas_barset(stocks, market):
    bars = stocks.get_stock_bars(minute_bars(["AAPL", "F"]))
    assert [bar.close for bar in bars["AAPL"]] == [228.1, 228.2, 228.3, 228.4, 228.5]
    assert [bar.close for bar in bars["F"]] == [10.5, 10.6, 10.7]
    first = bars["AAPL"][0]
    assert (first.timestamp, first.open, first.high, first.low, first.volume) == (MINUTE_ZERO, 228.1, 229.1, 227.1, 100)
    assert (first.trade_count, first.vwap) == (3, 228.1)


def test_bars_are_paged_with_next_page_token_until_the_limit(stocks, market, asgi_server, alice_token):
    # alpaca-py follows next_page_token itself: a page size of 2 still returns every bar, in order.
    raw = requests.get(
        f"{asgi_server}/v2/stocks/bars",
        params={"symbols": "AAPL,F", "timeframe": "1Min", "start": MINUTE_ZERO.isoformat(), "limit": 2},
        headers={"Authorization": f"Bearer {alice_token}"},
        timeout=10,
    ).json()
    assert [bar["c"] for bar in raw["bars"]["AAPL"]] == [228.1, 228.2]
    assert raw["next_page_token"]
    bars = stocks.get_stock_bars(minute_bars(["AAPL", "F"], limit=7))
    assert len(bars["AAPL"]) == 5 and len(bars["F"]) == 2
    newest_first = stocks.get_stock_bars(minute_bars("AAPL", sort="desc", limit=2))
    assert [bar.close for bar in newest_first["AAPL"]] == [228.5, 228.4]


def test_timeframe_spellings_and_unsupported_timeframes(stocks, market):
    daily = stocks.get_stock_bars(
        StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Day, start=MINUTE_ZERO - timedelta(days=30))
    )
    assert [bar.close for bar in daily["AAPL"]][-2:] == [227.0, 228.5]
    with pytest.raises(APIError) as refused:
        stocks.get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame(15, TimeFrameUnit.Minute)))
    assert refused.value.status_code == 400
    assert refused.value.code == 40010001
    assert "15Min" in refused.value.message


def test_latest_quotes_trades_and_bars(stocks, market):
    quote = stocks.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["AAPL", "F"]))
    assert (quote["AAPL"].bid_price, quote["AAPL"].ask_price, quote["AAPL"].bid_size) == (228.49, 228.51, 3)
    assert quote["AAPL"].bid_exchange == "Q" and quote["AAPL"].tape == "C"
    trade = stocks.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols="AAPL"))
    assert (trade["AAPL"].price, trade["AAPL"].size) == (228.5, 5)
    bar = stocks.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="F"))
    assert (bar["F"].timestamp, bar["F"].close) == (MINUTE_ZERO + timedelta(minutes=2), 10.7)


def test_on_a_weekend_after_a_restart_a_bot_still_gets_the_last_stock_quote(stocks, market):
    """Alpaca answers the last quote it has when the market is closed; a bot reading `quote["F"]` on a
    Sunday must not get a KeyError because SpeedTrade restarted and no stock has ticked since."""
    friday_evening = datetime(2026, 12, 5, 0, 59, 30, tzinfo=UTC)
    latest_quotes_record(quotes=[make_quote("F", "9.89", "9.91", "9.90", at=friday_evening)])
    quote_store().clear()  # the restart
    latest_quotes_restore()  # what the feed does when it starts

    quote = stocks.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["F"]))
    trade = stocks.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols="F"))

    assert (quote["F"].bid_price, quote["F"].ask_price, quote["F"].timestamp) == (9.89, 9.91, friday_evening)
    assert (trade["F"].price, trade["F"].timestamp) == (9.9, friday_evening)


def test_quote_and_trade_history_hold_the_latest_one_inside_the_range(stocks, market):
    quotes = stocks.get_stock_quotes(StockQuotesRequest(symbol_or_symbols=["AAPL", "F"]))
    assert [q.ask_price for q in quotes["AAPL"]] == [228.51]
    trades = stocks.get_stock_trades(StockTradesRequest(symbol_or_symbols="F"))
    assert [(t.price, t.size) for t in trades["F"]] == [(10.7, 0)]
    # A range that ended before the newest quote holds none: SpeedTrade keeps no older ones.
    old = stocks.get_stock_quotes(
        StockQuotesRequest(symbol_or_symbols="AAPL", start=MINUTE_ZERO, end=MINUTE_ZERO + timedelta(hours=1))
    )
    assert old.data == {}


def test_stock_snapshots(stocks, market):
    snapshots = stocks.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["AAPL", "F"]))
    aapl = snapshots["AAPL"]
    assert aapl.latest_trade.price == 228.5
    assert aapl.latest_quote.bid_price == 228.49
    assert aapl.minute_bar.close == 228.5
    assert aapl.daily_bar.close == 228.5
    assert aapl.previous_daily_bar.close == 227.0
    assert snapshots["F"].daily_bar is None


def test_crypto_bars_latest_quotes_and_snapshots(crypto, market):
    bars = crypto.get_crypto_bars(
        CryptoBarsRequest(symbol_or_symbols="BTC/USD", timeframe=TimeFrame.Minute, start=MINUTE_ZERO)
    )
    assert [bar.close for bar in bars["BTC/USD"]] == [65000, 65010]
    quote = crypto.get_crypto_latest_quote(CryptoLatestQuoteRequest(symbol_or_symbols="BTC/USD"))
    assert (quote["BTC/USD"].bid_price, quote["BTC/USD"].ask_price) == (64990, 65010)
    snapshot = crypto.get_crypto_snapshot(CryptoSnapshotRequest(symbol_or_symbols="BTC/USD"))
    assert snapshot["BTC/USD"].latest_trade.size == 0.0125


def test_unknown_or_wrong_class_symbols_are_404_in_alpacas_shape(stocks, crypto, market):
    with pytest.raises(APIError) as unknown:
        stocks.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["AAPL", "NOPE"]))
    assert (unknown.value.status_code, unknown.value.code) == (404, 40410000)
    assert "NOPE" in unknown.value.message
    with pytest.raises(APIError) as wrong_class:
        crypto.get_crypto_latest_quote(CryptoLatestQuoteRequest(symbol_or_symbols="AAPL"))
    assert wrong_class.value.status_code == 404


def test_bad_parameters_are_400_and_nothing_is_served(asgi_server, alice_token, market):
    headers = {"Authorization": f"Bearer {alice_token}"}
    for params in (
        {"symbols": "AAPL", "timeframe": "1Min", "start": "yesterday"},
        {"symbols": "AAPL", "timeframe": "1Min", "limit": "0"},
        {"symbols": "AAPL", "timeframe": "1Min", "page_token": "%%%"},
        {"symbols": "AAPL", "timeframe": "1Min", "sort": "sideways"},
        {"timeframe": "1Min"},
    ):
        response = requests.get(f"{asgi_server}/v2/stocks/bars", params=params, headers=headers, timeout=10)
        assert response.status_code == 400, params
        assert response.json()["code"] == 40010001 and response.json()["message"], params


def test_market_data_needs_credentials_and_a_read_only_key_is_enough(asgi_server, market, alice):
    response = requests.get(f"{asgi_server}/v2/stocks/quotes/latest", params={"symbols": "AAPL"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == 40110000
    key, secret = api_key_create(user=alice, label="charts", scope=ApiKey.Scope.READ_ONLY)
    reader = StockHistoricalDataClient(key.key_id, secret, url_override=asgi_server)
    assert reader.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))["AAPL"].ask_price == 228.51
    api_key_revoke(user=alice, key_id=key.key_id)
    with pytest.raises(APIError) as revoked:
        reader.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))
    assert revoked.value.status_code == 401


def test_products_speedtrade_does_not_offer_answer_clearly(asgi_server, alice_token, market):
    headers = {"Authorization": f"Bearer {alice_token}"}
    for path in (
        "/v1beta1/options/bars",
        "/v1beta1/news",
        "/v1/corporate-actions",
        "/v1beta3/crypto/us/latest/orderbooks",
    ):
        response = requests.get(f"{asgi_server}{path}", headers=headers, timeout=10)
        assert response.status_code == 404, path
        assert response.json()["code"] == 40410000
        assert "not offered by SpeedTrade" in response.json()["message"]
