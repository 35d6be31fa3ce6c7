"""Fixtures for apps whose tests trade on one open Wednesday through the paper venue (recurring, documents):
a funded, approved alice and ACME quoted at 9.99 / 10.01. Their conftests import these names."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time

from accounts.tests.factories import approved_customer
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from trading.brokers import base
from trading.brokers.paper import paper_book_reset
from trading.tests.conftest import quote

# Wednesday 4 March 2026, 10:00 New York: the session opened at 09:30; a trade settles Thursday 5 March (T+1).
WEDNESDAY_OPEN = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_venue():
    paper_book_reset()
    base.brokers_reset()
    yield
    paper_book_reset()
    base.brokers_reset()


@pytest.fixture
def market_open():
    with freeze_time(WEDNESDAY_OPEN, tick=True) as frozen:
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
