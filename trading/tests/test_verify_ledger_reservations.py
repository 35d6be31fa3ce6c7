"""`verify_ledger` also checks that the reservation counters equal what open orders hold."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portfolios.models import LedgerAccount, Position
from trading.models import Order
from trading.tests.conftest import fill, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def resting_orders(alice_account, acme, market_closed):
    """A resting buy (holds cash) and, after a fill on the open market, a resting sell (holds shares)."""
    buy = place(alice_account, type="limit", limit_price=Decimal("9.00"), qty=Decimal("10"))
    fill(alice_account, acme, "5")
    sell = place(alice_account, side="sell", type="limit", limit_price=Decimal("11.00"), qty=Decimal("5"))
    assert (buy.reserved_cash, sell.reserved_qty) == (Decimal("90.00"), Decimal("5"))
    return buy, sell


def test_matching_reservations_pass(resting_orders, capsys):
    call_command("verify_ledger")
    assert "Ledger OK" in capsys.readouterr().out


def test_a_cash_counter_that_drifted_from_the_open_orders_is_reported(resting_orders, alice_account, capsys):
    LedgerAccount.objects.filter(account=alice_account, kind="cash").update(reserved=Decimal("80.00"))
    with pytest.raises(CommandError, match="1 ledger problem"):
        call_command("verify_ledger")
    assert f"account {alice_account.pk}: reserved cash 80.00 ≠ open orders hold 90.00" in capsys.readouterr().err


def test_an_order_holding_shares_the_position_does_not_count_is_reported(resting_orders, alice_account, acme, capsys):
    buy, sell = resting_orders
    Position.objects.filter(account=alice_account, asset=acme).update(reserved_qty=0)
    Order.objects.filter(pk=buy.pk).update(reserved_cash=Decimal("0"))
    with pytest.raises(CommandError, match="2 ledger problem"):
        call_command("verify_ledger")
    err = capsys.readouterr().err
    assert "reserved cash 90.00 ≠ open orders hold 0" in err
    assert f"reserved qty of asset {acme.pk} 0 ≠ open orders hold 5" in err
