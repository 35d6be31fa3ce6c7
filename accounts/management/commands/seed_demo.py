"""Demo data for `make run`: a funded trader ready to trade, the staff who oversee them,
a few applications waiting in the compliance queue, the asset universe and its history."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from portfolios.selectors import primary_account
from portfolios.services import equity_history_backfill

DEMO_USERS = [
    # (email, password, extra create_trader options, what they are for)
    (
        "demo@speedtrade.local",
        "demo-trader-2026",
        ["--kyc", "approved", "--cash", "1000.00"],
        "trader (approved, $1,000)",
    ),
    ("compliance@speedtrade.local", "demo-compliance-2026", ["--staff", "compliance"], "compliance staff (admin)"),
    ("admin@speedtrade.local", "demo-admin-2026", ["--superuser"], "operator (admin)"),
]
PENDING_APPLICANTS = ["applicant1@speedtrade.local", "applicant2@speedtrade.local", "applicant3@speedtrade.local"]
APPLICANT_PASSWORD = "demo-applicant-2026"
DEMO_HISTORY_DAYS = 5  # as backfill_bars' default: the bars the history is valued from


class Command(BaseCommand):
    help = "Create the demo users and applicants, load the asset universe and backfill bar history (idempotent)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            # Its passwords are printed in the README: in production they would be public logins.
            raise CommandError(
                "seed_demo creates users with published passwords and refuses to run in production "
                "(SPEEDTRADE_ENV=production). Create operators with `manage.py createsuperuser`."
            )
        for email, password, extra, _ in DEMO_USERS:
            call_command("create_trader", email, "--password", password, *extra, stdout=self.stdout)
        # --- marketdata: the universe and a few days of simulated history, so charts are never empty.
        call_command("load_assets", stdout=self.stdout)
        call_command("backfill_bars", stdout=self.stdout)
        # --- portfolios: the demo trader's equity curve is not empty before the first snapshot job runs.
        trader = User.objects.get(email=DEMO_USERS[0][0])
        account = primary_account(user=trader)
        assert account is not None  # create_trader above opened it
        written = equity_history_backfill(account=account, days=DEMO_HISTORY_DAYS, now=timezone.now())
        self.stdout.write(f"Equity history: {written} snapshots.")
        for email in PENDING_APPLICANTS:
            call_command(
                "create_trader", email, "--password", APPLICANT_PASSWORD, "--kyc", "pending", stdout=self.stdout
            )

    @staticmethod
    def credentials_text() -> str:
        lines = [f"  {role:<26} {email} / {password}" for email, password, _, role in DEMO_USERS]
        lines.append(f"  {'applicants (KYC pending)':<26} applicant1..3@speedtrade.local / {APPLICANT_PASSWORD}")
        return "\n".join(lines)
