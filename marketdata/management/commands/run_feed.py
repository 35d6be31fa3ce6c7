"""Run a market-data provider until SIGTERM/SIGINT (services mode: `make feed`)."""

import asyncio

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from marketdata.feeds.registry import UnknownProvider, provider_for
from marketdata.feeds.runner import build_runner, feed_companions
from speedtrade.locks import AdvisoryLock
from speedtrade.singleton import singleton_active, singleton_process_run


class Command(BaseCommand):
    help = "Stream quotes from a provider into the quote store, bars and WebSocket groups."

    def add_arguments(self, parser):
        parser.add_argument(
            "--provider", default=None, help="simulated | alpaca | polygon | ccxt:<exchange> (FEED_PROVIDER)"
        )

    def handle(self, *args, provider, **options):
        provider = provider or settings.FEED_PROVIDER
        try:
            provider_for(provider)
        except UnknownProvider as exc:
            raise CommandError(str(exc)) from exc
        singleton_process_run("feed", lambda stop: self._run(provider, stop))
        self.stdout.write("Feed stopped.")

    async def _run(self, provider: str, stop: asyncio.Event) -> None:
        # One feed per provider: a second one would count every tick's volume twice in the bars.
        async with singleton_active(AdvisoryLock.MARKET_DATA_FEED, provider, stop) as active:
            if active:
                runner = await database_sync_to_async(build_runner)(provider)
                await asyncio.gather(runner.run(stop), *(companion.run(stop) for companion in feed_companions()))
