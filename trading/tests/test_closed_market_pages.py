"""The trade page on a closed market (issue 18 items 1 and 2): the status in the header and on the page, the
last trade with its time, "At close", and a ticket whose review and confirmation say the order waits for
the open — and, in open hours, that it is sent now."""

import re
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time

from trading.models import Order
from trading.tests.conftest import quote
from trading.tests.test_pages import ticket

pytestmark = pytest.mark.django_db
SUNDAY = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
FRIDAY_7_59_PM = datetime(2026, 12, 5, 0, 59, tzinfo=UTC)


@pytest.fixture
def alice_browser(client, alice):
    client.force_login(alice)
    return client


def review_five_dollars(client) -> str:
    return client.post(
        "/orders/ticket/", ticket(client, notional="5", step="review"), HTTP_HX_REQUEST="true"
    ).content.decode()


@pytest.fixture
def sunday():
    with freeze_time(SUNDAY, tick=True) as frozen:
        yield frozen


def test_on_sunday_the_trade_page_says_closed_and_shows_the_last_trade_with_its_time(
    alice_browser, alice_account, acme, sunday
):
    quote(bid="9.90", ask="9.92", at=FRIDAY_7_59_PM)
    html = alice_browser.get("/trade/ACME/").content.decode()

    assert html.count('class="market-status" data-phase="closed"') == 2  # header and quote panel
    assert "Opens Mon 9:30 AM ET." in html
    assert re.search(r'id="last-price">\$9.90<', html)
    assert re.search(r'<time [^>]*id="last-at">Fri 7:59 PM ET</time>', html)
    assert 'id="change-label">At close<' in html and ">After hours<" in html
    assert "Stale quote" not in html  # no alarm: the market is shut, the time says how old the price is


def test_a_market_buy_on_sunday_is_reviewed_and_confirmed_as_queued_for_the_open(
    alice_browser, alice_account, acme, sunday, django_capture_on_commit_callbacks
):
    quote(bid="9.90", ask="9.92", at=FRIDAY_7_59_PM)
    review = alice_browser.post(
        "/orders/ticket/", ticket(alice_browser, notional="5", step="review"), HTTP_HX_REQUEST="true"
    )
    assert re.search(
        r'id="order-timing">Queued for the open, Mon 9:30 AM ET, at the opening price, which can differ',
        review.content.decode(),
    )

    fields = ticket(alice_browser, notional="5", step="place")
    with django_capture_on_commit_callbacks(execute=True):
        placed = alice_browser.post("/orders/ticket/", fields, HTTP_HX_REQUEST="true").content.decode()

    assert Order.objects.get().is_open  # waiting, not filled at Friday's price
    assert "Queued for the open, Mon 9:30 AM ET — it will fill at the opening price" in placed


def test_in_open_hours_the_review_says_the_order_is_sent_now(alice_browser, alice_account, acme, market_open):
    quote(bid="9.99", ask="10.01")
    review = alice_browser.post(
        "/orders/ticket/", ticket(alice_browser, notional="5", step="review"), HTTP_HX_REQUEST="true"
    )
    assert 'id="order-timing">Sent to the market now, at the market price<' in review.content.decode()
    assert 'data-phase="open"' in alice_browser.get("/orders/").content.decode()  # the header, on every page
