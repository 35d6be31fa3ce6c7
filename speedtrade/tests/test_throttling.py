"""The API's request budgets: a user over the minute's budget is refused in the common error format with when to
come back, and served again in the next minute; another user's budget is their own."""

import pytest
from rest_framework.throttling import UserRateThrottle

from speedtrade.api.throttling import FixedWindowThrottle

pytestmark = pytest.mark.django_db

MINUTE_START = 1_800_000_000.0  # a window boundary (a multiple of 60)


@pytest.fixture
def clock(monkeypatch):
    """The throttles' clock, 20 s into a minute."""
    now = [MINUTE_START + 20]
    monkeypatch.setattr(FixedWindowThrottle, "timer", lambda self: now[0])
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {**UserRateThrottle.THROTTLE_RATES, "user": "3/min"})
    return now


def test_a_user_over_the_minutes_budget_is_refused_until_the_next_minute(alice_api, clock):
    assert [alice_api.get("/api/v1/clock").status_code for _ in range(3)] == [200, 200, 200]

    refused = alice_api.get("/api/v1/clock")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert refused["Retry-After"] == "40"  # the window ends at the minute

    clock[0] = MINUTE_START + 60
    assert alice_api.get("/api/v1/clock").status_code == 200


def test_each_user_has_a_budget_of_their_own(alice_api, bob, clock):
    from rest_framework.test import APIClient

    for _ in range(4):
        alice_api.get("/api/v1/clock")
    bob_api = APIClient()
    bob_api.force_authenticate(bob)
    assert bob_api.get("/api/v1/clock").status_code == 200
