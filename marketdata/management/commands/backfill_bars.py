"""Simulated bar history so charts are never empty (deterministic for a seed)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from marketdata.models import Asset
from marketdata.services import bars_backfill


class Command(BaseCommand):
    help = "Generate simulated bars for the last N days (only the gap since the newest bar when history exists)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=5)
        parser.add_argument("--minute-hours", type=int, default=1, help="hours of 1-minute bars before now")
        parser.add_argument("--seed", type=int, default=None, help="defaults to SIMULATED_FEED_SEED")
        parser.add_argument("--symbols", nargs="*", help="only these symbols (default: every active asset)")

    def handle(self, *args, days, minute_hours, seed, symbols, **options):
        if days < 1 or minute_hours < 1 or minute_hours > days * 24:
            raise CommandError("--days must be >= 1 and --minute-hours between 1 and 24 x days.")
        assets = Asset.objects.filter(status=Asset.Status.ACTIVE)
        if symbols:
            assets = assets.filter(symbol__in=symbols)
        written = bars_backfill(
            assets=assets,
            days=days,
            minute_hours=minute_hours,
            seed=settings.SIMULATED_FEED_SEED if seed is None else seed,
        )
        self.stdout.write(f"Bars: {written} written.")
