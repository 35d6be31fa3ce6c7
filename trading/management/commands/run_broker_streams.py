"""Consume venue order updates (Alpaca trade_updates, ccxt orders pushed or polled) until SIGTERM/SIGINT."""

import asyncio
import signal

from django.core.management.base import BaseCommand

from speedtrade.locks import AdvisoryLock
from speedtrade.process_metrics import metrics_endpoint_start
from speedtrade.singleton import singleton_active
from trading.brokers.base import configured_broker_names
from trading.streams import run_streams


class Command(BaseCommand):
    help = "Turn venue order updates into executions and status changes (BROKER_US_EQUITY, BROKER_CRYPTO)."

    def handle(self, *args, **options):
        asyncio.run(self._run(configured_broker_names()))
        self.stdout.write("Broker streams stopped.")

    async def _run(self, venues: set[str]) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        metrics_endpoint_start("broker-streams")
        # Idempotent updates make a second copy harmless, but it doubles every venue's request budget.
        async with singleton_active(AdvisoryLock.BROKER_STREAMS, "", stop) as active:
            if active:
                await run_streams(venues, stop)
