"""Manual cash adjustments need two Compliance people; only approval touches the ledger."""

from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from accounts.tests.factories import UserFactory
from portfolios import services
from portfolios.models import CashAdjustment
from portfolios.tests.helpers import assert_ledger_sound, balances, ledger_row_count
from speedtrade.errors import DomainError

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def dave(db):
    return UserFactory(email="dave@example.com", staff_group="Compliance")


def propose(account, by, amount="25.00"):
    return services.cash_adjustment_propose(account=account, amount=D(amount), reason="goodwill credit", proposed_by=by)


def test_one_proposes_another_approves_and_the_ledger_moves(funded, carol, dave):
    before = ledger_row_count()
    adjustment = propose(funded, carol)
    assert ledger_row_count() == before
    services.cash_adjustment_approve(adjustment=adjustment, approved_by=dave)
    adjustment.refresh_from_db()
    assert adjustment.status == "approved" and adjustment.journal_entry.cause_type == "adjustment"
    assert balances(funded)["cash"] == D("1025.00")
    assert services.platform_ledger_account("adjustments").lines.get().amount == D("-25.00")
    assert list(AuditEvent.objects.filter(target_id=str(adjustment.pk)).values_list("action", "actor")) == [
        ("cash_adjustment.approved", dave.pk),
        ("cash_adjustment.proposed", carol.pk),
    ]
    assert_ledger_sound()


def test_the_proposer_cannot_approve_or_reject_their_own(funded, carol):
    adjustment = propose(funded, carol)
    for decide in (
        lambda: services.cash_adjustment_approve(adjustment=adjustment, approved_by=carol),
        lambda: services.cash_adjustment_reject(adjustment=adjustment, rejected_by=carol),
    ):
        with pytest.raises(DomainError, match="different person"):
            decide()
    adjustment.refresh_from_db()
    assert adjustment.status == "proposed" and balances(funded)["cash"] == D("1000.00")


def test_customers_and_support_can_neither_propose_nor_approve(funded, carol, alice):
    support = UserFactory(email="sam@example.com", staff_group="Support")
    for user in (alice, support):
        with pytest.raises(DomainError, match="may not"):
            propose(funded, user)
    adjustment = propose(funded, carol)
    with pytest.raises(DomainError, match="may not"):
        services.cash_adjustment_approve(adjustment=adjustment, approved_by=support)


def test_a_decided_adjustment_cannot_be_decided_again(funded, carol, dave):
    adjustment = propose(funded, carol)
    services.cash_adjustment_reject(adjustment=adjustment, rejected_by=dave)
    with pytest.raises(DomainError, match="already rejected"):
        services.cash_adjustment_approve(adjustment=adjustment, approved_by=dave)
    assert balances(funded)["cash"] == D("1000.00")


def test_a_debit_cannot_overdraw_a_cash_account(funded, carol, dave):
    adjustment = propose(funded, carol, amount="-1000.01")
    with pytest.raises(DomainError, match="Not enough cash"):
        services.cash_adjustment_approve(adjustment=adjustment, approved_by=dave)
    assert CashAdjustment.objects.get().status == "proposed"


@pytest.mark.parametrize("amount", ["0", "0.001"])
def test_odd_amounts_are_refused(funded, carol, amount):
    with pytest.raises(DomainError):
        propose(funded, carol, amount=amount)
    assert not CashAdjustment.objects.exists()


def test_admin_pages_are_read_only_and_the_export_is_csv(carol_admin, funded):
    client = carol_admin
    assert client.get("/admin/portfolios/journalentry/").status_code == 200
    assert client.get("/admin/portfolios/journalentry/add/").status_code == 403
    response = client.post(
        "/admin/portfolios/journalentry/export/",
        {"customer_email": funded.user.email, "start": "2026-01-01", "end": "2026-12-31"},
    )
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = response.content.decode().splitlines()
    assert rows[0].startswith("effective_at,entry_id")
    assert sorted(row.split(",")[-3:-1] for row in rows[1:]) == [["bank", "-1000.00"], ["cash", "1000.00"]]
    exported = AuditEvent.objects.get(action="records.exported")
    assert (exported.subject_user, exported.after["export"]) == (funded.user, "ledger")


def test_the_ledger_export_neutralises_formulas_and_runs_only_on_post(carol_admin, funded, carol, dave):
    """A memo written by staff (an adjustment's reason) cannot run in Compliance's spreadsheet,
    and a link (GET) only shows the form: nothing is exported or audited without a POST."""
    adjustment = services.cash_adjustment_propose(
        account=funded, amount=D("5.00"), reason='=HYPERLINK("http://evil.example","x")', proposed_by=carol
    )
    services.cash_adjustment_approve(adjustment=adjustment, approved_by=dave)
    query = {"customer_email": funded.user.email, "start": "2026-01-01", "end": "2099-12-31"}

    page = carol_admin.get("/admin/portfolios/journalentry/export/", query)
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert not AuditEvent.objects.filter(action="records.exported").exists()

    exported = carol_admin.post("/admin/portfolios/journalentry/export/", query).content.decode()
    assert "'=HYPERLINK" in exported and ",=HYPERLINK" not in exported and ',"=HYPERLINK' not in exported
    assert ",-5.00," in exported  # signed amounts stay numbers
    assert AuditEvent.objects.filter(action="records.exported").count() == 1
