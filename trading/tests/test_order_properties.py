"""Random sequences of real orders, ticks, cancels and deposits through trading's services and the paper venue,
checking after every step: the reservation counters equal what open orders hold (`verify_ledger`'s check), the
ledger balances, positions = Σ executions, a cash account never goes negative, and a refusal writes nothing."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.test import TestCase
from freezegun import freeze_time
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from accounts.tests.factories import UserFactory, approved_customer
from portfolios import selectors
from portfolios.models import LedgerAccount, Position
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from speedtrade.errors import DomainError
from trading.brokers.paper import paper_book_reset
from trading.models import OPEN_STATUSES, Execution, Order, OrderEvent
from trading.paper_fills import on_ticks
from trading.risk import OrderRequest
from trading.selectors import reservation_discrepancies
from trading.services import order_cancel, order_place
from trading.tests.conftest import MARKET_OPEN, quote

D = Decimal
SYMBOLS = ("PROP", "BTC/USD")


class OrderMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._clock = freeze_time(MARKET_OPEN, tick=True)
        self._clock.start()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()  # each run rolls back at teardown
        paper_book_reset()
        self.account = approved_customer(UserFactory())
        deposit_settled_post(account=self.account, amount=D("1000.00"))
        self.assets = [AssetFactory(symbol="PROP"), AssetFactory(crypto=True)]
        for symbol in SYMBOLS:
            quote(symbol=symbol, bid="10.00", ask="10.00", bid_size="5", ask_size="5")

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        paper_book_reset()
        self._clock.stop()

    def _written(self) -> tuple:
        cash = LedgerAccount.objects.get(account=self.account, kind="cash")
        held = tuple(Position.objects.filter(account=self.account).values_list("qty", "reserved_qty"))
        return Order.objects.count(), OrderEvent.objects.count(), cash.balance, cash.reserved, held

    @rule(amount=st.decimals(min_value=D("1"), max_value=D("500"), places=2))
    def deposit(self, amount):
        deposit_settled_post(account=self.account, amount=amount)

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(["buy", "sell"]),
        limit=st.one_of(st.none(), st.decimals(min_value=D("9.50"), max_value=D("10.50"), places=2)),
        qty=st.decimals(min_value=D("0.5"), max_value=D("30"), places=1),
    )
    def place(self, symbol, side, limit, qty):
        fields = {"type": "market"} if limit is None else {"type": "limit", "limit_price": limit}
        request = OrderRequest(
            symbol=symbol, side=side, time_in_force="gtc" if "/" in symbol else "day", qty=qty, **fields
        )
        before = self._written()
        try:
            with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
                order_place(account=self.account, request=request)
        except DomainError:
            assert self._written() == before  # a refusal leaves nothing behind

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        price=st.decimals(min_value=D("9.50"), max_value=D("10.50"), places=2),
        size=st.decimals(min_value=D("1"), max_value=D("20"), places=0),
    )
    def tick(self, symbol, price, size):
        on_ticks([quote(symbol=symbol, bid=str(price), ask=str(price), bid_size=str(size), ask_size=str(size))])

    @rule(pick=st.integers(min_value=0, max_value=50))
    def cancel(self, pick):
        open_orders = Order.objects.filter(status__in=OPEN_STATUSES).order_by("created_at")
        open_ids = list(open_orders.values_list("id", flat=True))
        if open_ids:
            with TestCase.captureOnCommitCallbacks(execute=True):
                order_cancel(account=self.account, order_id=open_ids[pick % len(open_ids)])

    @invariant()
    def reservations_equal_what_open_orders_hold(self):
        assert reservation_discrepancies() == []

    @invariant()
    def books_balance_and_positions_are_the_fills(self):
        assert selectors.ledger_discrepancies() == []
        for asset in self.assets:
            fills = Execution.objects.filter(order__account=self.account, order__asset=asset)
            bought = sum((e.qty for e in fills if e.order.side == "buy"), D(0))
            sold = sum((e.qty for e in fills if e.order.side == "sell"), D(0))
            position = Position.objects.filter(account=self.account, asset=asset).first()
            assert (position.qty if position else 0) == bought - sold
        cash = LedgerAccount.objects.get(account=self.account, kind="cash")
        assert 0 <= cash.reserved <= cash.balance


@pytest.mark.django_db
def test_random_orders_ticks_and_cancels_keep_reservations_and_books_straight():
    run_state_machine_as_test(
        OrderMachine,
        settings=settings(
            max_examples=10,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
