"""Demo data for `make run`: a trader ready to trade, the staff who oversee them, assets and their history."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_USERS = [
    # (email, password, extra create_trader options, what they are for)
    ("demo@speedtrade.local", "demo-trader-2026", [], "trader"),
    ("compliance@speedtrade.local", "demo-compliance-2026", ["--staff", "compliance"], "compliance staff (admin)"),
    ("admin@speedtrade.local", "demo-admin-2026", ["--superuser"], "operator (admin)"),
]


class Command(BaseCommand):
    help = "Create the demo users, load the asset universe and backfill bar history (idempotent)."

    def handle(self, *args, **options):
        for email, password, extra, _ in DEMO_USERS:
            call_command("create_trader", email, "--password", password, *extra, stdout=self.stdout)
        # --- marketdata: the universe and a few days of simulated history, so charts are never empty.
        call_command("load_assets", stdout=self.stdout)
        call_command("backfill_bars", stdout=self.stdout)

    @staticmethod
    def credentials_text() -> str:
        return "\n".join(f"  {role:<26} {email} / {password}" for email, password, _, role in DEMO_USERS)
