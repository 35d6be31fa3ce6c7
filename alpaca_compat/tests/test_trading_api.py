"""The Trading API v2 driven by the real alpaca-py `TradingClient` over a live server.

Every call goes through alpaca-py's request classes and parses into its models, which
check each required field and enum value. The market is frozen at a Wednesday 10:00 New
York (ticking), so equity market orders fill on the paper venue at once.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, OrderClass, OrderSide, OrderStatus, OrderType, QueryOrderStatus
from alpaca.trading.enums import TimeInForce as TIF
from alpaca.trading.models import AccountConfiguration, NonTradeActivity, TradeActivity
from alpaca.trading.requests import (
    ClosePositionRequest,
    CreateWatchlistRequest,
    GetAssetsRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    GetPortfolioHistoryRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
    UpdateWatchlistRequest,
)
from django.test import override_settings
from freezegun import freeze_time
from pydantic import TypeAdapter
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import ApiKey
from accounts.tests.factories import UserFactory, approved_customer
from marketdata.quotes import Quote, store_quotes
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from speedtrade.tests.test_app_tokens import app_login
from trading.brokers.paper import paper_book_reset
from trading.models import Order

D = Decimal
# Wednesday 2026-03-04, 10:00 New York: the equity market is open.
MARKET_OPEN = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
Activity = TypeAdapter(list[TradeActivity | NonTradeActivity])


def quote(symbol, bid, ask, size="1000"):
    from django.utils import timezone

    return Quote(
        symbol=symbol,
        bid=D(bid),
        ask=D(ask),
        bid_size=D(size),
        ask_size=D(size),
        last=D(bid),
        timestamp=timezone.now(),
    )


@pytest.fixture
def market(transactional_db):
    with freeze_time(MARKET_OPEN, tick=True):
        paper_book_reset()
        assets = {
            "AAPL": AssetFactory(symbol="AAPL", name="Apple Inc.", reference_price=D("228.50")),
            "F": AssetFactory(symbol="F", name="Ford Motor Company", exchange="NYSE", reference_price=D("10.50")),
            "BTC/USD": AssetFactory(crypto=True, reference_price=D("65000")),
        }
        store_quotes(
            [
                quote("AAPL", "228.49", "228.51"),
                quote("F", "10.49", "10.51"),
                quote("BTC/USD", "64990", "65010", size="5"),
            ]
        )
        yield assets
        paper_book_reset()


@pytest.fixture
def alice_account(market, alice):
    account = approved_customer(alice)
    deposit_settled_post(account=account, amount=D("20000.00"))
    return account


@pytest.fixture
def alice_key(alice_account, alice):
    return account_services.api_key_create(user=alice, label="bot", scope=ApiKey.Scope.TRADING)


@pytest.fixture
def trading(live_server, alice_key):
    key, secret = alice_key
    return TradingClient(key.key_id, secret, paper=True, url_override=live_server.url)


def raw(live_server, alice_key, method, path, **kwargs):
    key, secret = alice_key
    headers = {"APCA-API-KEY-ID": key.key_id, "APCA-API-SECRET-KEY": secret}
    return requests.request(method, f"{live_server.url}{path}", headers=headers, timeout=30, **kwargs)


def test_a_whole_trading_session_with_alpaca_py(trading, market, alice_account, live_server, alice_key):
    # Account, configurations, clock, calendar, assets.
    account = trading.get_account()
    assert (account.status, account.cash, account.buying_power) == ("ACTIVE", "20000.00", "20000.00")
    assert account.account_number == alice_account.account_number
    configurations = trading.get_account_configurations()
    assert (configurations.no_shorting, configurations.fractional_trading) == (True, True)
    assert trading.set_account_configurations(configurations) == configurations  # changes nothing: accepted
    clock = trading.get_clock()
    assert clock.is_open and clock.next_close.hour == 16
    calendar = trading.get_calendar(GetCalendarRequest(start=date(2026, 3, 2), end=date(2026, 3, 6)))
    assert [day.date.day for day in calendar] == [2, 3, 4, 5, 6]
    assert (calendar[2].open.hour, calendar[2].close.hour) == (9, 16)
    crypto = trading.get_all_assets(GetAssetsRequest(asset_class=AssetClass.CRYPTO))
    assert [asset.symbol for asset in crypto] == ["BTC/USD"]
    assert trading.get_asset("AAPL").id == market["AAPL"].id
    assert trading.get_asset(market["F"].id).symbol == "F"

    # Orders of every type, built with alpaca-py's request classes.
    market_buy = trading.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY, time_in_force=TIF.DAY, client_order_id="bot-1")
    )
    fractional = trading.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=0.5, side=OrderSide.BUY, time_in_force=TIF.DAY)
    )
    notional = trading.submit_order(
        MarketOrderRequest(symbol="F", notional=105, side=OrderSide.BUY, time_in_force=TIF.DAY)
    )
    coin = trading.submit_order(
        MarketOrderRequest(symbol="BTC/USD", qty=0.01, side=OrderSide.BUY, time_in_force=TIF.GTC)
    )
    limit = trading.submit_order(
        LimitOrderRequest(symbol="F", qty=3, side=OrderSide.BUY, time_in_force=TIF.GTC, limit_price=9.5)
    )
    stop = trading.submit_order(
        StopOrderRequest(symbol="F", qty=2, side=OrderSide.BUY, time_in_force=TIF.DAY, stop_price=11.25)
    )
    # Before the trailing stop sell: a market buy against one's own open sell is a wash trade.
    bracket = trading.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=2,
            side=OrderSide.BUY,
            time_in_force=TIF.DAY,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=250),
            stop_loss=StopLossRequest(stop_price=210),
        )
    )
    trailing = trading.submit_order(
        TrailingStopOrderRequest(symbol="AAPL", qty=1, side=OrderSide.SELL, time_in_force=TIF.DAY, trail_percent=5)
    )
    assert market_buy.client_order_id == "bot-1" and market_buy.order_type == OrderType.MARKET
    assert trading.get_order_by_id(market_buy.id).status == OrderStatus.FILLED
    assert trading.get_order_by_id(fractional.id).filled_qty == "0.5"
    assert trading.get_order_by_id(notional.id).notional == "105"
    assert trading.get_order_by_id(coin.id).filled_avg_price == "65010"
    assert (limit.type, stop.type, trailing.type) == (OrderType.LIMIT, OrderType.STOP, OrderType.TRAILING_STOP)
    assert trading.get_order_by_id(limit.id).status == OrderStatus.ACCEPTED
    bracket = trading.get_order_by_id(bracket.id)
    assert (bracket.order_class, bracket.status) == (OrderClass.BRACKET, OrderStatus.FILLED)
    assert sorted(leg.type for leg in bracket.legs) == [OrderType.LIMIT, OrderType.STOP]

    # Lists and lookups.
    assert trading.get_order_by_client_id("bot-1").id == market_buy.id
    open_orders = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert {order.id for order in open_orders} == {limit.id, stop.id, trailing.id}
    f_buys = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["F"], side=OrderSide.BUY))
    assert {order.id for order in f_buys} == {notional.id, limit.id, stop.id}
    nested = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED, nested=True, limit=1))
    assert [order.id for order in nested] == [bracket.id] and len(nested[0].legs) == 2

    # Replace, cancel one, cancel all.
    replacement = trading.replace_order_by_id(limit.id, ReplaceOrderRequest(limit_price=9.75))
    assert replacement.replaces == limit.id and replacement.limit_price == "9.75"
    assert trading.get_order_by_id(limit.id).status == OrderStatus.REPLACED
    trading.cancel_order_by_id(stop.id)
    assert trading.get_order_by_id(stop.id).status == OrderStatus.CANCELED
    canceled = trading.cancel_orders()
    assert {response.id for response in canceled} >= {replacement.id, trailing.id}
    assert all(response.status == 200 for response in canceled)

    # Positions: list, by symbol and by asset id, close part of one, close all.
    positions = {position.symbol: position for position in trading.get_all_positions()}
    assert D(positions["AAPL"].qty) == D("12.5") and D(positions["BTC/USD"].qty) == D("0.01")
    assert D(trading.get_open_position("AAPL").qty) == D("12.5")
    assert trading.get_open_position(market["F"].id).symbol == "F"
    closing = trading.close_position("AAPL", ClosePositionRequest(qty="2.5"))
    assert (closing.side, D(closing.qty)) == (OrderSide.SELL, D("2.5"))
    assert D(trading.get_open_position("AAPL").qty) == 10
    closed = trading.close_all_positions(cancel_orders=True)
    assert sorted(response.symbol for response in closed) == ["AAPL", "BTC/USD", "F"]
    assert all(response.status == 200 and response.body.side == OrderSide.SELL for response in closed)
    assert trading.get_all_positions() == []

    # Portfolio history and account activities.
    history = trading.get_portfolio_history(GetPortfolioHistoryRequest(period="1W", timeframe="1D"))
    assert history.timeframe == "1D"
    activities = Activity.validate_python(raw(live_server, alice_key, "GET", "/v2/account/activities").json())
    fills = [activity for activity in activities if isinstance(activity, TradeActivity)]
    assert {fill.order_id for fill in fills} >= {market_buy.id, fractional.id, notional.id, coin.id, closing.id}
    assert any(isinstance(activity, NonTradeActivity) and activity.net_amount == 20000 for activity in activities)


def test_watchlists_with_alpaca_py(trading, market, alice_account, live_server, alice_key):
    created = trading.create_watchlist(CreateWatchlistRequest(name="tech", symbols=["AAPL", "BTC/USD"]))
    assert [asset.symbol for asset in created.assets] == ["AAPL", "BTC/USD"]
    assert created.account_id == alice_account.id

    added = trading.add_asset_to_watchlist_by_id(created.id, "F")
    assert [asset.symbol for asset in added.assets] == ["AAPL", "BTC/USD", "F"]
    removed = trading.remove_asset_from_watchlist_by_id(created.id, "BTC/USD")
    assert [asset.symbol for asset in removed.assets] == ["AAPL", "F"]
    updated = trading.update_watchlist_by_id(created.id, UpdateWatchlistRequest(name="cars", symbols=["F"]))
    assert (updated.name, [asset.symbol for asset in updated.assets]) == ("cars", ["F"])
    assert [watchlist.name for watchlist in trading.get_watchlists()] == ["cars"]
    assert trading.get_watchlist_by_id(created.id).name == "cars"

    by_name = raw(live_server, alice_key, "GET", "/v2/watchlists:by_name", params={"name": "cars"})
    assert by_name.status_code == 200 and by_name.json()["id"] == str(created.id)
    trading.delete_watchlist_by_id(created.id)
    assert trading.get_watchlists() == []

    with pytest.raises(APIError) as missing:
        trading.get_watchlist_by_id(created.id)
    assert (missing.value.status_code, missing.value.code) == (404, 40410000)


def test_an_oauth_access_token_works_like_a_key(live_server, market, alice_account, alice):
    meta = app_login(APIClient(), alice)
    trading = TradingClient(oauth_token=meta["access_token"], url_override=live_server.url)

    order = trading.submit_order(
        MarketOrderRequest(symbol="BTC/USD", notional=100, side=OrderSide.BUY, time_in_force=TIF.GTC)
    )

    assert trading.get_order_by_id(order.id).status == OrderStatus.FILLED
    assert trading.get_account().id == alice_account.id


def test_bad_revoked_and_read_only_keys(live_server, market, alice_account, alice, alice_key):
    key, secret = alice_key
    for bad in (
        TradingClient(key.key_id, "x" * 40, url_override=live_server.url),
        TradingClient("PKNOSUCHKEY000000000", secret, url_override=live_server.url),
    ):
        with pytest.raises(APIError) as refused:
            bad.get_account()
        assert (refused.value.status_code, refused.value.code) == (401, 40110000)

    trading = TradingClient(key.key_id, secret, url_override=live_server.url)
    assert trading.get_account().id == alice_account.id
    account_services.api_key_revoke(user=alice, key_id=key.key_id)
    with pytest.raises(APIError) as revoked:
        trading.get_account()
    assert revoked.value.status_code == 401

    read_only, read_only_secret = account_services.api_key_create(user=alice, scope=ApiKey.Scope.READ_ONLY)
    watcher = TradingClient(read_only.key_id, read_only_secret, url_override=live_server.url)
    assert watcher.get_orders() == []
    with pytest.raises(APIError) as forbidden:
        watcher.submit_order(MarketOrderRequest(symbol="F", qty=1, side=OrderSide.BUY, time_in_force=TIF.DAY))
    assert (forbidden.value.status_code, forbidden.value.code) == (403, 40310000)
    assert "read-only" in forbidden.value.message
    assert not Order.objects.exists()


def test_refusals_in_alpacas_shape(trading, market, alice_account, live_server, alice_key):
    bob = UserFactory(email="bob@example.com")
    bob_account = approved_customer(bob)
    deposit_settled_post(account=bob_account, amount=D("100.00"))
    bob_key, bob_secret = account_services.api_key_create(user=bob)
    bob_trading = TradingClient(bob_key.key_id, bob_secret, url_override=live_server.url)
    bob_order = bob_trading.submit_order(
        LimitOrderRequest(symbol="F", qty=1, side=OrderSide.BUY, time_in_force=TIF.DAY, limit_price=9)
    )

    def refusal(call):
        with pytest.raises(APIError) as raised:
            call()
        return raised.value.status_code, raised.value.code, raised.value.message

    # Another user's order is not found, whatever the verb.
    assert refusal(lambda: trading.get_order_by_id(bob_order.id))[:2] == (404, 40410000)
    assert refusal(lambda: trading.cancel_order_by_id(bob_order.id))[:2] == (404, 40410000)
    assert refusal(lambda: trading.replace_order_by_id(bob_order.id, ReplaceOrderRequest(qty=2)))[:2] == (
        404,
        40410000,
    )
    assert refusal(lambda: trading.get_order_by_client_id(bob_order.client_order_id))[:2] == (404, 40410000)
    # Not enough money: 403, as at Alpaca.
    too_big = MarketOrderRequest(symbol="AAPL", qty=100, side=OrderSide.BUY, time_in_force=TIF.DAY)
    status, code, message = refusal(lambda: trading.submit_order(too_big))
    assert (status, code) == (403, 40310000) and "buying power" in message
    # Nothing to sell: 403; no such position to close: 404; bad input: 422.
    sell = MarketOrderRequest(symbol="F", qty=1, side=OrderSide.SELL, time_in_force=TIF.DAY)
    assert refusal(lambda: trading.submit_order(sell))[:2] == (403, 40310000)
    assert refusal(lambda: trading.close_position("AAPL"))[:2] == (404, 40410000)
    assert refusal(lambda: trading.get_order_by_client_id(str(uuid4())))[:2] == (404, 40410000)
    bad = raw(live_server, alice_key, "POST", "/v2/orders", json={"symbol": "F", "qty": "1", "side": "sideways"})
    assert bad.status_code == 422 and bad.json()["code"] == 42210000
    assert refusal(
        lambda: trading.set_account_configurations(
            AccountConfiguration(
                fractional_trading=True,
                max_margin_multiplier="1",
                no_shorting=False,
                suspend_trade=False,
                trade_confirm_email="none",
                ptp_no_exception_entry=False,
            )
        )
    )[:2] == (422, 42210000)
    assert Order.objects.filter(account=alice_account).count() == 0
    # Products SpeedTrade does not offer, and unknown routes.
    options = raw(live_server, alice_key, "GET", "/v2/options/contracts")
    assert options.status_code == 404 and options.json() == {
        "code": 40410000,
        "message": "Options trading is not offered by SpeedTrade.",
    }
    assert raw(live_server, alice_key, "GET", "/v2/corporate_actions/announcements").status_code == 404
    assert raw(live_server, alice_key, "GET", "/v2/no/such/route").json()["code"] == 40410000


@override_settings(API_KEY_RATE_LIMIT_PER_MINUTE=2)
def test_rate_limit_headers_and_429_over_http(live_server, market, alice_account, alice_key):
    responses = [raw(live_server, alice_key, "GET", "/v2/clock") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["1", "0", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "2" and int(r.headers["X-RateLimit-Reset"]) > 0 for r in responses)
    assert responses[-1].json() == {"code": 42910000, "message": responses[-1].json()["message"]}
