from datetime import UTC, datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time

from accounts.tests.factories import approved_customer
from marketdata.quotes import Quote, store_quotes
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from trading.brokers import base
from trading.brokers.paper import paper_book_reset
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
