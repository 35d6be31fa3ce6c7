"""Average cost, realized P&L and settlement, on examples worked by hand."""

from datetime import date
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolios import selectors, services
from portfolios.models import JournalLine, Position
from portfolios.tests.conftest import WEDNESDAY
from portfolios.tests.helpers import assert_ledger_sound, balances
from speedtrade.errors import DomainError
from speedtrade.realtime import user_group

pytestmark = pytest.mark.django_db
D = Decimal


def fill(account, asset, side, qty, price, fee="0", at=WEDNESDAY, cause=None):
    return services.fill_apply(
        account=account, asset=asset, side=side, qty=D(qty), price=D(price), fee=D(fee), executed_at=at, cause=cause
    )


def test_average_cost_moves_on_buys_only_and_sells_realize_against_it(funded, acme):
    fill(funded, acme, "buy", "10", "10.00", fee="1.00")  # cost 100
    position = fill(funded, acme, "buy", "5", "13.00")  # cost 65 → 165 / 15 = 11.00
    assert (position.qty, position.cost_basis, position.avg_entry_price) == (D("15"), D("165.00"), D("11"))
    assert position.realized_pl == D("-1.00")  # a buy's fee is realized when charged

    position = fill(funded, acme, "sell", "6", "12.50", fee="0.75")
    # (12.50 − 11.00) × 6 − 0.75 = 8.25; the cost basis loses 6/15 of 165 = 66
    assert position.realized_pl == D("-1.00") + D("8.25")
    assert (position.qty, position.cost_basis, position.avg_entry_price) == (D("9"), D("99.00"), D("11"))

    position = fill(funded, acme, "sell", "9", "10.00")
    # (10 − 11) × 9 = −9; closing removes the whole remaining basis
    assert position.realized_pl == D("7.25") - D("9.00")
    assert (position.qty, position.cost_basis) == (0, 0)
    assert position.closed_at == WEDNESDAY
    # Total realized equals the cash result of the round trip, to the cent.
    assert balances(funded)["cash"] - D("1000.00") == position.realized_pl
    assert_ledger_sound()


def test_fractional_cent_residue_lands_in_the_final_sale(funded, acme):
    fill(funded, acme, "buy", "3", "10.00")  # basis 30.00, avg 10
    first = fill(funded, acme, "sell", "1", "10.00")  # removes 10.00
    assert first.realized_pl == 0
    fill(funded, acme, "buy", "0.333333333", "3.00")  # 0.999999999 → 1.00
    position = fill(funded, acme, "sell", "2.333333333", "9.00")
    assert position.qty == 0 and position.cost_basis == 0
    assert balances(funded)["cash"] - D("1000.00") == position.realized_pl


def test_reopening_a_closed_position_starts_a_new_average(funded, acme):
    fill(funded, acme, "buy", "1", "10.00")
    fill(funded, acme, "sell", "1", "20.00")
    position = fill(funded, acme, "buy", "2", "30.00")
    assert position.avg_entry_price == D("30") and position.closed_at is None
    assert position.realized_pl == D("10.00")


def test_stock_sale_proceeds_settle_next_business_day(funded, acme):
    fill(funded, acme, "buy", "10", "10.00")
    fill(funded, acme, "sell", "10", "11.00")
    line = JournalLine.objects.get(entry__side="sell", ledger_account__kind="cash")
    assert line.settles_on == date(2026, 3, 5)  # Wednesday → Thursday
    trade_day = selectors.cash_state(account=funded, as_of=WEDNESDAY)
    assert (trade_day.settled, trade_day.unsettled) == (D("900.00"), D("110.00"))
    assert selectors.withdrawable_cash(account=funded, as_of=WEDNESDAY) == D("900.00")
    settlement_day = selectors.cash_state(account=funded, as_of=WEDNESDAY.replace(day=5))
    assert (settlement_day.settled, settlement_day.unsettled) == (D("1010.00"), 0)


def test_friday_sale_settles_monday(funded, acme):
    friday = WEDNESDAY.replace(day=6)
    fill(funded, acme, "buy", "1", "10.00", at=friday)
    fill(funded, acme, "sell", "1", "10.00", at=friday)
    assert JournalLine.objects.get(entry__side="sell", ledger_account__kind="cash").settles_on == date(2026, 3, 9)


def test_crypto_sale_proceeds_are_settled_at_once(funded, btc):
    fill(funded, btc, "buy", "0.01", "50000")
    fill(funded, btc, "sell", "0.01", "51000")
    state = selectors.cash_state(account=funded, as_of=WEDNESDAY)
    assert state.unsettled == 0 and state.settled == D("1010.00")


def test_purchases_spend_settled_cash_first(funded, acme):
    fill(funded, acme, "buy", "10", "10.00")
    fill(funded, acme, "sell", "10", "10.00")  # 100 unsettled, 900 settled
    fill(funded, acme, "buy", "95", "10.00")  # 950: all 900 settled + 50 of the proceeds
    state = selectors.cash_state(account=funded, as_of=WEDNESDAY)
    assert (state.balance, state.settled, state.unsettled) == (D("50.00"), 0, D("50.00"))


def test_a_cash_account_cannot_buy_beyond_its_cash(funded, acme):
    with pytest.raises(DomainError, match="Not enough cash"):
        fill(funded, acme, "buy", "100", "10.00", fee="0.01")
    assert not Position.objects.filter(qty__gt=0).exists()
    assert balances(funded)["cash"] == D("1000.00")


def test_selling_more_than_held_is_refused(funded, acme):
    fill(funded, acme, "buy", "1", "10.00")
    with pytest.raises(DomainError, match="Cannot sell"):
        fill(funded, acme, "sell", "1.5", "10.00")


def test_the_same_execution_cannot_post_twice(funded, acme, alice):
    execution = alice  # any row stands in for trading's Execution as the cause
    fill(funded, acme, "buy", "1", "10.00", cause=execution)
    with pytest.raises(IntegrityError), transaction.atomic():
        fill(funded, acme, "buy", "1", "10.00", cause=execution)


def test_fills_tell_the_owner_after_commit(funded, acme, django_capture_on_commit_callbacks):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(funded.user_id), channel)
    with django_capture_on_commit_callbacks(execute=True):
        fill(funded, acme, "buy", "2", "10.00")
    message = async_to_sync(layer.receive)(channel)
    assert message["stream"] == "account_updates"
    assert message["data"] == {
        "event": "fill",
        "account_id": str(funded.pk),
        "cash": "980.00",
        "symbol": "ACME",
        "side": "buy",
        "qty": "2",
        "price": "10.00",
        "position_qty": "2",
    }


def test_cash_is_rounded_in_the_firms_favour(funded, acme):
    fill(funded, acme, "buy", "0.005", "228.01")  # 1.14005 → the buyer pays 1.15
    assert balances(funded)["cash"] == D("998.85")
    position = fill(funded, acme, "sell", "0.005", "228.01")  # → the seller receives 1.14
    assert balances(funded)["cash"] == D("999.99")
    assert position.realized_pl == D("-0.01") and position.cost_basis == 0
    assert_ledger_sound()


def test_a_sell_worth_less_than_a_cent_is_refused_and_books_nothing(funded, acme):
    fill(funded, acme, "buy", "0.01", "228.00")
    entries = JournalLine.objects.count()
    with pytest.raises(DomainError) as refused, transaction.atomic():
        fill(funded, acme, "sell", "0.00002", "228.00")  # 0.00456: proceeds round down to $0.00
    assert refused.value.code == "fill_worth_nothing"
    assert JournalLine.objects.count() == entries
    assert Position.objects.get(account=funded, asset=acme).qty == D("0.01")


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    qty=st.decimals(min_value=D("0.000000001"), max_value=D("0.01"), places=9),
    price=st.decimals(min_value=D("0.0001"), max_value=D("5000"), places=4),
    times=st.integers(min_value=1, max_value=5),
)
def test_tiny_round_trips_never_pay_the_customer(funded, acme, qty, price, times):
    """Buy a sliver `times`, sell what is held at the same price: the cash can only go down."""
    with transaction.atomic():
        before = balances(funded)["cash"]
        for _ in range(times):
            fill(funded, acme, "buy", qty, price)
        try:
            with transaction.atomic():
                fill(funded, acme, "sell", qty * times, price)
        except DomainError as refused:
            assert refused.code == "fill_worth_nothing"
        assert balances(funded)["cash"] <= before
        assert_ledger_sound()
        transaction.set_rollback(True)


def test_a_buy_reads_the_customers_cash_row_once_to_check_it_and_announce_it(funded, acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portfolios.models import LedgerAccount

    cash = LedgerAccount.objects.get(account=funded, kind=LedgerAccount.Kind.CASH)
    with CaptureQueriesContext(connection) as statements:
        fill(funded, acme, "buy", "1", "10.00")

    by_owner_and_kind = f'"account_id" = \'{funded.pk.hex}\'::uuid AND "portfolios_ledgeraccount"."kind" = \'cash\''
    by_id = f'WHERE "portfolios_ledgeraccount"."id" = {cash.pk} LIMIT'
    cash_reads = [
        s["sql"]
        for s in statements.captured_queries
        if s["sql"].startswith("SELECT") and (by_owner_and_kind in s["sql"] or by_id in s["sql"])
    ]
    # Locked before the spendable check, which checks that row as read; the account update announces that
    # balance moved by the entry's cash line, without reading the row again.
    assert [("FOR UPDATE" in sql) for sql in cash_reads] == [True]
    assert_ledger_sound()
