"""Check the ledger: every entry balances, cached balances match their lines, no cash
account is negative, the reservation counters equal what open orders hold, and the tax lots
agree with positions (to the share) and with the fills' cash (to the cent; the identities are in
`portfolios.selectors.lot_discrepancies`). Exit status 1 when anything is wrong (for cron /
monitoring)."""

from django.core.management.base import BaseCommand, CommandError

from portfolios.selectors import ledger_discrepancies, lot_discrepancies
from trading.selectors import reservation_discrepancies


class Command(BaseCommand):
    help = "Verify the double-entry ledger, the reservations of open orders and the tax lots."

    def handle(self, *args, **options):
        problems = ledger_discrepancies() + reservation_discrepancies() + lot_discrepancies()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s).")
        self.stdout.write(self.style.SUCCESS("Ledger OK."))
