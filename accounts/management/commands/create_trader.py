"""Create a verified user ready to use: demo data, operators and scripted tests."""

from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import trader_create
from speedtrade.errors import DomainError


class Command(BaseCommand):
    help = "Create (or update) a verified SpeedTrade user."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--password", required=True)
        parser.add_argument(
            "--staff", choices=["compliance", "support"], help="make the user a staff member of that group"
        )
        parser.add_argument("--superuser", action="store_true", help="full admin rights (operators only)")
        parser.add_argument(
            "--cash", type=Decimal, help="fund the trader's account with settled cash up to this amount (USD)"
        )
        parser.add_argument(
            "--kyc",
            choices=["approved", "pending", "none"],
            default="none",
            help="file a complete KYC application: approved (account active, can trade) or pending (in the queue)",
        )

    def handle(self, *args, **options):
        if options["kyc"] != "none" and (options["staff"] or options["superuser"]):
            raise CommandError("--kyc is for customers, not staff.")
        if settings.PRODUCTION and (options["staff"] or options["superuser"]):
            # A password on the command line ends up in shell history and process lists.
            raise CommandError(
                "--staff and --superuser are refused in production (SPEEDTRADE_ENV=production): create operators "
                "with `manage.py createsuperuser` (it prompts for the password), then add staff in the admin."
            )
        try:
            user = trader_create(
                email=options["email"],
                password=options["password"],
                staff_group=options["staff"],
                superuser=options["superuser"],
                cash=options["cash"],
                kyc=None if options["kyc"] == "none" else options["kyc"],
            )
        except (ValueError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Ready: {user.email} ({user.pk})"))
