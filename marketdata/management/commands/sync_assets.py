"""Refresh the asset universe from a real provider: `sync_assets --provider alpaca|polygon|ccxt:<exchange>`;
`--provider coingecko` enriches existing crypto assets (name, market cap rank, icon)."""

import asyncio

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from marketdata.feeds.registry import UnknownProvider, provider_for
from marketdata.services import assets_sync


class Command(BaseCommand):
    help = "Upsert Asset rows (by symbol) from Alpaca's asset list or a ccxt exchange's markets."

    def add_arguments(self, parser):
        parser.add_argument(
            "--provider", required=True, help='"alpaca", "polygon", "coingecko" (enriches crypto) or "ccxt:<id>"'
        )

    def handle(self, *args, provider: str, **options):
        try:
            _, exchange_id = provider_for(provider) if provider != "coingecko" else (None, None)
            if provider == "alpaca":
                from marketdata.feeds.alpaca import asset_rows

                rows = asset_rows(settings)
            elif provider == "polygon":
                from marketdata.feeds.polygon_feed import asset_rows

                rows = asset_rows(settings)
            elif provider == "coingecko":
                from marketdata.coingecko import CoinGeckoRateLimited, crypto_assets_enrich

                try:
                    enriched, icons = crypto_assets_enrich(settings)
                except CoinGeckoRateLimited as error:
                    raise CommandError(f"CoinGecko rate limit still exceeded; try later ({error}).") from error
                self.stdout.write(f"coingecko: {enriched} crypto assets enriched, {icons} icons stored.")
                return
            elif exchange_id:
                from marketdata.feeds.ccxt_feed import asset_rows as ccxt_asset_rows

                rows = asyncio.run(ccxt_asset_rows(settings, exchange_id))
            else:
                raise CommandError(f"sync_assets supports alpaca, polygon, coingecko, ccxt:<id>; not {provider!r}.")
        except (UnknownProvider, ImproperlyConfigured) as error:
            raise CommandError(str(error)) from error
        created, updated, skipped = assets_sync(rows=rows)
        self.stdout.write(f"{provider}: {created} assets created, {updated} updated.")
        if skipped:
            self.stdout.write(f"Skipped {len(skipped)} new symbols without a price: {', '.join(skipped[:20])}")
