"""Issue 6: every customer order action is in the audit trail, written in the transaction of the change."""

from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from speedtrade.errors import DomainError
from trading.models import Order
from trading.risk import OrderRejected, OrderRequest
from trading.services import order_cancel, order_cancel_all, order_place, order_replace

pytestmark = pytest.mark.django_db


def limit_buy(**fields) -> OrderRequest:
    defaults = {"symbol": "ACME", "side": "buy", "type": "limit", "time_in_force": "day", "qty": Decimal(2)}
    return OrderRequest(**{**defaults, "limit_price": Decimal("9.00"), **fields})


def events(action: str = "trading.") -> list[AuditEvent]:
    """Order actions only (opening and approving the account wrote its own events before)."""
    return list(AuditEvent.objects.filter(action__startswith=action).order_by("created_at"))


def test_placing_an_order_records_who_placed_what(alice, alice_account, acme, market_open):
    order, _ = order_place(account=alice_account, request=limit_buy(client_order_id="mine-1"))
    [event] = events()
    assert event.action == "trading.order_placed"
    assert (event.actor, event.actor_type, event.subject_user) == (alice, AuditEvent.ActorType.USER, alice)
    assert (event.target_type, event.target_id) == ("trading.order", str(order.pk))
    assert event.after == {
        "symbol": "ACME",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "qty": "2",
        "notional": None,
        "limit_price": "9",
        "stop_price": None,
        "client_order_id": "mine-1",
    }
    assert event.ip_address is None and event.user_agent == ""  # no request in the service


def test_the_same_client_order_id_again_records_nothing_new(alice_account, acme, market_open):
    order_place(account=alice_account, request=limit_buy(client_order_id="once"))
    order_place(account=alice_account, request=limit_buy(client_order_id="once"))
    assert len(events()) == 1


def test_a_refused_order_records_nothing(alice_account, acme, market_open):
    with pytest.raises(OrderRejected):
        order_place(account=alice_account, request=limit_buy(qty=Decimal(500)))
    assert events() == [] and not Order.objects.exists()


def test_cancel_records_one_event_and_asking_again_none(alice, alice_account, acme, market_open):
    order, _ = order_place(account=alice_account, request=limit_buy())
    order_cancel(account=alice_account, order_id=order.pk)
    [event] = events("trading.order_cancel_requested")
    assert (event.actor, event.target_id, event.after["status"]) == (alice, str(order.pk), "canceled")
    with pytest.raises(DomainError):  # already canceled: refused, and nothing recorded
        order_cancel(account=alice_account, order_id=order.pk)
    assert len(events("trading.order_cancel_requested")) == 1


def test_cancel_all_records_one_event_per_order(alice_account, acme, market_open):
    first, _ = order_place(account=alice_account, request=limit_buy())
    second, _ = order_place(account=alice_account, request=limit_buy(limit_price=Decimal("8.00")))
    order_cancel_all(account=alice_account)
    assert sorted(e.target_id for e in events("trading.order_cancel_requested")) == sorted(
        [str(first.pk), str(second.pk)]
    )


def test_replace_records_one_replacement_naming_the_old_order(alice, alice_account, acme, market_open):
    old, _ = order_place(account=alice_account, request=limit_buy())
    new = order_replace(account=alice_account, order_id=old.pk, changes={"limit_price": Decimal("8.50")})
    [event] = events("trading.order_replaced")
    assert (event.actor, event.target_id) == (alice, str(new.pk))
    assert event.after["replaces"] == str(old.pk) and event.after["limit_price"] == "8.5"
    assert len(events("trading.order_placed")) == 1  # the original only


def test_a_refused_replacement_records_nothing(alice_account, acme, market_open):
    old, _ = order_place(account=alice_account, request=limit_buy())
    with pytest.raises(OrderRejected):
        order_replace(account=alice_account, order_id=old.pk, changes={"qty": Decimal(500)})
    assert [e.action for e in events()] == ["trading.order_placed"]
