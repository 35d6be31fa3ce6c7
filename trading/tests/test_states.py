"""The order state machine: terminal statuses are final, every move is an event, illegal moves raise."""

from decimal import Decimal

import pytest
from django.test import TestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading.models import OPEN_STATUSES, TERMINAL_STATUSES, OrderEvent, OrderStatus
from trading.services import order_cancel
from trading.states import TRANSITIONS, IllegalTransition, can_transition, order_transition
from trading.tests.conftest import place, quote


def test_terminal_statuses_have_no_way_out_and_every_open_status_can_end():
    for status in TERMINAL_STATUSES:
        assert TRANSITIONS[status] == frozenset()
    for status in OPEN_STATUSES:
        assert TRANSITIONS[status] & {OrderStatus.CANCELED, OrderStatus.FILLED, OrderStatus.EXPIRED}


@given(st.lists(st.sampled_from(list(OrderStatus)), max_size=30))
def test_any_walk_that_the_table_allows_never_leaves_a_terminal_status(steps):
    status = OrderStatus.NEW
    for target in steps:
        if can_transition(status, target):
            assert status not in TERMINAL_STATUSES
            status = target


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(list(OrderStatus)))
def test_a_canceled_order_refuses_every_move_and_writes_no_event(target, alice_account, acme, market_closed):
    quote(ask="10.00")
    order = place(alice_account, type="limit", qty=Decimal("1"), limit_price=Decimal("1.00"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        order_cancel(account=alice_account, order_id=order.id)
    order.refresh_from_db()
    events = OrderEvent.objects.filter(order=order).count()
    with pytest.raises(IllegalTransition):
        order_transition(order=order, to_status=target, event=target)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELED
    assert OrderEvent.objects.filter(order=order).count() == events
