"""Run the order engine until SIGTERM/SIGINT (services mode: `make engine`)."""

from django.core.management.base import BaseCommand

from speedtrade.singleton import singleton_process_run
from trading.engine import OrderEngine


class Command(BaseCommand):
    help = (
        "Accept and fill paper orders and hand other venues' orders to their submit task (trading/engine.py). "
        "One engine leads per deployment; the others wait as hot standbys."
    )

    def handle(self, *args, **options):
        singleton_process_run("engine", OrderEngine().run)
        self.stdout.write("Order engine stopped.")
