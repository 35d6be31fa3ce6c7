"""Check the ledger: every entry balances, cached balances match their lines, no cash
account is negative, the reservation counters equal what open orders hold, and the tax lots
agree with positions (to the share) and with the fills' cash (to the cent; the identities are in
`portfolios.selectors.lot_discrepancies`). Exit status 1 when anything is wrong (for cron /
monitoring)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from portfolios.selectors import ledger_discrepancies, lot_discrepancies
from trading.selectors import reservation_discrepancies


class Command(BaseCommand):
    help = "Verify the double-entry ledger, the reservations of open orders and the tax lots."

    def handle(self, *args, **options):
        snapshot_of_its_own = connection.vendor == "postgresql" and not connection.in_atomic_block
        with transaction.atomic():
            if snapshot_of_its_own:
                # One snapshot for every check: it runs while customers trade, and counters read before an
                # order commits compared with orders read after it would report a discrepancy that is not there.
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            problems = ledger_discrepancies() + reservation_discrepancies() + lot_discrepancies()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s).")
        self.stdout.write(self.style.SUCCESS("Ledger OK."))
