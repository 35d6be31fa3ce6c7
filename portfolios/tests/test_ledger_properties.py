"""Random sequences of money operations through the real services, checking after every
step what must never be wrong: balanced entries, equity = cash + Σ market value, P&L
that adds up to the cent, positions = Σ fills, reservations = what open orders can still
consume, and a cash account that never goes negative."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test

from accounts.tests.factories import UserFactory, approved_customer
from portfolios import selectors, services
from portfolios.models import LedgerAccount, Position
from portfolios.tests.factories import AssetFactory
from portfolios.tests.helpers import ledger_row_count
from speedtrade.errors import DomainError
from speedtrade.money import cents_up, to_cents, to_qty, trade_value

D = Decimal
amounts = st.decimals(min_value=D("0.01"), max_value=D("3000"), places=2)
quantities = st.decimals(min_value=D("0.001"), max_value=D("50"), places=3)
prices = st.decimals(min_value=D("0.50"), max_value=D("200"), places=2)
fractions = st.sampled_from([D("0.25"), D("0.5"), D("1")])


class Order:
    def __init__(self, ref, asset, side, qty, limit):
        self.ref, self.asset, self.side, self.qty, self.limit = ref, asset, side, qty, limit
        self.filled = D("0")
        self.reserved = cents_up(qty * limit) if side == "buy" else qty  # what it may still consume (trading's rule)


class LedgerMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()  # each run rolls back at teardown
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS portfolios_journalline_balanced IMMEDIATE")
        self.account = approved_customer(UserFactory())
        self.assets = [AssetFactory(symbol="PROP"), AssetFactory(crypto=True)]
        self.marks = {asset.pk: asset.reference_price for asset in self.assets}
        self.held = {asset.pk: D("0") for asset in self.assets}
        self.open_orders: dict[str, Order] = {}
        self.order_count = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _refused_without_ledger_rows(self, action):
        before = ledger_row_count()
        with pytest.raises(DomainError), transaction.atomic():
            action()
        assert ledger_row_count() == before

    @rule(amount=amounts)
    def deposit(self, amount):
        services.deposit_settled_post(account=self.account, amount=amount)

    @rule(amount=amounts, cancel=st.booleans())
    def withdraw(self, amount, cancel):
        def create():
            return services.transfer_create(account=self.account, direction="outgoing", amount=amount)

        if amount > selectors.withdrawable_cash(account=self.account):
            self._refused_without_ledger_rows(create)
            return
        transfer = create()
        if cancel:
            services.transfer_cancel(transfer=transfer, actor=None)
        else:
            services.transfer_submit(transfer_id=transfer.pk)
            services.transfer_settle(transfer_id=transfer.pk)

    @rule(asset_index=st.sampled_from([0, 1]), price=prices)
    def move_price(self, asset_index, price):
        self.marks[self.assets[asset_index].pk] = price

    @rule(target=orders, asset_index=st.sampled_from([0, 1]), qty=quantities, side=st.sampled_from(["buy", "sell"]))
    def place_order(self, asset_index, qty, side):
        asset = self.assets[asset_index]
        self.order_count += 1
        order = Order(f"o{self.order_count}", asset, side, qty, self.marks[asset.pk])
        if side == "buy" and order.reserved <= 0:
            return None  # worth less than a cent: trading's pre-trade checks refuse such an order
        try:
            if side == "buy":
                services.cash_reserve(account=self.account, amount=order.reserved, order_ref=order.ref)
            else:
                services.position_reserve(account=self.account, asset=asset, qty=qty, order_ref=order.ref)
        except DomainError:
            return None
        self.open_orders[order.ref] = order
        return order

    @rule(order=orders, fraction=fractions, improvement=st.sampled_from([D("0"), D("0.01")]))
    def fill(self, order, fraction, improvement):
        if order is None or order.ref not in self.open_orders:
            return
        remaining = order.qty - order.filled
        qty = remaining if fraction == 1 else to_qty(remaining * fraction)
        if qty <= 0:
            return
        price = max(D("0.01"), order.limit - improvement)  # a limit order fills at its limit or better
        final = qty == remaining
        if trade_value(qty, price, order.side) == 0:  # a sell worth under a cent: refused, shares never go free
            self._refused_without_ledger_rows(lambda: self._book(order, qty, price, D("0")))
            return
        if order.side == "buy":
            release = order.reserved if final else min(order.reserved, cents_up(qty * order.limit))
            if release:
                services.cash_release(account=self.account, amount=release, order_ref=order.ref)
            order.reserved -= release
            fee = D("0")
        else:
            services.position_release(account=self.account, asset=order.asset, qty=qty, order_ref=order.ref)
            order.reserved -= qty
            fee = min(D("0.02"), to_cents(qty * price))
        self._book(order, qty, price, fee)
        order.filled += qty
        self.held[order.asset.pk] += qty if order.side == "buy" else -qty
        if final:
            del self.open_orders[order.ref]

    def _book(self, order, qty, price, fee):
        services.fill_apply(
            account=self.account,
            asset=order.asset,
            side=order.side,
            qty=qty,
            price=price,
            fee=fee,
            executed_at=timezone.now(),
            cause=None,
        )

    @rule(order=consumes(orders))
    def cancel(self, order):
        if order is None or order.ref not in self.open_orders:
            return
        if order.reserved:
            if order.side == "buy":
                services.cash_release(account=self.account, amount=order.reserved, order_ref=order.ref)
            else:
                services.position_release(
                    account=self.account, asset=order.asset, qty=order.reserved, order_ref=order.ref
                )
        del self.open_orders[order.ref]

    @invariant()
    def money_adds_up(self):
        assert selectors.ledger_discrepancies() == []
        valuation = selectors.account_valuation(account=self.account, prices=self.marks, previous_closes=self.marks)
        assert valuation.equity == valuation.cash + sum((p.market_value for p in valuation.positions), D("0"))
        # Everything not put in from outside is trading result, to the cent.
        assert valuation.equity - valuation.net_contributions == valuation.realized_pl + valuation.unrealized_pl
        assert valuation.cash >= 0 and valuation.settled_cash >= 0
        assert 0 <= valuation.withdrawable_cash <= valuation.cash

    @invariant()
    def positions_and_reservations_match_the_orders(self):
        positions = {p.asset_id: p for p in Position.objects.filter(account=self.account)}
        for asset in self.assets:
            position = positions.get(asset.pk)
            assert (position.qty if position else 0) == self.held[asset.pk]
            open_sells = sum(
                (o.reserved for o in self.open_orders.values() if o.side == "sell" and o.asset == asset), D("0")
            )
            assert (position.reserved_qty if position else 0) == open_sells
        cash = LedgerAccount.objects.get(account=self.account, kind="cash")
        assert cash.reserved == sum((o.reserved for o in self.open_orders.values() if o.side == "buy"), D("0"))


@pytest.mark.django_db
def test_random_money_operations_keep_the_books_straight():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
