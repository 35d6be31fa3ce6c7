import pytest

from accounts.tests.factories import UserFactory
from trading.tests.conftest import scripted_venue  # noqa: F401  (a fixture these tests use)
from trading.tests.trading_day import _fresh_venue, acme, alice_account, market_open  # noqa: F401  (fixtures)


@pytest.fixture
def dave(db):
    """A second compliance officer (carol is the first)."""
    return UserFactory(email="dave@example.com", first_name="Dave", staff_group="Compliance")
