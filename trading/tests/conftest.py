from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import TestCase
from freezegun import freeze_time

from accounts.tests.factories import approved_customer
from marketdata.quotes import Quote, store_quotes
from portfolios.models import LedgerAccount
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from trading.brokers import base
from trading.brokers.paper import paper_book_reset
from trading.models import Order
from trading.paper_fills import on_ticks
from trading.risk import OrderRequest
from trading.services import order_cancel, order_place
from trading.tests.venues import ScriptedVenue

# Wednesday 2026-03-04, 10:00 New York: the equity market is open.
MARKET_OPEN = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
# The same Wednesday, 18:00 New York: closed; the next session opens Thursday 09:30.
MARKET_CLOSED = datetime(2026, 3, 4, 23, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_paper_book():
    paper_book_reset()
    base.brokers_reset()
    yield
    paper_book_reset()
    base.brokers_reset()


@pytest.fixture
def scripted_venue(settings):
    """Stocks route to a ScriptedVenue (this process's adapter for the name "scripted")."""
    venue = ScriptedVenue("scripted")
    settings.BROKER_US_EQUITY = "scripted"
    base._INSTANCES["scripted"] = venue
    return venue


@pytest.fixture
def market_open():
    with freeze_time(MARKET_OPEN, tick=True) as frozen:
        yield frozen


@pytest.fixture
def market_closed():
    with freeze_time(MARKET_CLOSED, tick=True) as frozen:
        yield frozen


def fill(account, asset, qty, price="10.00", side="buy"):
    """A fill booked straight to the account (a position to sell, or one sold elsewhere), at no fee."""
    from django.utils import timezone

    from portfolios.services import fill_apply

    return fill_apply(
        account=account,
        asset=asset,
        side=side,
        qty=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(0),
        executed_at=timezone.now(),
        cause=None,
    )


@pytest.fixture
def alice_browser(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def alice_account(alice):
    account = approved_customer(alice)
    deposit_settled_post(account=account, amount=Decimal("1000.00"))
    return account


@pytest.fixture
def acme(db):
    return AssetFactory(symbol="ACME", reference_price=Decimal("10.00"))


def quote(symbol="ACME", bid="9.99", ask="10.01", bid_size="100", ask_size="100", at=None) -> Quote:
    from django.utils import timezone

    q = Quote(
        symbol=symbol,
        bid=Decimal(bid),
        ask=Decimal(ask),
        bid_size=Decimal(bid_size),
        ask_size=Decimal(ask_size),
        last=Decimal(bid),
        timestamp=at or timezone.now(),
    )
    store_quotes([q])
    return q


def place(account, **fields) -> Order:
    """Place an order (a day market buy of ACME unless `fields` say otherwise) and return it as submitted."""
    defaults = {"symbol": "ACME", "side": "buy", "type": "market", "time_in_force": "day"}
    with TestCase.captureOnCommitCallbacks(execute=True):  # queues and runs submit_order, as after a commit
        order, _ = order_place(account=account, request=OrderRequest(**{**defaults, **fields}))
    order.refresh_from_db()
    return order


def tick(*orders: Order, **quote_fields) -> None:
    """One quote through the paper venue's books, as the feed delivers it, then re-read `orders`."""
    with TestCase.captureOnCommitCallbacks(execute=True):  # activated legs are submitted after commit
        on_ticks([quote(**quote_fields)])
    for order in orders:
        order.refresh_from_db()


def cancel(account, order: Order, *others: Order) -> None:
    """Cancel `order` (the cancel task runs, as after a commit), then re-read it and `others`."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        order_cancel(account=account, order_id=order.id)
    for each in (order, *others):
        each.refresh_from_db()


def cash(account) -> LedgerAccount:
    return LedgerAccount.objects.get(account=account, kind=LedgerAccount.Kind.CASH)
