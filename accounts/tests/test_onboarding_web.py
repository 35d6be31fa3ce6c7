"""The server-rendered onboarding: steps, inline errors, submission and status page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import KYCApplication
from accounts.tests.factories import PDF_BYTES

pytestmark = pytest.mark.django_db

CONTACT = {
    "email_address": "alice@example.com",
    "phone_number": "+1 555 010 0100",
    "street_address": "20 N San Mateo Dr",
    "unit": "",
    "city": "San Mateo",
    "state": "CA",
    "postal_code": "94401",
    "country": "US",
}
IDENTITY = {
    "given_name": "Alice",
    "family_name": "Liddell",
    "date_of_birth": "1990-01-15",
    "tax_id_type": "USA_SSN",
    "tax_id": "123-45-6789",
    "country_of_citizenship": "US",
    "country_of_tax_residence": "US",
    "funding_source": ["savings"],
}
DISCLOSURES = {
    "is_control_person": "false",
    "is_affiliated_exchange_or_finra": "false",
    "is_politically_exposed": "false",
    "immediate_family_exposed": "false",
}


@pytest.fixture
def browser(alice, alice_account):
    client = Client()
    client.force_login(alice)
    return client


def _step(name):
    return reverse("onboarding:step", kwargs={"step": name})


def test_the_whole_journey_from_contact_to_submitted(alice, browser):
    assert "Start" in browser.get(reverse("onboarding:status")).content.decode()
    assert browser.post(_step("contact"), CONTACT)["Location"] == _step("identity")
    assert browser.post(_step("identity"), IDENTITY)["Location"] == _step("disclosures")
    assert browser.post(_step("disclosures"), DISCLOSURES)["Location"] == reverse("onboarding:agreements")
    response = browser.post(reverse("onboarding:agreements"), {"customer": "on", "account": "on"})
    assert response["Location"] == reverse("onboarding:documents")
    for document_type in ("id_front", "proof_of_address"):
        upload = SimpleUploadedFile("doc.pdf", PDF_BYTES, content_type="application/pdf")
        browser.post(reverse("onboarding:documents"), {"document_type": document_type, "file": upload})
    review = browser.get(reverse("onboarding:review")).content.decode()
    assert "•••••6789" in review and "123-45-6789" not in review
    response = browser.post(reverse("onboarding:review"))
    assert response["Location"] == reverse("onboarding:status")
    assert KYCApplication.objects.get(user=alice).status == "submitted"
    assert "reviewing your application" in browser.get(reverse("onboarding:status")).content.decode()


@pytest.mark.parametrize(
    ("step", "data", "field", "message"),
    [
        ("contact", {**CONTACT, "postal_code": "ABC"}, "postal_code", "A US ZIP code has 5 digits"),
        ("contact", {**CONTACT, "state": "XX"}, "state", "Not a US state code"),
        ("contact", {**CONTACT, "country": "XX"}, "country", "Select a valid choice"),
        ("identity", {**IDENTITY, "date_of_birth": "2015-01-01"}, "date_of_birth", "at least 18 years old"),
        ("identity", {**IDENTITY, "date_of_birth": "1990-13-01"}, "date_of_birth", "Enter a valid date"),
        ("identity", {**IDENTITY, "tax_id": "12"}, "tax_id", "nine digits"),
        ("disclosures", {}, "is_control_person", "This field is required"),
    ],
)
def test_invalid_input_is_shown_next_to_its_field_and_nothing_is_saved(alice, browser, step, data, field, message):
    response = browser.post(_step(step), data)
    assert response.status_code == 200
    content = response.content.decode()
    assert message in content
    assert f'id="id_{field}_error"' in content or f'aria-describedby="id_{field}_error"' in content
    application = KYCApplication.objects.filter(user=alice).first()
    assert application is None or application.given_name == "" and application.postal_code == ""


def test_labels_are_rendered_for_every_field(browser):
    content = browser.get(_step("identity")).content.decode()
    for field in ("given_name", "date_of_birth", "tax_id"):
        assert f'<label for="id_{field}"' in content


def test_submitting_an_incomplete_application_lists_the_gaps(browser):
    browser.post(_step("contact"), CONTACT)
    response = browser.post(reverse("onboarding:review"))
    content = response.content.decode()
    assert response.status_code == 200 and "not complete yet" in content and "family_name" in content


def test_the_status_page_shows_what_compliance_asked_for(alice, alice_submitted, carol, browser):
    services.kyc_request_action(
        application=alice_submitted,
        actor=carol,
        reason="The ID photo is blurred.",
        requested_documents=["id_front"],
        requested_fields=["postal_code"],
    )
    content = browser.get(reverse("onboarding:status")).content.decode()
    assert "The ID photo is blurred." in content and "ID (front)" in content
    assert "Postal code" in content and "postal_code" not in content
    # The user can edit again and the request stays visible on the steps.
    assert "The ID photo is blurred." in browser.get(_step("contact")).content.decode()


def test_a_submitted_application_redirects_the_steps_to_the_status_page(browser, alice_submitted):
    response = browser.post(_step("contact"), CONTACT)
    assert response["Location"] == reverse("onboarding:status")


def test_anonymous_visitors_must_log_in():
    response = Client().get(_step("contact"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_unknown_steps_are_404(browser):
    assert browser.get(_step("hobbies")).status_code == 404
