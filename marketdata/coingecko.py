"""CoinGecko reference data for crypto assets (`sync_assets --provider coingecko`): name,
market cap rank and icon, through `pycoingecko`. Never prices: CoinGecko is reference data.

Our crypto pairs are `<BASE>/USD`; a base matches the CoinGecko coin with that ticker symbol
and the best market cap rank (pages are read in market-cap order, so the first one wins —
many small tokens reuse famous tickers). Icons are downloaded once (again when their URL
changes) and served by us from `AssetIcon` (`/assets/<symbol>/icon`): pages never hot-link.

Rate limits: the public API allows roughly 30 calls a minute (a demo key a little more), so
pages are spaced by `COINGECKO_MIN_INTERVAL_SECONDS` and a 429 waits for `Retry-After`
(at most a minute) and tries again, three times at most. `COINGECKO_API_KEY` is optional;
with `COINGECKO_PRO=true` it is a paid key and the pro host is used.
"""

import logging
import time
from collections.abc import Callable

import requests
from pycoingecko import CoinGeckoAPI

from marketdata.calendars import CRYPTO
from marketdata.models import Asset, AssetIcon
from marketdata.services import asset_reference_update

logger = logging.getLogger(__name__)

PAGE_SIZE = 250
MAX_PAGES = 4  # the top 1,000 coins by market cap
ICON_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}  # never SVG (scripts)
ICON_MAX_BYTES = 256 * 1024
RATE_LIMIT_ATTEMPTS = 3


def coingecko_client(settings) -> CoinGeckoAPI:
    key = settings.COINGECKO_API_KEY
    client = CoinGeckoAPI(api_key=key) if key and settings.COINGECKO_PRO else CoinGeckoAPI(demo_api_key=key)
    if settings.COINGECKO_API_URL:
        client.api_base_url = settings.COINGECKO_API_URL.rstrip("/") + "/"
    return client


class CoinGeckoRateLimited(Exception):
    pass


def _politely(call: Callable, *, sleep: Callable[[float], None], retry_after: float = 60.0):
    for attempt in range(RATE_LIMIT_ATTEMPTS):
        try:
            return call()
        except (ValueError, requests.HTTPError) as error:
            status = getattr(getattr(error, "response", None), "status_code", None)
            details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
            code = (details.get("status") or {}).get("error_code", status)
            if code != 429:
                raise
            if attempt == RATE_LIMIT_ATTEMPTS - 1:
                raise CoinGeckoRateLimited(str(error)) from error
            logger.warning("CoinGecko rate limit: waiting %s s before trying again.", retry_after)
            sleep(retry_after)
    raise AssertionError("unreachable")


def coins_by_base(settings, bases: set[str], *, sleep: Callable[[float], None] | None = None) -> dict[str, dict]:
    """The best-ranked CoinGecko market row per lower-case base symbol, reading pages in
    market-cap order until every base is found or MAX_PAGES are read."""
    sleep = sleep or time.sleep
    client = coingecko_client(settings)
    found: dict[str, dict] = {}
    for page in range(1, MAX_PAGES + 1):
        if page > 1:
            sleep(settings.COINGECKO_MIN_INTERVAL_SECONDS)
        coins = _politely(
            lambda page=page: client.get_coins_markets(
                "usd", order="market_cap_desc", per_page=PAGE_SIZE, page=page, sparkline="false"
            ),
            sleep=sleep,
        )
        for coin in coins:
            base = str(coin.get("symbol", "")).lower()
            if base in bases and base not in found:
                found[base] = coin
        if len(coins) < PAGE_SIZE or found.keys() >= bases:
            break
    return found


def icon_download(url: str) -> tuple[str, bytes] | None:
    """(content type, bytes) of an icon, or None when it is not a small raster image."""
    try:
        response = requests.get(url, timeout=10)
        response.raise_for_status()
    except requests.RequestException as error:
        logger.warning("Icon %s not downloaded: %s", url, error)
        return None
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in ICON_TYPES or len(response.content) > ICON_MAX_BYTES:
        logger.warning("Icon %s refused: %s, %d bytes", url, content_type, len(response.content))
        return None
    return content_type, response.content


def crypto_assets_enrich(settings, *, sleep: Callable[[float], None] | None = None) -> tuple[int, int]:
    """Name, market cap rank and icon for every crypto asset CoinGecko knows. Returns
    (assets enriched, icons stored)."""
    assets = {asset.symbol.split("/")[0].lower(): asset for asset in Asset.objects.filter(asset_class=CRYPTO)}
    coins = coins_by_base(settings, set(assets), sleep=sleep)
    icons_known = dict(AssetIcon.objects.filter(asset__in=assets.values()).values_list("asset_id", "source_url"))
    enriched = icons = 0
    for base, coin in coins.items():
        asset = assets[base]
        image_url = coin.get("image") or ""
        icon = None
        if image_url and icons_known.get(asset.pk) != image_url:
            icon = icon_download(image_url)
        asset_reference_update(
            asset=asset, name=coin.get("name") or asset.name, market_cap_rank=coin.get("market_cap_rank"),
            icon=icon, icon_url=image_url,
        )  # fmt: skip
        enriched += 1
        icons += icon is not None
    return enriched, icons
