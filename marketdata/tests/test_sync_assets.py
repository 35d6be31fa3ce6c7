"""`manage.py sync_assets`: the universe refreshed from Alpaca or a ccxt exchange, offline.

Alpaca: alpaca-py's TradingClient and data clients answered by requests-mock with
recorded responses. ccxt: the recorded Binance.US server of test_feeds_ccxt.
"""

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from django.db import connections

from marketdata.models import Asset
from marketdata.tests.test_feeds_ccxt import binanceus  # noqa: F401 (fixture)

RECORDINGS = Path(__file__).parent / "recordings"
TRADING_URL, DATA_URL = "https://paper.alpaca.test", "https://data.alpaca.test"


def recording(name: str):
    return json.loads((RECORDINGS / name).read_text())


@pytest.fixture
def alpaca(settings, requests_mock):
    settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = "PKTEST1234", "secret-never-logged"
    settings.ALPACA_BASE_URL, settings.ALPACA_DATA_URL = TRADING_URL, DATA_URL
    requests_mock.get(f"{TRADING_URL}/v2/assets?asset_class=us_equity", json=recording("alpaca_assets_us_equity.json"))
    requests_mock.get(f"{TRADING_URL}/v2/assets?asset_class=crypto", json=recording("alpaca_assets_crypto.json"))
    requests_mock.get(f"{DATA_URL}/v2/stocks/trades/latest", json=recording("alpaca_stock_latest_trades.json"))
    requests_mock.get(f"{DATA_URL}/v1beta3/crypto/us/latest/trades", json=recording("alpaca_crypto_latest_trades.json"))
    return requests_mock


def sync(provider: str) -> str:
    out = StringIO()
    call_command("sync_assets", provider=provider, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_alpaca_assets_are_created_with_prices_and_increments(alpaca):
    output = sync("alpaca")

    assert "3 assets created, 0 updated" in output
    assert "Skipped 1 new symbols without a price: GRLF" in output  # untradable: never priced
    apple = Asset.objects.get(symbol="AAPL")
    assert (apple.asset_class, apple.exchange, apple.fractionable, apple.shortable) == (
        "us_equity",
        "NASDAQ",
        True,
        True,
    )
    assert apple.reference_price == Decimal("169.12")
    assert apple.price_increment == Decimal("0.01")  # Alpaca sends none for equities: the model default
    bitcoin = Asset.objects.get(symbol="BTC/USD")
    assert (bitcoin.min_order_size, bitcoin.min_trade_increment, bitcoin.price_increment) == (
        Decimal("0.000018495"),
        Decimal("0.000000001"),
        Decimal("1"),
    )
    assert bitcoin.reference_price == Decimal("66123.4")
    stock_request = next(r for r in alpaca.request_history if r.path == "/v2/assets" and "us_equity" in r.url)
    assert stock_request.qs["status"] == ["active"]


@pytest.mark.django_db
def test_an_existing_asset_is_updated_in_place(alpaca):
    ford = Asset.objects.create(
        symbol="F",
        name="Ford",
        asset_class="us_equity",
        exchange="NYSE",
        reference_price=Decimal("11.50"),
        shortable=False,
    )

    sync("alpaca")

    ford.refresh_from_db()
    assert Asset.objects.filter(symbol="F").count() == 1
    assert (ford.name, ford.shortable, ford.reference_price) == (
        "Ford Motor Company Common Stock",
        True,
        Decimal("12.21"),
    )


@pytest.mark.django_db
def test_alpaca_without_keys_fails_naming_the_setting_and_writes_nothing(settings):
    settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = "", ""

    with pytest.raises(CommandError, match="ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        sync("alpaca")

    assert not Asset.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["ccxt", "simulated", "nasdaq"])
def test_providers_without_an_asset_list_are_refused(provider):
    with pytest.raises(CommandError):
        sync(provider)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_ccxt_markets_become_usd_assets_with_exchange_precision(binanceus):  # noqa: F811
    await binanceus()

    output = await sync_to_async(sync)("ccxt:binanceus")

    assert "3 assets created" in output
    assets = {asset.symbol: asset async for asset in Asset.objects.all()}
    # BTC/USD listed directly wins over BTC/USDT; ETH only trades against USDT; XTZ is halted; LTC/BTC is not USD.
    assert set(assets) == {"BTC/USD", "ETH/USD", "DOGE/USD"}
    doge = assets["DOGE/USD"]
    assert (doge.price_increment, doge.min_trade_increment, doge.min_order_size) == (
        Decimal("0.000001"),
        Decimal("1"),
        Decimal("1"),
    )
    assert doge.reference_price == Decimal("0.165234")
    assert (assets["ETH/USD"].exchange, assets["ETH/USD"].reference_price) == ("BINANCEUS", Decimal("3812.55"))
    assert "ETH/USDT on Binance US" in assets["ETH/USD"].name
    # sync_to_async's worker thread holds its own connection; release it for database teardown.
    await sync_to_async(connections.close_all)()
