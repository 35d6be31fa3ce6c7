"""The year-end realized gains report (Form 1099-B shaped), PDF and CSV, with a wash sale worked by hand."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time

from accounts.tests.factories import approved_customer
from documents import services, tasks
from documents.models import AccountDocument, DocumentKind
from portfolios.services import deposit_settled_post, fill_apply
from portfolios.tests.factories import AssetFactory
from speedtrade.errors import InvalidInput

D = Decimal
# Friday 2 January 2026: the first business day of the year (New Year's Day is a holiday).
FIRST_BUSINESS_DAY_2026 = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


def _fill(account, asset, side, qty, price, at):
    fill_apply(
        account=account, asset=asset, side=side, qty=D(qty), price=D(price), fee=D(0), executed_at=at, cause=None
    )


@pytest.fixture
def year_of_trading(alice):
    """2025: buy 10 ACME at 10.00 (June), 10 at 9.00 (10 Nov), sell 10 at 8.00 (28 Nov: FIFO takes the June lot,
    a 20.00 loss washed by the November purchase), sell 10 at 12.00 (15 Dec: the replacement, basis 90 + 20)."""
    with freeze_time(datetime(2025, 6, 2, 15, tzinfo=UTC)):
        account = approved_customer(alice)
        deposit_settled_post(account=account, amount=D("1000.00"))
        acme = AssetFactory(symbol="ACME", name="Acme Corp", reference_price=D("10.00"))
    _fill(account, acme, "buy", "10", "10.00", datetime(2025, 6, 2, 15, tzinfo=UTC))
    _fill(account, acme, "buy", "10", "9.00", datetime(2025, 11, 10, 15, tzinfo=UTC))
    _fill(account, acme, "sell", "10", "8.00", datetime(2025, 11, 28, 15, tzinfo=UTC))
    _fill(account, acme, "sell", "10", "12.00", datetime(2025, 12, 15, 15, tzinfo=UTC))
    return account


def test_the_january_job_reports_each_sale_with_its_wash_sale_as_pdf_and_csv(year_of_trading):
    with freeze_time(FIRST_BUSINESS_DAY_2026):
        tasks.issue_year_end_reports.apply()
        tasks.issue_year_end_reports.apply()  # once only

    pdf = AccountDocument.objects.get(account=year_of_trading, kind=DocumentKind.YEAR_END_GAINS)
    csv_document = AccountDocument.objects.get(account=year_of_trading, kind=DocumentKind.YEAR_END_GAINS_CSV)
    sales = [
        (
            s["acquired_on"],
            s["sold_on"],
            s["proceeds"],
            s["cost_basis"],
            s["wash_sale_disallowed"],
            s["gain"],
            s["term"],
        )
        for s in pdf.data["sales"]
    ]
    assert sales == [
        ("2025-06-02", "2025-11-28", "80.00", "100.00", "20.00", "0.00", "short"),  # the loss is disallowed
        ("2025-11-10", "2025-12-15", "120.00", "110.00", "0.00", "10.00", "short"),  # basis carries it
    ]
    assert pdf.data["totals"] == {
        "proceeds": "200.00", "cost_basis": "210.00", "wash_sale_disallowed": "20.00", "short_term_gain": "10.00",
        "long_term_gain": "0.00", "gain": "10.00",
    }  # fmt: skip
    with pdf.file.open("rb") as stored:
        assert stored.read(5) == b"%PDF-"
    with csv_document.file.open("rb") as stored:
        rows = list(csv.reader(io.StringIO(stored.read().decode())))
    assert rows[1][:7] == [
        "Description of property (1a)", "Date acquired (1b)", "Date sold (1c)", "Proceeds (1d)", "Cost basis (1e)",
        "Wash sale loss disallowed (1g)", "Gain or loss",
    ]  # fmt: skip
    assert rows[2][:7] == ["10 ACME", "2025-06-02", "2025-11-28", "80.00", "100.00", "20.00", "0.00"]
    assert rows[-1][:7] == ["Total", "", "", "200.00", "210.00", "20.00", "10.00"]


def test_staff_issue_a_report_on_demand_only_for_a_year_that_has_ended(year_of_trading):
    with freeze_time(datetime(2025, 12, 20, 15, tzinfo=UTC)), pytest.raises(InvalidInput):
        services.year_end_reports_issue(account=year_of_trading, year=2025)
    with freeze_time(datetime(2026, 2, 2, 15, tzinfo=UTC)):
        pdf, csv_document = services.year_end_reports_issue(account=year_of_trading, year=2025)
        assert services.year_end_reports_issue(account=year_of_trading, year=2025) == [pdf, csv_document]
    assert csv_document.content_type.startswith("text/csv") and csv_document.filename.endswith(".csv")
