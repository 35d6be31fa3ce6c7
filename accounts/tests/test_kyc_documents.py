"""KYC documents: type by content, size limit, private storage, who may read them."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditEvent, KYCDocument
from accounts.tests.factories import PDF_BYTES, PNG_BYTES, KYCDocumentFactory
from accounts.tests.sessions import mfa_client

pytestmark = pytest.mark.django_db


def _upload(api, content: bytes, name="id.png", content_type="image/png", document_type="id_front"):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    return api.post("/api/v1/kyc/documents", {"document_type": document_type, "file": upload}, format="multipart")


def test_png_upload_is_stored_privately_with_its_detected_type(alice_api, settings):
    response = _upload(alice_api, PNG_BYTES, content_type="application/octet-stream")
    assert response.status_code == 201, response.json()
    assert response.json()["content_type"] == "image/png"
    document = KYCDocument.objects.get(pk=response.json()["id"])
    stored = Path(document.file.path)
    assert stored.is_relative_to(Path(settings.PRIVATE_MEDIA_ROOT)) and stored.read_bytes() == PNG_BYTES
    assert not stored.is_relative_to(Path(settings.STATIC_ROOT))
    assert AuditEvent.objects.filter(action="kyc.document_uploaded", target_id=str(document.pk)).exists()


def test_a_spoofed_content_type_is_refused(alice_api):
    response = _upload(alice_api, b"#!/bin/sh\nrm -rf /\n", name="passport.png", content_type="image/png")
    assert response.status_code == 400
    assert response.json()["fields"]["file"] == ["Only PDF, JPEG and PNG files are accepted."]
    assert not KYCDocument.objects.exists()


def test_a_file_over_10_mb_is_refused(alice_api):
    response = _upload(
        alice_api, PDF_BYTES + b"\0" * (10 * 1024 * 1024), name="big.pdf", content_type="application/pdf"
    )
    assert response.status_code == 400
    assert response.json()["fields"]["file"] == ["The file is larger than 10 MB."]
    assert not KYCDocument.objects.exists()


def test_an_unknown_document_type_is_refused(alice_api):
    response = _upload(alice_api, PNG_BYTES, document_type="selfie")
    assert response.status_code == 400 and "document_type" in response.json()["fields"]
    assert not KYCDocument.objects.exists()


def test_the_owner_lists_and_downloads_their_documents(alice, alice_api):
    document = KYCDocumentFactory(application__user=alice)
    assert [d["id"] for d in alice_api.get("/api/v1/kyc/documents").json()] == [str(document.pk)]
    response = alice_api.get(f"/api/v1/kyc/documents/{document.pk}")
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"


def test_another_user_gets_404_from_the_api_and_the_web(alice, bob):
    document = KYCDocumentFactory(application__user=alice)
    bob_api = APIClient()
    bob_api.force_authenticate(bob)
    assert bob_api.get(f"/api/v1/kyc/documents/{document.pk}").status_code == 404
    assert bob_api.get("/api/v1/kyc/documents").json() == []
    bob_browser = Client()
    bob_browser.force_login(bob)
    assert bob_browser.get(reverse("onboarding:document", args=[document.pk])).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(alice, api_client):
    document = KYCDocumentFactory(application__user=alice)
    assert api_client.get(f"/api/v1/kyc/documents/{document.pk}").status_code == 401
    response = Client().get(reverse("onboarding:document", args=[document.pk]))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_compliance_staff_read_is_streamed_and_audited(alice, carol_admin, carol):
    document = KYCDocumentFactory(application__user=alice)
    response = carol_admin.get(reverse("onboarding:document", args=[document.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF_BYTES
    event = AuditEvent.objects.get(action="kyc.document_viewed")
    assert (event.actor, event.subject_user, event.target_id) == (carol, alice, str(document.pk))


def test_the_owner_reading_their_own_document_is_not_a_staff_read(alice):
    document = KYCDocumentFactory(application__user=alice)
    browser = Client()
    browser.force_login(alice)
    assert browser.get(reverse("onboarding:document", args=[document.pk])).status_code == 200
    assert not AuditEvent.objects.filter(action="kyc.document_viewed").exists()


def test_staff_whose_session_skipped_mfa_cannot_read_documents(alice, carol):
    document = KYCDocumentFactory(application__user=alice)
    browser = Client()
    browser.force_login(carol)  # password only
    assert browser.get(reverse("onboarding:document", args=[document.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="kyc.document_viewed").exists()


def test_support_cannot_open_identity_documents(alice, dave):
    """Only Compliance opens documents; Support gets the same 404 as anyone else, and nothing is recorded."""
    document = KYCDocumentFactory(application__user=alice)
    assert mfa_client(dave).get(reverse("onboarding:document", args=[document.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="kyc.document_viewed").exists()
