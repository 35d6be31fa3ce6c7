"""Issue 18 item 5: until compliance approves them, a new customer's Home is the checklist that leads to
approval (each step's state and the one next thing to do), and every refusal with a next step links to it."""

import pytest

from accounts import services as accounts_services
from accounts.models import KYCApplication
from accounts.tests.factories import KYCApplicationFactory
from portfolios.services import account_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_browser(client, alice):
    account_open(user=alice)  # sign-up opens the account; it cannot trade or move money yet
    client.force_login(alice)
    return client


def checklist(html: str) -> str:
    start = html.index('id="onboarding-progress"')
    return html[start : html.index("</section>", start)]


def test_a_new_customer_is_led_to_start_the_application_not_to_a_first_trade(alice_browser):
    html = alice_browser.get("/").content.decode()
    steps = checklist(html)
    assert "Not started" in steps
    assert 'id="onboarding-next"' in steps and 'href="/onboarding/contact/"' in steps
    assert "Start your application" in steps
    assert "Make your first trade" not in html


def test_a_half_done_application_shows_what_is_done_and_continues_at_the_first_gap(alice_browser, alice):
    KYCApplicationFactory(user=alice, documents=False)
    steps = checklist(alice_browser.get("/").content.decode())
    assert steps.count("(done)") == 4  # contact, identity, disclosures, agreements
    assert "Continue: Identity documents" in steps and 'href="/onboarding/documents/"' in steps
    assert "In progress" in steps


def test_a_submitted_application_says_it_is_being_reviewed(alice_browser, alice):
    KYCApplicationFactory(user=alice)
    accounts_services.kyc_submit(user=alice)
    steps = checklist(alice_browser.get("/").content.decode())
    assert "Submitted — waiting for review" in steps
    assert "reviewing your application" in steps
    assert 'id="onboarding-next"' not in steps


def test_a_requested_change_is_named_in_words_the_customer_uses(alice_browser, alice, carol):
    application = KYCApplicationFactory(user=alice)
    accounts_services.kyc_submit(user=alice)
    accounts_services.kyc_request_action(
        application=application,
        actor=carol,
        reason="Your proof of address is older than three months.",
        requested_documents=["proof_of_address"],
        requested_fields=["postal_code"],
    )
    html = alice_browser.get("/").content.decode()
    assert "Action required" in checklist(html)
    assert "Document: Proof of address" in html and "Field: Postal code" in html
    assert "proof_of_address" not in html and "postal_code" not in html


def test_an_approved_customer_gets_the_account_home(client, alice):
    from accounts.tests.factories import approved_customer

    approved_customer(alice)
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert 'id="onboarding-progress"' not in html and 'id="account-live"' in html
    assert KYCApplication.objects.get(user=alice).status == "approved"


def test_the_ticket_and_trade_page_link_an_applicant_to_the_application(alice_browser, alice):
    from portfolios.tests.factories import AssetFactory

    AssetFactory(symbol="ACME")
    html = alice_browser.get("/trade/ACME/").content.decode()
    assert "Trading opens once your account application is approved" in html
    assert 'data-next-step="onboarding"' in html and 'href="/onboarding/"' in html
