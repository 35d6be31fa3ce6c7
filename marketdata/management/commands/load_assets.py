"""Load the shipped asset universe (or another CSV of the same shape); idempotent upsert by symbol."""

from pathlib import Path

from django.core.management.base import BaseCommand

from marketdata.services import REFERENCE_ASSETS_FILE, assets_load, reference_asset_rows


class Command(BaseCommand):
    help = "Create or update assets from marketdata/data/assets.csv (upsert by symbol)."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=REFERENCE_ASSETS_FILE, help="CSV with the same columns")

    def handle(self, *args, file, **options):
        created, updated = assets_load(rows=reference_asset_rows(file))
        self.stdout.write(f"Assets: {created} created, {updated} updated.")
