import time

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client

from accounts import services
from accounts.tests.factories import KYCApplicationFactory, UserFactory
from portfolios.services import account_open


@pytest.fixture(autouse=True)
def _private_media_in_tmp(settings, tmp_path):
    """KYC uploads go to a per-test directory, never the checkout's var/private."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def dave(db):
    """Support staff: may look, may not decide."""
    return UserFactory(email="dave@example.com", first_name="Dave", staff_group="Support")


def mfa_client(user) -> Client:
    """A browser session of `user` that logged in with password and TOTP (as allauth records it)."""
    TOTP.activate(user, generate_totp_secret())
    client = Client()
    client.force_login(user)
    session = client.session
    now = time.time()
    session["account_authentication_methods"] = [
        {"method": "password", "at": now, "email": user.email},
        {"method": "mfa", "at": now, "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


@pytest.fixture
def carol_admin(carol):
    return mfa_client(carol)


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
