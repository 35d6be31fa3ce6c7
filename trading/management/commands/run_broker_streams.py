"""Consume venue order updates (Alpaca trade_updates, ccxt orders pushed or polled) until SIGTERM/SIGINT."""

import asyncio

from django.core.management.base import BaseCommand

from speedtrade.locks import AdvisoryLock
from speedtrade.singleton import singleton_active, singleton_process_run
from trading.brokers.base import configured_broker_names
from trading.streams import run_streams


class Command(BaseCommand):
    help = "Turn venue order updates into executions and status changes (BROKER_US_EQUITY, BROKER_CRYPTO)."

    def handle(self, *args, **options):
        venues = configured_broker_names()
        singleton_process_run("broker-streams", lambda stop: self._run(venues, stop))
        self.stdout.write("Broker streams stopped.")

    async def _run(self, venues: set[str], stop: asyncio.Event) -> None:
        # Idempotent updates make a second copy harmless, but it doubles every venue's request budget.
        async with singleton_active(AdvisoryLock.BROKER_STREAMS, "", stop) as active:
            if active:
                await run_streams(venues, stop)
