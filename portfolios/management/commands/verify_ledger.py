"""Check the ledger: every entry balances, cached balances match their lines, no cash
account is negative. Exit status 1 when anything is wrong (for cron / monitoring)."""

from django.core.management.base import BaseCommand, CommandError

from portfolios.selectors import ledger_discrepancies


class Command(BaseCommand):
    help = "Verify the double-entry ledger."

    def handle(self, *args, **options):
        problems = ledger_discrepancies()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s).")
        self.stdout.write(self.style.SUCCESS("Ledger OK."))
