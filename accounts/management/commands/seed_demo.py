"""Demo data for `make run`: a trader ready to trade, the staff who oversee them, and a
few applications waiting in the compliance queue."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_USERS = [
    # (email, password, extra create_trader options, what they are for)
    ("demo@speedtrade.local", "demo-trader-2026", ["--kyc", "approved"], "trader (KYC approved)"),
    ("compliance@speedtrade.local", "demo-compliance-2026", ["--staff", "compliance"], "compliance staff (admin)"),
    ("admin@speedtrade.local", "demo-admin-2026", ["--superuser"], "operator (admin)"),
]
PENDING_APPLICANTS = ["applicant1@speedtrade.local", "applicant2@speedtrade.local", "applicant3@speedtrade.local"]
APPLICANT_PASSWORD = "demo-applicant-2026"


class Command(BaseCommand):
    help = "Create the demo users and pending KYC applications (idempotent)."

    def handle(self, *args, **options):
        for email, password, extra, _ in DEMO_USERS:
            call_command("create_trader", email, "--password", password, *extra, stdout=self.stdout)
        for email in PENDING_APPLICANTS:
            call_command(
                "create_trader", email, "--password", APPLICANT_PASSWORD, "--kyc", "pending", stdout=self.stdout
            )

    @staticmethod
    def credentials_text() -> str:
        lines = [f"  {role:<26} {email} / {password}" for email, password, _, role in DEMO_USERS]
        lines.append(f"  {'applicants (KYC pending)':<26} applicant1..3@speedtrade.local / {APPLICANT_PASSWORD}")
        return "\n".join(lines)
