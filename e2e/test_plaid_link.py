"""Linking a bank with BANK_RAIL=plaid, in the browser, up to the Link step: the transfers page
asks our server for a Link token (plaid-python against the recorded Plaid sandbox on
127.0.0.1) and hands it to Plaid Link; when Plaid's script cannot load, the page says so
and the rest of the page keeps working. Past the Link step: portfolios/tests/test_plaid_*.py.
"""

import pytest
from playwright.sync_api import expect

from accounts.models import KYCApplication
from accounts.tests.factories import UserFactory, approved_customer
from e2e.support import e2e, signed_in_page
from portfolios.tests.plaid_sandbox import PlaidSandbox

pytestmark = e2e

# Stands in for cdn.plaid.com's link-initialize.js inside the browser only: records what
# our page hands to Plaid.create and what it asks Link to do.
PLAID_LINK_STUB = """
window.Plaid = {create(config) {
  window.plaidLinkToken = config.token;
  return {open() { document.documentElement.dataset.plaidLinkOpened = "true"; }};
}};
"""


@pytest.fixture
def alice_walker(transactional_db):
    alice = UserFactory(email="alice@speedtrade.test", first_name="Alice")
    approved_customer(alice)
    KYCApplication.objects.filter(user=alice).update(given_name="Alice", family_name="Walker")
    return alice


@pytest.fixture
def plaid_sandbox():
    with PlaidSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def e2e_environment(alice_walker, plaid_sandbox) -> dict[str, str]:
    return {
        "BANK_RAIL": "plaid",
        "PLAID_CLIENT_ID": "5f9b3c1e8e1f2a0013a4b5c6",
        "PLAID_SECRET": "sandbox-secret-for-tests",
        "PLAID_API_URL": plaid_sandbox.url,
    }


def test_link_a_bank_gets_a_link_token_from_our_server_and_opens_plaid_link(
    browser, e2e_server, alice_walker, plaid_sandbox
):
    plaid_sandbox.answer("/link/token/create", "link_token_create")
    page = signed_in_page(browser, e2e_server, alice_walker)
    page.route(
        "https://cdn.plaid.com/**", lambda route: route.fulfill(content_type="text/javascript", body=PLAID_LINK_STUB)
    )
    page.goto("/transfers/")
    expect(page.get_by_role("heading", name="Bank accounts")).to_be_visible()
    expect(page.get_by_text("No bank linked yet")).to_be_visible()

    page.get_by_role("button", name="Link a bank").click()

    # Waited for through the DOM: the page's CSP forbids eval, which a polled JS predicate would need.
    expect(page.locator("html")).to_have_attribute("data-plaid-link-opened", "true")
    assert page.evaluate("window.plaidLinkToken") == "link-sandbox-af1a0311-da53-4636-b754-dd15cc058176"
    (request,) = plaid_sandbox.requests_to("/link/token/create")
    assert request["products"] == ["auth", "identity", "transfer"]
    assert request["user"] == {"client_user_id": str(alice_walker.pk)}


def test_when_plaid_link_cannot_load_the_page_says_so_and_keeps_working(
    browser, e2e_server, alice_walker, plaid_sandbox
):
    page = signed_in_page(browser, e2e_server, alice_walker)
    page.route("https://cdn.plaid.com/**", lambda route: route.abort())
    page.goto("/transfers/")

    page.get_by_role("button", name="Link a bank").click()

    expect(page.locator("[data-bank-link-status]")).to_contain_text("Plaid Link could not load")
    assert plaid_sandbox.requests == []  # no Link token is made for a Link that cannot open
    expect(page.get_by_role("button", name="Submit transfer")).to_be_enabled()
    expect(page.get_by_role("button", name="Link a bank")).to_be_enabled()
