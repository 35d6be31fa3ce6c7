"""Monthly statements (FINRA Rule 2231): the figures reconcile with the ledger to the cent, and beat issues them
on the first business day of the month, once."""

from datetime import UTC, date, datetime
from decimal import Decimal

from freezegun import freeze_time

from documents import services, tasks
from documents.models import AccountDocument, DocumentKind
from portfolios import selectors as portfolio_selectors
from portfolios.models import LedgerAccount, Position
from portfolios.pricing import valuation_at_market
from speedtrade.celery import app
from speedtrade.periodic import jobs_from_schedule
from trading.tests.conftest import place

# Wednesday 1 April 2026, 07:00 New York: the first business day of April.
APRIL_FIRST = datetime(2026, 4, 1, 11, 0, tzinfo=UTC)


def _trade(account):
    """Buy 10 ACME at the ask (10.01), sell 4 at the bid (9.99), on the paper venue."""
    place(account, qty=Decimal(10))
    place(account, side="sell", qty=Decimal(4))


def _cash(account) -> Decimal:
    return LedgerAccount.objects.get(account=account, kind=LedgerAccount.Kind.CASH).balance


def test_the_month_to_date_statement_reconciles_with_the_ledger_to_the_cent(alice_account, acme, market_open):
    _trade(alice_account)

    statement = services.monthly_statement_issue(account=alice_account, month=date(2026, 3, 1))

    data = statement.data
    assert statement.title == "Monthly statement, March 2026 (month to date)"
    assert (statement.period_start, statement.period_end) == (date(2026, 3, 1), date(2026, 3, 4))
    # Opening cash + every cash line of the period = closing cash = the ledger's balance.
    activity = sum((Decimal(line["amount"]) for line in data["activity"]), Decimal(0))
    assert Decimal(data["opening_cash"]) + activity == Decimal(data["closing_cash"]) == _cash(alice_account)
    assert Decimal(data["closing_cash"]) == Decimal("1000.00") - Decimal("100.10") + Decimal("39.96")
    assert [line["type"] for line in data["activity"]] == ["Deposit", "Trade", "Trade"]
    assert data["summary"] == {
        "deposits": "1000.00", "withdrawals": "0.00", "trades": "-60.14", "fees": "0.00", "dividends": "0.00",
        "adjustments": "0.00",
    }  # fmt: skip
    # Holdings: the position's shares, valued at the latest price; equity − cash is what they are worth.
    (holding,) = data["holdings"]
    assert Decimal(holding["qty"]) == Position.objects.get(account=alice_account).qty == 6
    assert Decimal(holding["value"]) == Decimal(holding["qty"]) * Decimal(holding["price"])
    assert Decimal(data["closing_equity"]) - Decimal(data["closing_cash"]) == Decimal(holding["value"])
    # The same equity the account page shows.
    assert Decimal(data["closing_equity"]) == valuation_at_market(account=alice_account).equity
    # Realized gains: one line per lot the sale closed.
    closings = portfolio_selectors.lot_closings(
        account=alice_account, since=datetime(2026, 3, 1, 5, tzinfo=UTC), until=datetime(2026, 4, 1, 4, tzinfo=UTC)
    )
    assert len(data["realized_gains"]) == closings.count()


def test_beat_issues_last_months_statements_on_the_first_business_day_once(alice_account, acme, market_open):
    _trade(alice_account)
    with freeze_time(datetime(2026, 3, 31, 15, tzinfo=UTC)):
        assert services.monthly_statements_due() == 0  # February: nothing happened yet

    with freeze_time(APRIL_FIRST):
        tasks.issue_monthly_statements.apply()
        tasks.issue_monthly_statements.apply()  # a repeated run issues nothing more

    (statement,) = AccountDocument.objects.filter(account=alice_account, kind=DocumentKind.MONTHLY_STATEMENT)
    assert (statement.period_start, statement.period_end) == (date(2026, 3, 1), date(2026, 3, 31))
    assert statement.title == "Monthly statement, March 2026" and not statement.data["month_to_date"]
    assert Decimal(statement.data["closing_cash"]) == _cash(alice_account)
    holding = statement.data["holdings"][0]
    assert Decimal(statement.data["closing_equity"]) == Decimal(statement.data["closing_cash"]) + Decimal(
        holding["value"]
    )


def test_the_schedule_runs_the_document_jobs(settings):
    jobs = {job.name: job.task for job in jobs_from_schedule(settings.CELERY_BEAT_SCHEDULE)}
    assert jobs["documents-trade-confirmations"] == "documents.tasks.issue_trade_confirmations"
    assert jobs["documents-monthly-statements"] == "documents.tasks.issue_monthly_statements"
    assert jobs["documents-year-end-gains"] == "documents.tasks.issue_year_end_reports"
    assert all(task in app.tasks for task in jobs.values())
