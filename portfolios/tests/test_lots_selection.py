"""Lots chosen for a sell order: the order's fills (partial ones too) close those lots first; bad choices
are refused with nothing written."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from portfolios import services
from portfolios.models import LotClosing, LotSelection, TaxLot
from portfolios.tests.conftest import WEDNESDAY
from portfolios.tests.helpers import assert_ledger_sound
from speedtrade.errors import InvalidInput
from trading.models import Execution

pytestmark = pytest.mark.django_db
D = Decimal
DAY = timedelta(days=1)


def buy(account, asset, qty, price, at):
    services.fill_apply(
        account=account, asset=asset, side="buy", qty=D(qty), price=D(price), fee=D(0), executed_at=at, cause=None
    )
    return TaxLot.objects.get(account=account, acquired_at=at)


def sell_fill(account, asset, order_ref, qty, price, at=WEDNESDAY):
    """One fill of the sell order `order_ref`: an execution of that order as trading books it."""
    execution = Execution(pk=uuid.uuid4(), order_id=order_ref)  # its order and id: all the fill reads
    services.fill_apply(
        account=account, asset=asset, side="sell", qty=D(qty), price=D(price), fee=D(0), executed_at=at, cause=execution
    )


@pytest.fixture
def three_lots(funded, acme):
    return [
        buy(funded, acme, "10", "10.00", WEDNESDAY - 90 * DAY),
        buy(funded, acme, "10", "12.00", WEDNESDAY - 80 * DAY),
        buy(funded, acme, "10", "11.00", WEDNESDAY - 70 * DAY),
    ]


def test_partial_fills_of_an_order_close_the_chosen_lots_in_the_order_chosen(funded, acme, three_lots):
    oldest, dearest, newest = three_lots
    order_ref = uuid.uuid4()
    services.lot_selection_record(
        account=funded,
        asset=acme,
        order_ref=str(order_ref),
        side="sell",
        qty=D("8"),
        lots=[(newest.pk, D("5")), (dearest.pk, D("3"))],
    )
    sell_fill(funded, acme, order_ref, "4", "13.00")
    sell_fill(funded, acme, order_ref, "4", "13.00")
    assert [(c.lot_id, c.qty, c.cost_basis, c.proceeds) for c in LotClosing.objects.order_by("id")] == [
        (newest.pk, D("4"), D("44.00"), D("52.00")),
        (newest.pk, D("1"), D("11.00"), D("13.00")),
        (dearest.pk, D("3"), D("36.00"), D("39.00")),
    ]
    assert list(LotSelection.objects.values_list("open_qty", flat=True)) == [0, 0]
    oldest.refresh_from_db()
    assert oldest.open_qty == D("10")  # FIFO would have sold these
    assert_ledger_sound()


def test_a_chosen_lot_sold_meanwhile_leaves_the_rest_to_the_lot_method(funded, acme, three_lots):
    oldest, dearest, newest = three_lots
    order_ref = uuid.uuid4()
    services.lot_selection_record(
        account=funded, asset=acme, order_ref=str(order_ref), side="sell", qty=D("10"), lots=[(newest.pk, D("10"))]
    )
    sell_fill(funded, acme, uuid.uuid4(), "25", "13.00")  # another order, FIFO: oldest, dearest, 5 of newest
    sell_fill(funded, acme, order_ref, "5", "13.00")
    assert LotClosing.objects.order_by("id").last().lot == newest
    assert TaxLot.objects.filter(open_qty__gt=0).count() == 0


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        (lambda lots, other: [(lots[0].pk, D("4"))], "add up to 4 shares, not the order's 5"),
        (lambda lots, other: [(lots[0].pk, D("11"))], "has 10 shares open"),
        (lambda lots, other: [(lots[0].pk, D("3")), (lots[0].pk, D("2"))], "Name each lot once"),
        (lambda lots, other: [(other.pk, D("5"))], "is not an open ACME lot of this account"),
    ],
)
def test_chosen_lots_must_be_open_lots_of_the_account_adding_up_to_the_order(
    funded, acme, three_lots, bob_account, choice, message
):
    other = TaxLot.objects.create(
        account=bob_account,
        asset=acme,
        acquired_at=WEDNESDAY,
        holding_period_start=WEDNESDAY.date(),
        qty=D("5"),
        open_qty=D("5"),
        cost=D("50.00"),
        open_basis=D("50.00"),
    )
    with pytest.raises(InvalidInput) as refused:
        services.lot_selection_record(
            account=funded, asset=acme, order_ref="o1", side="sell", qty=D("5"), lots=choice(three_lots, other)
        )
    assert message in str(refused.value.messages_by_field()["lots"])
    assert not LotSelection.objects.exists()


def test_lots_are_chosen_for_sales_of_shares_only(funded, acme, three_lots):
    for side, qty in (("buy", D("5")), ("sell", None)):
        with pytest.raises(InvalidInput):
            services.lot_selection_record(
                account=funded, asset=acme, order_ref="o1", side=side, qty=qty, lots=[(three_lots[0].pk, D("5"))]
            )
