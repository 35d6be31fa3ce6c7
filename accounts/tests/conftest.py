import pytest

from accounts import services
from accounts.tests.factories import KYCApplicationFactory, UserFactory
from accounts.tests.sessions import mfa_client
from portfolios.services import account_open


@pytest.fixture
def dave(db):
    """Support staff: may look, may not decide."""
    return UserFactory(email="dave@example.com", first_name="Dave", staff_group="Support")


@pytest.fixture
def dave_admin(dave):
    return mfa_client(dave)


@pytest.fixture
def alice_account(alice):
    return account_open(user=alice)


@pytest.fixture
def alice_submitted(alice, alice_account):
    """Alice's complete application, submitted to the compliance queue."""
    KYCApplicationFactory(user=alice)
    return services.kyc_submit(user=alice)
