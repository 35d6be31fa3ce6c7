"""Issue 6: Compliance exports one customer's orders (and executions, transfers, positions) for a date
range as CSV from the read-only admin; Support reads the same pages but cannot export."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.tests.factories import UserFactory, approved_customer
from accounts.tests.sessions import mfa_client, staff_day
from portfolios.services import deposit_settled_post
from trading.models import Order
from trading.risk import OrderRequest
from trading.services import order_place

pytestmark = pytest.mark.django_db


def limit_buy(**fields) -> OrderRequest:
    defaults = {"symbol": "ACME", "side": "buy", "type": "limit", "time_in_force": "day", "qty": Decimal(1)}
    return OrderRequest(**{**defaults, "limit_price": Decimal("9.00"), **fields})


@pytest.fixture
def support_admin(db):
    return mfa_client(UserFactory(email="dave@example.com", staff_group="Support"))


def export(client, model: str, email: str, day):
    return client.post(
        reverse(f"admin:{model}_export"), {"customer_email": email, "start": day.isoformat(), "end": day.isoformat()}
    )


def test_compliance_exports_one_customers_orders_in_a_range(
    alice, alice_account, bob, carol, carol_admin, acme, market_open
):
    today, _ = order_place(account=alice_account, request=limit_buy(client_order_id="alice-today"))
    earlier, _ = order_place(account=alice_account, request=limit_buy(client_order_id="alice-earlier"))
    Order.objects.filter(pk=earlier.pk).update(created_at=earlier.created_at - timedelta(days=3))
    bob_account = approved_customer(bob)
    deposit_settled_post(account=bob_account, amount=Decimal("100.00"))
    order_place(account=bob_account, request=limit_buy(client_order_id="bob-today"))

    response = export(carol_admin, "trading_order", alice.email, staff_day(today.created_at))

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert (row["id"], row["client_order_id"], row["symbol"], row["side"]) == (
        str(today.pk),
        "alice-today",
        "ACME",
        "buy",
    )
    assert (row["qty"], row["limit_price"], row["status"]) == ("1", "9", "new")
    exported = AuditEvent.objects.get(action="records.exported")
    assert (exported.actor, exported.subject_user, exported.after["export"]) == (carol, alice, "orders")


@pytest.mark.parametrize("model", ["trading_order", "trading_execution", "portfolios_transfer", "portfolios_position"])
def test_compliance_can_open_every_financial_export(alice, alice_account, carol_admin, model):
    response = export(carol_admin, model, alice.email, staff_day())
    assert response.status_code == 200
    assert response.content.decode().splitlines()[0].count(",") >= 4  # the header row
    if model == "portfolios_transfer":  # the fixture's settled deposit
        assert len(response.content.decode().splitlines()) == 2


@pytest.mark.parametrize("model", ["trading_order", "trading_execution", "portfolios_transfer", "portfolios_position"])
def test_support_reads_but_cannot_export(alice, alice_account, support_admin, model):
    changelist = support_admin.get(reverse(f"admin:{model}_changelist"))
    assert changelist.status_code == 200 and "Export CSV" not in changelist.content.decode()
    assert export(support_admin, model, alice.email, staff_day()).status_code == 403
    assert not AuditEvent.objects.filter(action="records.exported").exists()
