"""Whatever staff and the customer do, in any order, the history stays a consistent chain
and the account trades if and only if the application is approved."""

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services
from accounts.models import KYCApplication
from accounts.tests.factories import KYCApplicationFactory, UserFactory
from portfolios.selectors import trading_refusal_reason
from portfolios.services import account_open
from speedtrade.errors import DomainError

pytestmark = pytest.mark.django_db

ACTIONS = ["submit", "edit", "review", "approve", "reject", "request_action"]


def _perform(action, application, customer, officer):
    if action == "submit":
        services.kyc_submit(user=customer)
    elif action == "edit":
        services.kyc_draft_save(user=customer, changes={"city": "Oakland"})
    elif action == "review":
        services.kyc_review_start(application=application, actor=officer)
    elif action == "approve":
        services.kyc_approve(application=application, actor=officer, reason="ok")
    elif action == "reject":
        services.kyc_reject(application=application, actor=officer, reason="no")
    else:
        services.kyc_request_action(application=application, actor=officer, reason="more", requested_fields=["city"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(st.sampled_from(ACTIONS), max_size=8))
def test_any_sequence_keeps_history_and_trading_consistent(carol, actions):
    customer = UserFactory()
    account = account_open(user=customer)
    application = KYCApplicationFactory(user=customer)
    for action in actions:
        with contextlib.suppress(DomainError):
            _perform(action, application, customer, carol)
    application = KYCApplication.objects.get(pk=application.pk)
    changes = list(application.status_changes.order_by("created_at", "id"))
    expected_from = "draft"
    for change in changes:
        assert change.from_status == expected_from
        assert change.to_status in KYCApplication.ALLOWED_TRANSITIONS[change.from_status]
        expected_from = change.to_status
    assert application.status == expected_from
    account.refresh_from_db()
    assert (trading_refusal_reason(account=account) is None) == (application.status == "approved")
