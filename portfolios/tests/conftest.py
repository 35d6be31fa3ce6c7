from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from freezegun import freeze_time

from accounts.tests.factories import approved_customer
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory

# A Wednesday during regular hours; T+1 is Thursday 2026-03-05.
WEDNESDAY = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _ledger_balanced_at_end_of_test(request):
    """Check every journal entry a test wrote the way PostgreSQL checks it at commit.

    Tests run inside a transaction that is rolled back, so the deferred balance
    triggers would never fire; switching them to IMMEDIATE at the end checks,
    retroactively, every entry the test inserted.
    """
    yield
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        with connection.cursor() as cursor:
            cursor.execute(
                "SET CONSTRAINTS portfolios_journalline_balanced, portfolios_journalentry_balanced IMMEDIATE"
            )


@pytest.fixture
def alice_account(alice):
    """Alice's cash account, approved by compliance (only approved accounts move money)."""
    return approved_customer(alice)


@pytest.fixture
def bob_account(bob):
    return approved_customer(bob)


@pytest.fixture
def funded(alice_account):
    """Alice's cash account with $1,000 of settled cash, deposited the week before WEDNESDAY."""
    with freeze_time(WEDNESDAY - timedelta(days=10)):
        deposit_settled_post(account=alice_account, amount=Decimal("1000.00"))
    return alice_account


@pytest.fixture
def acme(db):
    return AssetFactory(symbol="ACME", reference_price=Decimal("10.00"))


@pytest.fixture
def btc(db):
    return AssetFactory(crypto=True, reference_price=Decimal("50000.00"))
