"""Home and Transfers pages: login required, own data only, figures from the valuation selector,
error paths that show the message and write nothing, and a fixed number of queries on Home."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import approved_customer, restriction_set
from marketdata.selectors import previous_closes_cache_clear
from portfolios.models import Transfer
from portfolios.pricing import prices_for
from portfolios.selectors import account_valuation, assets_held
from portfolios.services import fill_apply
from portfolios.tests.factories import AssetFactory
from portfolios.tests.helpers import ledger_row_count

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def alice_browser(client, alice):
    client.force_login(alice)
    return client


def buy(account, asset, qty, price):
    fill_apply(
        account=account,
        asset=asset,
        side="buy",
        qty=D(qty),
        price=D(price),
        fee=D(0),
        executed_at=timezone.now(),
        cause=None,
    )


@pytest.mark.parametrize("path", ["/", "/home/live/", "/transfers/"])
def test_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_home_without_an_account_points_to_onboarding(alice_browser):
    response = alice_browser.get("/")
    assert response.status_code == 200
    assert b"Start your application" in response.content


def test_home_shows_the_valuation_and_a_row_per_position(alice_browser, funded, acme, btc):
    buy(funded, acme, "3", "10.00")
    buy(funded, btc, "0.0002", "50000.00")
    prices, closes = prices_for(assets_held([funded]))
    valuation = account_valuation(account=funded, prices=prices, previous_closes=closes)

    html = alice_browser.get("/").content.decode()

    assert f"${valuation.equity:,.2f}" in html and f"${valuation.buying_power:,.2f}" in html
    assert '<table id="positions" class="stack">' in html
    assert 'data-symbol="ACME"' in html and 'data-symbol="BTC/USD"' in html
    assert ">0.0002<" in html  # crypto quantity with its own precision
    assert 'data-quote-symbol="BTC/USD" data-field="last"' in html


def test_home_costs_the_same_queries_for_one_or_many_positions(alice_browser, funded):
    buy(funded, AssetFactory(symbol="ONE"), "1", "10.00")
    alice_browser.get("/")  # the session's first page also records the browser session (allauth)
    previous_closes_cache_clear()  # both requests read every previous close (the new assets' are not cached)
    with CaptureQueriesContext(connection) as one:
        assert alice_browser.get("/").status_code == 200
    for symbol in ("TWO", "THREE", "FOUR"):
        buy(funded, AssetFactory(symbol=symbol), "1", "10.00")
    previous_closes_cache_clear()
    with CaptureQueriesContext(connection) as four:
        assert alice_browser.get("/").status_code == 200
    assert len(four) == len(one)


def test_the_live_partial_is_the_positions_and_orders_without_the_page(alice_browser, funded, acme):
    buy(funded, acme, "1", "10.00")
    response = alice_browser.get("/home/live/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and 'data-symbol="ACME"' in html and "<html" not in html


def test_another_users_home_data_never_shows(alice_browser, funded, bob, acme):
    from portfolios.services import deposit_settled_post

    bobs = approved_customer(bob)
    deposit_settled_post(account=bobs, amount=D("777.00"))
    buy(bobs, AssetFactory(symbol="BOBCO"), "1", "10.00")
    html = alice_browser.get("/").content.decode()
    assert "BOBCO" not in html and "777.00" not in html


def test_a_deposit_from_the_form(alice_browser, funded):
    response = alice_browser.post("/transfers/", {"direction": "incoming", "amount": "$1,250.50"})
    assert response.status_code == 302
    transfer = Transfer.objects.filter(account=funded).latest("created_at")
    assert (transfer.direction, transfer.amount) == ("incoming", D("1250.50"))
    assert "Deposit of $1,250.50 requested." in alice_browser.get("/transfers/").content.decode()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", "A valid number is required."),
        ("0", "Ensure this value is greater than or equal to 0.01."),
        ("1.234", "Ensure that there are no more than 2 decimal places."),
        ("5000.00", "You can withdraw at most $1,000.00"),
    ],
)
def test_a_refused_withdrawal_shows_why_and_writes_nothing(alice_browser, funded, amount, message):
    transfers_before, rows_before = Transfer.objects.count(), ledger_row_count()
    response = alice_browser.post("/transfers/", {"direction": "outgoing", "amount": amount})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert (Transfer.objects.count(), ledger_row_count()) == (transfers_before, rows_before)


def test_cancel_a_queued_transfer_but_not_someone_elses(alice_browser, funded, bob):
    from portfolios.services import transfer_create

    mine = transfer_create(account=funded, direction="incoming", amount=D("10.00"))
    theirs = transfer_create(account=approved_customer(bob), direction="incoming", amount=D("10.00"))
    assert alice_browser.post(f"/transfers/{theirs.pk}/cancel/").status_code == 404
    assert alice_browser.post(f"/transfers/{mine.pk}/cancel/").status_code == 302
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert (mine.status, theirs.status) == ("canceled", "queued")


def test_an_applicant_is_told_why_money_cannot_move_yet_and_where_to_go(client, alice):
    from accounts import services as accounts_services
    from accounts.tests.factories import KYCApplicationFactory
    from portfolios.services import account_open

    account_open(user=alice)
    KYCApplicationFactory(user=alice)
    accounts_services.kyc_submit(user=alice)
    client.force_login(alice)
    page = client.get("/transfers/").content.decode()
    assert "Moving money opens once your account application is approved" in page
    assert 'href="/onboarding/"' in page

    response = client.post("/transfers/", {"direction": "incoming", "amount": "50000"})
    assert response.status_code == 422
    assert "not possible on this account: KYC not approved" in response.content.decode()
    assert not Transfer.objects.exists()


def test_a_restricted_customer_reads_the_chosen_message_on_the_transfers_page(alice_browser, funded, carol):
    restriction_set(funded, actor=carol, kind="transfers", reason="Testing a transfers block")
    page = alice_browser.get("/transfers/").content.decode()
    assert "For your security, activity on this account is paused." in page
    assert "Testing" not in page and 'href="/onboarding/"' not in page
