"""Project-wide test fixtures: named people (alice, bob, carol) and API clients.

Tests run against the real PostgreSQL and Redis (see `make test`); this file refuses
to run the suite anywhere else, so a green run always means "works on PostgreSQL".
"""

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from hypothesis import settings as hypothesis_settings
from rest_framework import throttling  # noqa: F401
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from accounts.tests.sessions import mfa_client
from marketdata.selectors import asset_cache_clear, previous_closes_cache_clear

# `rest_framework.throttling` is imported above on purpose: its throttles keep
# `timer = time.time` as a class attribute, and if the module were first imported inside
# a freezegun block that attribute would become freezegun's Python function, which then
# binds as a method and breaks every throttled request in the rest of the run.

# CI replays the same examples every run (a red CI is reproducible); local runs explore.
# Database-backed examples are slow, so no per-example deadline in either.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("dev", deadline=None, print_blob=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql" or not settings.REDIS_URL:
        raise pytest.UsageError(
            "The test suite runs against PostgreSQL and Redis: use `make test` "
            "(DATABASE_URL and REDIS_URL must point at them)."
        )


@pytest.fixture(autouse=True)
def _empty_redis():
    """Each test starts with an empty cache and channel layer (the test Redis database),
    and empty per-process asset and previous-close caches (test rollbacks send no signals)."""
    cache.clear()
    asset_cache_clear()
    previous_closes_cache_clear()


@pytest.fixture(autouse=True)
def _private_media_in_tmp(settings, tmp_path):
    """KYC uploads and account documents go to a per-test directory, never the checkout's var/private."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.ACCOUNT_DOCUMENTS_ROOT = tmp_path / "documents"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com", first_name="Alice")


@pytest.fixture
def bob(db):
    return UserFactory(email="bob@example.com", first_name="Bob")


@pytest.fixture
def carol(db):
    """Compliance staff."""
    return UserFactory(email="carol@example.com", first_name="Carol", staff_group="Compliance")


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def alice_api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


@pytest.fixture
def carol_admin(carol):
    """Carol's browser session after a password + TOTP login: what the admin requires of staff."""
    return mfa_client(carol)


def pytest_collection_modifyitems(items):
    """Every test that commits restores the migrated rows (`serialized_rollback=True`). One that does not ends
    with a flush that re-creates content types, and every later serialized test then fails at setup with a
    duplicate key: a whole run of errors far from their cause."""
    offenders = []
    for item in items:
        marker = item.get_closest_marker("django_db")
        commits = "transactional_db" in item.fixturenames or bool(marker and marker.kwargs.get("transaction"))
        if commits and not (marker and marker.kwargs.get("serialized_rollback")):
            offenders.append(item.nodeid)
    if offenders:
        raise pytest.UsageError(
            "Mark these django_db(transaction=True, serialized_rollback=True):\n" + "\n".join(offenders)
        )
