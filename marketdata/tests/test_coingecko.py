"""CoinGecko reference data through pycoingecko, offline: its requests session is answered by
requests-mock with recorded `/coins/markets` pages; icons are stored and served by us."""

import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from marketdata import coingecko
from marketdata.models import Asset, AssetIcon
from marketdata.tests.factories import CryptoAssetFactory

pytestmark = pytest.mark.django_db
RECORDINGS = Path(__file__).parent / "recordings"
MARKETS = "https://api.coingecko.com/api/v3/coins/markets"
IMAGES = re.compile(r"https://coin-images\.coingecko\.com/coins/images/.*")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40  # stands in for the logo bytes


def recording(name: str):
    return json.loads((RECORDINGS / name).read_text())


@pytest.fixture
def crypto(db):
    return {
        symbol: CryptoAssetFactory(symbol=symbol, name=f"{symbol} on Binance US", reference_price=Decimal("10"))
        for symbol in ("BTC/USD", "ETH/USD", "DOGE/USD")
    }


@pytest.fixture
def coingecko_api(requests_mock, settings):
    settings.COINGECKO_API_KEY, settings.COINGECKO_API_URL, settings.COINGECKO_PRO = "", "", False
    requests_mock.get(MARKETS, json=recording("coingecko_coins_markets_page1.json"))
    requests_mock.get(IMAGES, content=PNG, headers={"Content-Type": "image/png"})
    return requests_mock


def sync() -> str:
    out = io.StringIO()
    call_command("sync_assets", provider="coingecko", stdout=out)
    return out.getvalue()


def test_crypto_assets_get_name_rank_and_a_local_icon(coingecko_api, crypto, client):
    assert "2 crypto assets enriched, 2 icons stored" in sync()
    btc, eth, doge = (Asset.objects.get(symbol=s) for s in ("BTC/USD", "ETH/USD", "DOGE/USD"))
    assert (btc.name, btc.market_cap_rank) == ("Bitcoin", 1)  # not the rank-2412 "btc" token
    assert (eth.name, eth.market_cap_rank) == ("Ethereum", 2)
    assert doge.market_cap_rank is None and doge.name == "DOGE/USD on Binance US"
    markets = [r for r in coingecko_api.request_history if r.url.startswith(MARKETS)][0]
    assert markets.qs == {"vs_currency": ["usd"], "order": ["market_cap_desc"], "per_page": ["250"], "page": ["1"],
                          "sparkline": ["false"]}  # fmt: skip

    icon = client.get("/assets/BTC/USD/icon")
    assert icon.status_code == 200 and icon.content == PNG and icon["Content-Type"] == "image/png"
    assert icon["X-Content-Type-Options"] == "nosniff" and "max-age=86400" in icon["Cache-Control"]
    assert client.get("/assets/DOGE/USD/icon").status_code == 404


def test_an_unchanged_icon_is_not_downloaded_again(coingecko_api, crypto):
    sync()
    downloads = sum(1 for r in coingecko_api.request_history if "coin-images" in r.url)
    assert "0 icons stored" in sync()
    assert sum(1 for r in coingecko_api.request_history if "coin-images" in r.url) == downloads


def test_svg_and_oversized_icons_are_refused(coingecko_api, crypto):
    coingecko_api.get(IMAGES, content=b"<svg onload='alert(1)'/>", headers={"Content-Type": "image/svg+xml"})
    assert "2 crypto assets enriched, 0 icons stored" in sync()
    assert not AssetIcon.objects.exists()


def test_a_demo_key_is_sent_and_a_rate_limit_is_waited_out(coingecko_api, crypto, settings):
    settings.COINGECKO_API_KEY = "CG-demo-key"
    coingecko_api.get(
        MARKETS,
        [
            {"status_code": 429, "json": recording("coingecko_rate_limited.json")},
            {"json": recording("coingecko_coins_markets_page1.json")},
        ],
    )
    waits = []
    enriched, _ = coingecko.crypto_assets_enrich(settings, sleep=waits.append)
    assert enriched == 2 and waits == [60.0]
    calls = [r for r in coingecko_api.request_history if r.url.startswith(MARKETS)]
    assert len(calls) == 2 and calls[0].qs["x_cg_demo_api_key"] == ["cg-demo-key"]  # requests-mock lower-cases


def test_a_rate_limit_that_persists_fails_the_command_with_a_clear_message(coingecko_api, crypto, monkeypatch):
    monkeypatch.setattr(coingecko.time, "sleep", lambda seconds: None)
    coingecko_api.get(MARKETS, status_code=429, json=recording("coingecko_rate_limited.json"))
    with pytest.raises(CommandError, match="CoinGecko rate limit"):
        sync()
    assert not Asset.objects.filter(market_cap_rank__isnull=False).exists()


def test_the_screener_sorts_by_market_cap_rank_and_shows_our_icons(coingecko_api, crypto, client, alice):
    sync()
    client.force_login(alice)
    page = client.get("/screener/", {"asset_class": "crypto", "sort": "rank", "order": "asc"}).content.decode()
    assert (
        page.index('data-symbol="BTC/USD"') < page.index('data-symbol="ETH/USD"') < page.index('data-symbol="DOGE/USD"')
    )
    assert 'src="/assets/BTC/USD/icon"' in page and "coingecko.com" not in page
    trade = client.get("/trade/BTC/USD/").content.decode()
    assert 'src="/assets/BTC/USD/icon"' in trade and "market cap #1" in trade
