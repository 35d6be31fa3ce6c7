"""Buying power held by open orders: counters that can never over-commit."""

from decimal import Decimal

import pytest

from portfolios import selectors, services
from portfolios.models import LedgerAccount, Position
from portfolios.tests.conftest import WEDNESDAY
from portfolios.tests.helpers import ledger_row_count
from speedtrade.errors import DomainError

pytestmark = pytest.mark.django_db
D = Decimal


def reserved(account) -> Decimal:
    return LedgerAccount.objects.get(account=account, kind="cash").reserved


def test_reservations_reduce_buying_power_without_ledger_entries(funded, acme):
    before = ledger_row_count()
    services.cash_reserve(account=funded, amount=D("600.00"), order_ref="o1")
    services.cash_reserve(account=funded, amount=D("400.00"), order_ref="o2")
    assert reserved(funded) == D("1000.00") and ledger_row_count() == before
    valuation = selectors.account_valuation(account=funded, prices={}, previous_closes={})
    assert valuation.buying_power == 0 and valuation.cash == D("1000.00")
    with pytest.raises(DomainError, match="Insufficient buying power for order o3"):
        services.cash_reserve(account=funded, amount=D("0.01"), order_ref="o3")
    services.cash_release(account=funded, amount=D("600.00"), order_ref="o1")
    assert reserved(funded) == D("400.00")


def test_releasing_more_than_reserved_is_a_bug_not_a_refund(funded):
    services.cash_reserve(account=funded, amount=D("10.00"), order_ref="o1")
    with pytest.raises(ValueError, match="more than the account has reserved"):
        services.cash_release(account=funded, amount=D("10.01"), order_ref="o1")
    assert reserved(funded) == D("10.00")


def test_a_filled_order_releases_then_pays(funded, acme):
    services.cash_reserve(account=funded, amount=D("1000.00"), order_ref="o1")
    services.cash_release(account=funded, amount=D("1000.00"), order_ref="o1")
    services.fill_apply(
        account=funded,
        asset=acme,
        side="buy",
        qty=D("100"),
        price=D("10"),
        fee=D("0"),
        executed_at=WEDNESDAY,
        cause=None,
    )
    assert reserved(funded) == 0


def test_a_margin_account_may_reserve_beyond_its_cash(alice):
    account = services.account_open(user=alice, account_type="margin")
    services.cash_reserve(account=account, amount=D("500.00"), order_ref="o1")  # trading checks margin
    assert reserved(account) == D("500.00")


def test_shares_on_sale_cannot_be_sold_twice(funded, acme):
    services.fill_apply(
        account=funded,
        asset=acme,
        side="buy",
        qty=D("10"),
        price=D("10"),
        fee=D("0"),
        executed_at=WEDNESDAY,
        cause=None,
    )
    services.position_reserve(account=funded, asset=acme, qty=D("7"), order_ref="s1")
    with pytest.raises(DomainError, match="sells more ACME"):
        services.position_reserve(account=funded, asset=acme, qty=D("3.000000001"), order_ref="s2")
    with pytest.raises(DomainError, match="Cannot sell"):
        services.fill_apply(
            account=funded,
            asset=acme,
            side="sell",
            qty=D("4"),
            price=D("10"),
            fee=D("0"),
            executed_at=WEDNESDAY,
            cause=None,
        )
    services.position_release(account=funded, asset=acme, qty=D("7"), order_ref="s1")
    assert Position.objects.get().reserved_qty == 0


def test_no_position_means_nothing_to_reserve(funded, acme):
    with pytest.raises(DomainError):
        services.position_reserve(account=funded, asset=acme, qty=D("1"), order_ref="s1")
