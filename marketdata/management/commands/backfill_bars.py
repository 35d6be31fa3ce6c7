"""Bar history: simulated (default, deterministic for a seed) or from a provider.

`--provider polygon` (aggregates through massive), `--provider alpaca`, or
`--provider yfinance` (best effort, unofficial; stocks and ETFs, daily and hourly) fill
history for active stocks; bars already stored are kept.
"""

import asyncio
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from marketdata.calendars import US_EQUITY
from marketdata.models import Asset, Timeframe
from marketdata.services import bars_backfill, bars_import

HISTORY_PROVIDERS = ("polygon", "alpaca", "yfinance")


def history_source(provider: str):
    """The `HistoricalBars` implementation for a provider name."""
    if provider == "polygon":
        from marketdata.feeds.polygon_feed import build_feed

        return build_feed(settings)
    if provider == "alpaca":
        from marketdata.feeds.alpaca import build_feed as build_alpaca_feed

        return build_alpaca_feed(settings)
    from marketdata.yfinance_history import YFinanceHistory

    return YFinanceHistory()


class Command(BaseCommand):
    help = "Fill bars: simulated for the last N days, or real history from polygon, alpaca or yfinance."

    def add_arguments(self, parser):
        parser.add_argument("--provider", default="simulated", choices=["simulated", *HISTORY_PROVIDERS])
        parser.add_argument("--days", type=int, default=5)
        parser.add_argument("--minute-hours", type=int, default=1, help="simulated: hours of 1-minute bars before now")
        parser.add_argument("--seed", type=int, default=None, help="simulated: defaults to SIMULATED_FEED_SEED")
        parser.add_argument(
            "--timeframes", default="1Day,1Hour", help="providers: comma-separated, of 1Min, 5Min, 1Hour, 1Day"
        )
        parser.add_argument("--symbols", nargs="*", help="only these symbols (default: every active asset)")

    def handle(self, *args, provider, days, minute_hours, seed, timeframes, symbols, **options):
        assets = Asset.objects.filter(status=Asset.Status.ACTIVE)
        if symbols:
            assets = assets.filter(symbol__in=symbols)
        if provider != "simulated":
            return self._from_provider(provider, assets.filter(asset_class=US_EQUITY), days, timeframes)
        if days < 1 or minute_hours < 1 or minute_hours > days * 24:
            raise CommandError("--days must be >= 1 and --minute-hours between 1 and 24 x days.")
        written = bars_backfill(
            assets=assets,
            days=days,
            minute_hours=minute_hours,
            seed=settings.SIMULATED_FEED_SEED if seed is None else seed,
        )
        self.stdout.write(f"Bars: {written} written.")

    def _from_provider(self, provider: str, assets, days: int, timeframes: str) -> None:
        chosen = [name.strip() for name in timeframes.split(",") if name.strip()]
        unknown = set(chosen) - set(Timeframe.values)
        if unknown or days < 1:
            raise CommandError(f"--days >= 1 and --timeframes among {', '.join(Timeframe.values)}.")
        try:
            source = history_source(provider)
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        start = datetime.now(UTC) - timedelta(days=days)
        total = 0
        for asset in assets:
            for timeframe in chosen:
                records = asyncio.run(source.bars(asset.symbol, timeframe=timeframe, start=start))
                total += bars_import(asset=asset, timeframe=timeframe, records=records)
        self.stdout.write(f"{provider}: {total} bars inserted.")
