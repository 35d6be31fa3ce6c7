"""The trade page: chart, quote panel and order ticket for one symbol."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from marketdata.models import Asset, AssetIcon, Timeframe
from marketdata.quotes import is_stale, latest_quotes
from marketdata.selectors import asset_get, bars_list, latest_prices, previous_closes
from portfolios.selectors import position_get, primary_account
from trading.forms import OrderTicketForm

CHART_BARS = 500
OHLC = ("open", "high", "low", "close")


def trade_context(request, asset: Asset) -> dict:
    """Everything the trade page shows besides the ticket's own state (the ticket view reuses it)."""
    timeframe = request.GET.get("timeframe", Timeframe.MINUTE)
    if timeframe not in Timeframe.values:
        timeframe = Timeframe.MINUTE
    bars = bars_list(asset=asset, timeframe=timeframe, start=None, end=timezone.now(), limit=CHART_BARS)
    quote = latest_quotes([asset.symbol]).get(asset.symbol)
    account = primary_account(user=request.user)
    last, previous_close = latest_prices([asset])[asset.id], previous_closes([asset])[asset.id]
    return {
        "asset": asset,
        "asset_icon_url": reverse("asset_icon", args=[asset.symbol])
        if AssetIcon.objects.filter(asset=asset).exists()
        else "",
        "quote": quote,
        "quote_stale": quote is None or is_stale(quote),
        "last_price": last,
        "previous_close": previous_close,
        "change_today": last - previous_close,
        "change_today_ratio": (last - previous_close) / previous_close if previous_close else None,
        "timeframe": timeframe,
        "timeframes": Timeframe.values,
        "bars": [{"time": int(bar.timestamp.timestamp()), **{f: str(getattr(bar, f)) for f in OHLC}} for bar in bars],
        "position": account and position_get(account=account, symbol_or_asset_id=str(asset.id)),
        "form": OrderTicketForm(asset=asset),
    }


@login_required
def trade_default(request):
    """The Trade link and the symbol search box (`?symbol=`)."""
    symbol = request.GET.get("symbol", "").strip() or settings.DASHBOARD_DEFAULT_SYMBOL
    return redirect("trade", symbol=symbol)


@login_required
def trade(request, symbol: str):
    try:
        asset = asset_get(symbol_or_id=symbol)
    except Asset.DoesNotExist:
        raise Http404(f"No symbol {symbol}.") from None
    return render(request, "marketdata/trade.html", trade_context(request, asset))


@require_GET
def asset_icon(request, symbol: str):
    """An asset's stored icon; public (logos), cached a day, never sniffed as anything else."""
    icon = AssetIcon.objects.filter(asset__symbol__iexact=symbol).only("content_type", "data").first()
    if icon is None:
        raise Http404("No icon.")
    response = HttpResponse(bytes(icon.data), content_type=icon.content_type)
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
