"""`/api/v1/kyc`: the mobile client's onboarding."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import services
from accounts.models import AuditEvent, KYCApplication
from accounts.tests.factories import PDF_BYTES, KYCApplicationFactory

pytestmark = pytest.mark.django_db

COMPLETE_DRAFT = {
    "email_address": "alice@example.com",
    "phone_number": "+1 555 010 0100",
    "street_address": "20 N San Mateo Dr",
    "city": "San Mateo",
    "state": "CA",
    "postal_code": "94401",
    "country": "US",
    "given_name": "Alice",
    "family_name": "Liddell",
    "date_of_birth": "1990-01-15",
    "tax_id_type": "USA_SSN",
    "tax_id": "123-45-6789",
    "country_of_citizenship": "US",
    "country_of_tax_residence": "US",
    "funding_source": ["employment_income", "savings"],
    "is_control_person": False,
    "is_affiliated_exchange_or_finra": False,
    "is_politically_exposed": False,
    "immediate_family_exposed": False,
    "agreements": ["customer", "account"],
}


def _upload(api, document_type):
    upload = SimpleUploadedFile(f"{document_type}.pdf", PDF_BYTES, content_type="application/pdf")
    response = api.post("/api/v1/kyc/documents", {"document_type": document_type, "file": upload}, format="multipart")
    assert response.status_code == 201, response.json()


def test_before_starting_there_is_no_application(alice_api):
    response = alice_api.get("/api/v1/kyc")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_happy_path_draft_documents_submit(alice, alice_api, alice_account):
    response = alice_api.put("/api/v1/kyc", COMPLETE_DRAFT)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "draft" and body["tax_id_masked"] == "•••••6789"
    assert "tax_id" not in body and "123456789" not in response.content.decode()
    assert body["missing"] == {"fields": [], "documents": ["id_front", "proof_of_address"], "agreements": []}
    assert {a["agreement"] for a in body["agreements"]} == {"customer", "account"}

    _upload(alice_api, "id_front")
    _upload(alice_api, "proof_of_address")
    response = alice_api.post("/api/v1/kyc/submit")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "submitted"
    assert alice_api.get("/api/v1/kyc").json()["status"] == "submitted"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"state": "ZZ"}, "state"),
        ({"postal_code": "ABCDE"}, "postal_code"),
        ({"date_of_birth": "2020-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1990-02-30"}, "date_of_birth"),
        ({"tax_id": "12345"}, "tax_id"),
        ({"funding_source": ["lottery"]}, "funding_source"),
        ({"agreements": ["everything"]}, "agreements"),
        ({"email_address": "not-an-email"}, "email_address"),
    ],
)
def test_each_invalid_field_is_a_400_with_field_errors_and_nothing_is_written(alice, alice_api, change, field):
    response = alice_api.put("/api/v1/kyc", {**COMPLETE_DRAFT, **change})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and field in response.json()["fields"]
    assert not KYCApplication.objects.filter(user=alice, given_name="Alice").exists()
    assert not AuditEvent.objects.filter(action="kyc.draft_saved").exists()


def test_submitting_an_incomplete_application_lists_what_is_missing(alice_api):
    alice_api.put("/api/v1/kyc", {"given_name": "Alice"})
    response = alice_api.post("/api/v1/kyc/submit")
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert {"family_name", "tax_id", "documents", "agreements"} <= set(fields)
    assert alice_api.get("/api/v1/kyc").json()["status"] == "draft"


def test_a_submitted_application_cannot_be_changed_or_submitted_again(alice, alice_api, alice_submitted):
    response = alice_api.put("/api/v1/kyc", {"given_name": "Mallory"})
    assert response.status_code == 409
    assert response.json() == {
        "code": "kyc_not_editable",
        "message": "The application is submitted and can no longer be changed.",
    }
    response = alice_api.post("/api/v1/kyc/submit")
    assert response.status_code == 409 and response.json()["code"] == "kyc_already_submitted"
    upload = SimpleUploadedFile("back.pdf", PDF_BYTES, content_type="application/pdf")
    response = alice_api.post("/api/v1/kyc/documents", {"document_type": "id_back", "file": upload}, format="multipart")
    assert response.status_code == 409 and response.json()["code"] == "kyc_not_editable"
    assert alice_submitted.documents.count() == 2
    assert KYCApplication.objects.get(user=alice).given_name == "Alice"


def test_action_required_shows_the_requested_items_and_allows_editing(alice, alice_api, alice_submitted, carol):
    services.kyc_request_action(
        application=alice_submitted, actor=carol, reason="Blurry ID", requested_documents=["id_front"]
    )
    body = alice_api.get("/api/v1/kyc").json()
    assert (body["status"], body["requested_documents"], body["requested_fields"]) == (
        "action_required",
        ["id_front"],
        [],
    )
    _upload(alice_api, "id_front")
    assert alice_api.post("/api/v1/kyc/submit").json()["status"] == "submitted"


def test_users_only_ever_see_their_own_application(alice, bob, api_client):
    KYCApplicationFactory(user=alice)
    api_client.force_authenticate(bob)
    assert api_client.get("/api/v1/kyc").status_code == 404


def test_anonymous_requests_are_401(api_client):
    assert api_client.get("/api/v1/kyc").status_code == 401
    assert api_client.put("/api/v1/kyc", {"given_name": "x"}).status_code == 401
