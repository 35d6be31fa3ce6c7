"""Customers read their own documents only, each file checked against its digest and each download audited."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction
from django.test import TestCase

from accounts.models import AuditEvent
from documents import services
from documents.admin import AccountDocumentAdmin
from documents.models import AccountDocument
from notifications.models import Notification
from trading.tests.conftest import place


@pytest.fixture
def statement(alice_account, acme):
    place(alice_account, qty=Decimal(2))
    with TestCase.captureOnCommitCallbacks(execute=True):  # the notification follows the commit
        return services.monthly_statement_issue(account=alice_account, month=date(2026, 3, 1))


def test_alice_downloads_her_statement_as_issued_and_the_download_is_audited(client, alice, statement):
    client.force_login(alice)
    page = client.get("/documents/", {"kind": "monthly_statement"})
    assert page.status_code == 200 and statement.title in page.content.decode()

    response = client.get(f"/documents/{statement.pk}/download/")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and response["X-Content-SHA256"] == statement.sha256
    assert response["Cache-Control"] == "private, no-store"
    assert AuditEvent.objects.filter(action="document.downloaded", target_id=str(statement.pk), actor=alice).exists()


def test_alice_is_told_when_a_document_is_issued(alice, statement):
    notification = Notification.objects.get(user=alice, kind="document_issued")
    assert notification.title == f"New document: {statement.title}" and notification.url == "/documents/"


def test_a_tampered_file_is_refused_alerted_and_audited(client, alice, statement, caplog):
    with open(statement.file.path, "ab") as stored:
        stored.write(b"% tampered")
    client.force_login(alice)

    response = client.get(f"/documents/{statement.pk}/download/")

    assert response.status_code == 503 and b"%PDF" not in response.content
    assert AuditEvent.objects.filter(action="document.integrity_failed", target_id=str(statement.pk)).exists()
    assert not AuditEvent.objects.filter(action="document.downloaded").exists()
    assert any(record.levelname == "ERROR" and "integrity" in record.getMessage() for record in caplog.records)


def test_bob_cannot_see_or_download_alices_documents(client, api_client, bob, statement):
    client.force_login(bob)
    assert client.get(f"/documents/{statement.pk}/download/").status_code == 404
    assert statement.title not in client.get("/documents/").content.decode()
    api_client.force_authenticate(bob)
    assert api_client.get(f"/api/v1/documents/{statement.pk}").status_code == 404
    assert api_client.get(f"/api/v1/documents/{statement.pk}/download").status_code == 404
    assert api_client.get("/api/v1/documents").json()["results"] == []
    assert not AuditEvent.objects.filter(action="document.downloaded").exists()


def test_the_api_lists_filters_details_and_downloads(alice_api, alice, statement):
    listed = alice_api.get("/api/v1/documents", {"kind": "monthly_statement", "start": "2026-03-01"}).json()
    assert [d["id"] for d in listed["results"]] == [str(statement.pk)]
    assert alice_api.get("/api/v1/documents", {"kind": "trade_confirmation"}).json()["results"] == []
    assert alice_api.get("/api/v1/documents", {"start": "2026-04-01"}).json()["results"] == []

    detail = alice_api.get(f"/api/v1/documents/{statement.pk}").json()
    assert detail["sha256"] == statement.sha256 and detail["data"]["closing_cash"] == statement.data["closing_cash"]
    assert isinstance(detail["data"]["closing_equity"], str)  # decimal strings

    download = alice_api.get(f"/api/v1/documents/{statement.pk}/download")
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="document.downloaded", actor=alice).count() == 1


def test_bad_filters_are_a_400_in_the_common_format(alice_api, statement):
    response = alice_api.get("/api/v1/documents", {"kind": "horoscope"})
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    assert "kind" in response.json()["fields"]
    response = alice_api.get("/api/v1/documents", {"start": "2026-03-05", "end": "2026-03-01"})
    assert response.status_code == 400 and "end" in response.json()["fields"]


def test_the_openapi_schema_describes_the_documents_endpoints(alice_api):
    paths = alice_api.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert {"/api/v1/documents", "/api/v1/documents/{document_id}", "/api/v1/documents/{document_id}/download"} <= set(
        paths
    )
    assert "application/pdf" in paths["/api/v1/documents/{document_id}/download"]["get"]["responses"]["200"]["content"]


def test_an_issued_document_can_be_neither_changed_nor_deleted(statement, rf, carol):
    with pytest.raises(DatabaseError), transaction.atomic():
        AccountDocument.objects.filter(pk=statement.pk).update(title="Nicer figures")
    with pytest.raises(DatabaseError), transaction.atomic():
        AccountDocument.objects.filter(pk=statement.pk).delete()
    request = rf.get("/admin/")
    request.user = carol
    admin = AccountDocumentAdmin(AccountDocument, None)
    assert not admin.has_change_permission(request, statement) and not admin.has_delete_permission(request, statement)
    # Issuing the same statement again returns the original: never regenerated in place.
    again = services.monthly_statement_issue(account=statement.account, month=date(2026, 3, 1))
    assert again.pk == statement.pk and AccountDocument.objects.count() == 1


def test_compliance_reads_the_file_in_the_admin_audited_and_support_cannot(carol_admin, carol, statement, db):
    from accounts.tests.factories import UserFactory
    from accounts.tests.sessions import mfa_client

    listing = carol_admin.get("/admin/documents/accountdocument/", {"q": "alice@example.com"})
    assert listing.status_code == 200 and statement.title in listing.content.decode()

    response = carol_admin.get(f"/admin/documents/accountdocument/{statement.pk}/download/")

    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="document.downloaded", actor=carol, subject_user=statement.account.user)
    support = mfa_client(UserFactory(email="sam@example.com", staff_group="Support"))
    assert support.get(f"/admin/documents/accountdocument/{statement.pk}/download/").status_code == 403


def test_rendering_never_reaches_the_network():
    import weasyprint
    from weasyprint.urls import FatalURLFetchingError

    from documents.rendering import offline_url_fetcher

    html = weasyprint.HTML(string='<img src="http://192.0.2.1/logo.png">', url_fetcher=offline_url_fetcher())
    with pytest.raises(FatalURLFetchingError):
        html.write_pdf()
