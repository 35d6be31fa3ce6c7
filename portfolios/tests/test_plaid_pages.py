"""The transfers page with BANK_RAIL=plaid: "Link a bank", the Link token, the exchange."""

import pytest

from accounts.models import KYCApplication
from accounts.tests.factories import approved_customer
from portfolios.models import BankLink
from portfolios.tests.test_plaid_bank_rail import PLAID_ACCOUNT_ID, sandbox  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_browser(client, alice):
    approved_customer(alice)
    KYCApplication.objects.filter(user=alice).update(given_name="Alice", family_name="Walker")
    client.force_login(alice)
    return client


def test_the_transfers_page_offers_link_a_bank_with_plaids_script_only_there(sandbox, alice_browser):  # noqa: F811
    page = alice_browser.get("/transfers/").content.decode()
    assert (
        "Link a bank" in page and 'data-link-script="https://cdn.plaid.com/link/v2/stable/link-initialize.js"' in page
    )
    assert "js/bank_link.js" in page and "No bank linked yet" in page
    assert "cdn.plaid.com" not in alice_browser.get("/").content.decode()


def test_the_simulated_rail_shows_no_bank_linking(settings, alice_browser):
    settings.BANK_RAIL = "simulated"
    page = alice_browser.get("/transfers/").content.decode()
    assert "Link a bank" not in page and "cdn.plaid.com" not in page
    assert alice_browser.post("/transfers/bank/link-token/").status_code == 404


def test_link_token_then_exchange_links_the_bank(sandbox, alice_browser, alice):  # noqa: F811
    sandbox.answer("/link/token/create", "link_token_create")
    response = alice_browser.post("/transfers/bank/link-token/")
    assert response.json() == {"link_token": "link-sandbox-af1a0311-da53-4636-b754-dd15cc058176"}
    request = sandbox.requests_to("/link/token/create")[0]
    assert request["user"] == {"client_user_id": str(alice.pk)}
    assert request["products"] == ["auth", "identity", "transfer"]

    sandbox.answer("/item/public_token/exchange", "item_public_token_exchange")
    sandbox.answer("/auth/get", "auth_get")
    sandbox.answer("/identity/get", "identity_get_mismatch")
    response = alice_browser.post(
        "/transfers/bank/exchange/",
        {
            "public_token": "public-sandbox-b0e2c4ee",
            "account_id": PLAID_ACCOUNT_ID,
            "institution_name": "First Platypus Bank",
        },
    )
    assert response.status_code == 200 and response.json()["status"] == "held"
    assert "compliance will review" in response.json()["message"]
    assert BankLink.objects.get().account.user == alice
    assert "Under review" in alice_browser.get("/transfers/").content.decode()


def test_a_rate_limited_link_token_says_busy(sandbox, alice_browser):  # noqa: F811
    sandbox.answer("/link/token/create", "error_rate_limit", status=429)
    response = alice_browser.post("/transfers/bank/link-token/")
    assert response.status_code == 503 and response.json()["code"] == "busy"


def test_the_exchange_needs_its_fields_and_writes_nothing_without_them(sandbox, alice_browser):  # noqa: F811
    assert alice_browser.post("/transfers/bank/exchange/", {"public_token": "x"}).status_code == 400
    assert not BankLink.objects.exists() and sandbox.requests == []
