from datetime import UTC, datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time

from accounts.tests.factories import UserFactory, approved_customer
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from trading.brokers import base
from trading.brokers.paper import paper_book_reset
from trading.tests.conftest import quote, scripted_venue  # noqa: F401  (a fixture these tests use)

# Wednesday 4 March 2026, 10:00 New York: the market is open; the trade settles Thursday 5 March (T+1).
WEDNESDAY = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_venue():
    paper_book_reset()
    base.brokers_reset()
    yield
    paper_book_reset()
    base.brokers_reset()


@pytest.fixture
def market_open():
    with freeze_time(WEDNESDAY, tick=True) as frozen:
        yield frozen


@pytest.fixture
def alice_account(alice, market_open):
    account = approved_customer(alice)
    deposit_settled_post(account=account, amount=Decimal("1000.00"))
    return account


@pytest.fixture
def acme(db, market_open):
    asset = AssetFactory(symbol="ACME", name="Acme Corp", reference_price=Decimal("10.00"))
    quote(symbol="ACME", bid="9.99", ask="10.01")
    return asset


@pytest.fixture
def dave(db):
    """A second compliance officer (carol is the first)."""
    return UserFactory(email="dave@example.com", first_name="Dave", staff_group="Compliance")
