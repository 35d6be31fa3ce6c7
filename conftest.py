"""Project-wide test fixtures: named people (alice, bob, carol) and API clients.

Tests run against the real PostgreSQL and Redis (see `make test`); this file refuses
to run the suite anywhere else, so a green run always means "works on PostgreSQL".
"""

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql" or not settings.REDIS_URL:
        raise pytest.UsageError(
            "The test suite runs against PostgreSQL and Redis: use `make test` "
            "(DATABASE_URL and REDIS_URL must point at them)."
        )


@pytest.fixture(autouse=True)
def _empty_redis():
    """Each test starts with an empty cache and channel layer (the test Redis database)."""
    cache.clear()


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
