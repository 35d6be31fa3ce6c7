"""Issue account documents now, as the beat jobs do (operations, catch-up after an outage, the e2e journey).

    manage.py issue_documents --confirmations
    manage.py issue_documents --month 2026-11 [--account 123456789012]
    manage.py issue_documents --tax-year 2025 [--account 123456789012]

`--month` of the current month issues a month-to-date statement: the 1st to today, holdings at the latest
prices, titled "(month to date)". It is its own document: the full month's statement is still issued after
the month ends (a different period), and neither replaces the other.
"""

from datetime import date, datetime

from django.core.management.base import BaseCommand, CommandError

from documents import services
from portfolios.models import Account
from speedtrade.errors import DomainError


def _month(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError as bad:
        raise CommandError(f"--month is YYYY-MM, not {value!r}.") from bad


class Command(BaseCommand):
    help = "Issue trade confirmations, monthly statements or year-end gains reports that are missing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--confirmations", action="store_true", help="Confirm every order's fills not yet confirmed."
        )
        parser.add_argument("--month", type=_month, help="Statements for this month (YYYY-MM).")
        parser.add_argument("--tax-year", type=int, help="Year-end realized gains reports for this tax year.")
        parser.add_argument("--account", help="Only this account number (with --month or --tax-year).")

    def handle(
        self, *args, confirmations: bool, month: date | None, tax_year: int | None, account: str | None, **options
    ):
        if not (confirmations or month or tax_year):
            raise CommandError("Say what to issue: --confirmations, --month or --tax-year.")
        only = None
        if account:
            only = Account.objects.filter(account_number=account).select_related("user").first()
            if only is None:
                raise CommandError(f"No account {account}.")
        try:
            if confirmations:
                self.stdout.write(f"Trade confirmations issued: {services.trade_confirmations_issue_due()}")
            if month and only:
                document = services.monthly_statement_issue(account=only, month=month)
                self.stdout.write(f"Statement: {document.title} ({document.pk})")
            elif month:
                self.stdout.write(f"Statements issued: {services.monthly_statements_issue(month=month)}")
            if tax_year and only:
                for document in services.year_end_reports_issue(account=only, year=tax_year):
                    self.stdout.write(f"Report: {document.title} ({document.pk})")
            elif tax_year:
                self.stdout.write(f"Reports issued: {services.year_end_reports_issue_all(year=tax_year)}")
        except DomainError as refused:
            raise CommandError(refused.message) from refused
