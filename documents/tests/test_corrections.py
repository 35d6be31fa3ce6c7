"""Re-issuing a document as a correction takes two different compliance officers; both steps are audited."""

from datetime import date
from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from documents import services
from documents.models import AccountDocument, DocumentCorrection
from speedtrade.errors import DomainError, NotPermitted
from trading.tests.conftest import place


@pytest.fixture
def statement(alice_account, acme):
    place(alice_account, qty=Decimal(2))
    return services.monthly_statement_issue(account=alice_account, month=date(2026, 3, 1))


def test_one_officer_requests_another_approves_and_a_new_document_names_the_original(statement, carol, dave):
    correction = services.document_correction_request(document=statement, reason="Fee booked twice", requested_by=carol)
    with pytest.raises(DomainError) as same_person:
        services.document_correction_approve(correction=correction, approved_by=carol)
    assert same_person.value.code == "four_eyes"
    assert AccountDocument.objects.count() == 1

    approved = services.document_correction_approve(correction=correction, approved_by=dave)

    corrected = approved.issued
    assert approved.status == DocumentCorrection.Status.APPROVED and approved.decided_by == dave
    assert corrected.corrects == statement and corrected.kind == statement.kind
    assert (corrected.period_start, corrected.period_end) == (statement.period_start, statement.period_end)
    assert corrected.sha256 != statement.sha256  # a new file; the original is untouched
    statement.refresh_from_db()
    with statement.file.open("rb") as original:
        assert original.read(5) == b"%PDF-"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"document.correction_requested", "document.correction_approved"} <= actions
    # The corrected document is the one to correct next time.
    with pytest.raises(DomainError) as again:
        services.document_correction_request(document=statement, reason="Again", requested_by=carol)
    assert again.value.code == "already_corrected"


def test_a_customer_or_support_cannot_request_a_correction(statement, alice, db):
    from accounts.tests.factories import UserFactory

    support = UserFactory(email="sam@example.com", staff_group="Support")
    for user in (alice, support):
        with pytest.raises(NotPermitted):
            services.document_correction_request(document=statement, reason="Please", requested_by=user)
    assert not DocumentCorrection.objects.exists()


def test_a_rejected_request_issues_nothing(statement, carol, dave):
    correction = services.document_correction_request(document=statement, reason="Looks off", requested_by=carol)
    services.document_correction_reject(correction=correction, rejected_by=dave)
    correction.refresh_from_db()
    assert correction.status == DocumentCorrection.Status.REJECTED and correction.issued is None
    assert AccountDocument.objects.count() == 1
    with pytest.raises(DomainError):
        services.document_correction_approve(correction=correction, approved_by=dave)
