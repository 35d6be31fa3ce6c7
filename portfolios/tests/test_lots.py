"""Tax lots on examples worked by hand, to the cent: lot methods, fees in the basis, partial fills,
the one-year boundary, wash sales in both orders of events, crypto."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from portfolios import selectors, services
from portfolios.models import Account, LotClosing, TaxLot
from portfolios.selectors import lot_discrepancies
from portfolios.tests.conftest import WEDNESDAY
from portfolios.tests.helpers import assert_ledger_sound

pytestmark = pytest.mark.django_db
D = Decimal
DAY = timedelta(days=1)


def fill(account, asset, side, qty, price, fee="0", at=WEDNESDAY):
    return services.fill_apply(
        account=account, asset=asset, side=side, qty=D(qty), price=D(price), fee=D(fee), executed_at=at, cause=None
    )


def closings(account):
    return [
        (c.lot.acquired_at, c.qty, c.proceeds, c.cost_basis, c.gain, c.wash_sale_disallowed, c.term)
        for c in LotClosing.objects.filter(account=account).order_by("id")
    ]


def lots(account):
    return [
        (lot.acquired_at, lot.open_qty, lot.open_basis, lot.wash_sale_adjustment)
        for lot in selectors.open_lots(account=account)
    ]


def test_a_buy_opens_a_lot_at_its_cash_plus_fee(funded, acme):
    fill(funded, acme, "buy", "10", "10.00", fee="1.00")
    lot = TaxLot.objects.get(account=funded)
    assert (lot.qty, lot.open_qty, lot.cost, lot.open_basis, lot.acquired_at) == (
        D("10"),
        D("10"),
        D("101.00"),
        D("101.00"),
        WEDNESDAY,
    )
    assert lot.opened_by.side == "buy" and lot.opened_by.qty == D("10")


def test_fifo_closes_the_oldest_lot_first_and_shares_the_net_proceeds(funded, acme):
    day1, day2, day3 = WEDNESDAY - 60 * DAY, WEDNESDAY - 50 * DAY, WEDNESDAY
    fill(funded, acme, "buy", "10", "10.00", fee="1.00", at=day1)  # lot A: 101.00
    fill(funded, acme, "buy", "10", "12.00", at=day2)  # lot B: 120.00
    fill(funded, acme, "sell", "15", "13.00", fee="1.50", at=day3)  # 195.00 − 1.50 = 193.50
    assert closings(funded) == [
        (day1, D("10"), D("129.00"), D("101.00"), D("28.00"), 0, "short"),  # 193.50 × 10/15
        (day2, D("5"), D("64.50"), D("60.00"), D("4.50"), 0, "short"),  # the rest; 120.00 × 5/10
    ]
    assert lots(funded) == [(day2, D("5"), D("60.00"), 0)]
    assert_ledger_sound()


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        # Lots: A 10 @ 10.00 (oldest), B 10 @ 12.00, C 10 @ 11.00 (newest); sell 15 @ 13.00 = 195.00.
        ("lifo", [("C", "10", "130.00", "110.00"), ("B", "5", "65.00", "60.00")]),
        ("hifo", [("B", "10", "130.00", "120.00"), ("C", "5", "65.00", "55.00")]),
        ("fifo", [("A", "10", "130.00", "100.00"), ("B", "5", "65.00", "60.00")]),
    ],
)
def test_the_accounts_lot_method_decides_which_lots_a_sale_closes(funded, acme, method, expected):
    Account.objects.filter(pk=funded.pk).update(lot_method=method)
    bought = {"A": WEDNESDAY - 90 * DAY, "B": WEDNESDAY - 80 * DAY, "C": WEDNESDAY - 70 * DAY}
    for name, price in (("A", "10.00"), ("B", "12.00"), ("C", "11.00")):
        fill(funded, acme, "buy", "10", price, at=bought[name])
    fill(funded, acme, "sell", "15", "13.00")
    assert closings(funded) == [
        (bought[name], D(qty), D(proceeds), D(basis), D(proceeds) - D(basis), 0, "short")
        for name, qty, proceeds, basis in expected
    ]


def test_pro_rata_basis_always_adds_up_to_the_lots_cost(funded, acme):
    fill(funded, acme, "buy", "3", "10.00", fee="0.01", at=WEDNESDAY - 40 * DAY)  # 30.01
    for _ in range(3):
        fill(funded, acme, "sell", "1", "10.00")
    # 30.01 / 3 = 10.0033 → 10.00; then 20.01 / 2 = 10.005 → 10.01 (half-up); the last takes 10.00.
    assert [c.cost_basis for c in LotClosing.objects.order_by("id")] == [D("10.00"), D("10.01"), D("10.00")]
    assert TaxLot.objects.get().open_basis == 0


def test_partial_fills_of_one_sale_each_close_their_share(funded, acme):
    fill(funded, acme, "buy", "10", "10.00", fee="0.99", at=WEDNESDAY - 40 * DAY)  # 100.99
    fill(funded, acme, "sell", "4", "11.00", fee="0.10")  # first partial fill
    fill(funded, acme, "sell", "6", "11.00", fee="0.10", at=WEDNESDAY + timedelta(minutes=1))
    assert closings(funded) == [
        (WEDNESDAY - 40 * DAY, D("4"), D("43.90"), D("40.40"), D("3.50"), 0, "short"),  # 100.99 × 4/10
        (WEDNESDAY - 40 * DAY, D("6"), D("65.90"), D("60.59"), D("5.31"), 0, "short"),  # the rest
    ]


def test_a_sale_exactly_one_year_on_is_short_term_and_a_day_later_long(funded, acme):
    bought = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    fill(funded, acme, "buy", "2", "10.00", at=bought)
    fill(funded, acme, "sell", "1", "12.00", at=datetime(2026, 3, 4, 15, 0, tzinfo=UTC))
    fill(funded, acme, "sell", "1", "12.00", at=datetime(2026, 3, 5, 15, 0, tzinfo=UTC))
    assert [c.term for c in LotClosing.objects.order_by("id")] == ["short", "long"]


def test_holding_period_counts_new_york_days_not_utc(funded, acme):
    # Bought 21:00 New York on 3 March 2025 (02:00 UTC on the 4th): a year is up on 3 March 2026.
    fill(funded, acme, "buy", "1", "10.00", at=datetime(2025, 3, 4, 2, 0, tzinfo=UTC))
    fill(funded, acme, "sell", "1", "12.00", at=datetime(2026, 3, 4, 15, 0, tzinfo=UTC))
    assert LotClosing.objects.get().term == "long"


def test_a_loss_sale_after_a_purchase_within_30_days_moves_the_loss_into_the_replacement(funded, acme):
    old, recent, sale = WEDNESDAY - 100 * DAY, WEDNESDAY - 20 * DAY, WEDNESDAY
    fill(funded, acme, "buy", "10", "10.00", at=old)  # lot A: 100.00
    fill(funded, acme, "buy", "10", "9.00", at=recent)  # lot B: 90.00, within 30 days before the sale
    fill(funded, acme, "sell", "10", "8.00", at=sale)  # FIFO: A at 80.00, a 20.00 loss
    closing = LotClosing.objects.get()
    assert (closing.gain, closing.wash_sale_disallowed, closing.reported_gain) == (D("-20.00"), D("20.00"), 0)
    replacement = TaxLot.objects.get(wash_sale_of=closing)
    assert replacement.acquired_at == recent
    assert (replacement.qty, replacement.open_basis, replacement.wash_sale_adjustment) == (
        D("10"),
        D("110.00"),
        D("20.00"),
    )
    # Its holding period includes the 100 days lot A was held.
    assert replacement.holding_period_start == (recent - 100 * DAY).date()
    assert_ledger_sound()


def test_a_purchase_within_30_days_after_a_loss_sale_replaces_it_and_updates_the_closing(funded, acme):
    fill(funded, acme, "buy", "10", "10.00", at=WEDNESDAY - 100 * DAY)
    fill(funded, acme, "sell", "10", "8.00")  # a 20.00 loss, nothing bought in the 30 days before
    closing = LotClosing.objects.get()
    assert closing.wash_sale_disallowed == 0
    fill(funded, acme, "buy", "4", "7.50", at=WEDNESDAY + 30 * DAY)  # day 30: still in the window
    closing.refresh_from_db()
    # 4 of the 10 sold shares are replaced: 4/10 of the loss is disallowed.
    assert (closing.wash_sale_disallowed, closing.reported_gain) == (D("8.00"), D("-12.00"))
    replacement = TaxLot.objects.get(wash_sale_of=closing)
    assert (replacement.qty, replacement.cost, replacement.open_basis) == (D("4"), D("30.00"), D("38.00"))
    fill(funded, acme, "buy", "10", "7.00", at=WEDNESDAY + 31 * DAY)  # day 31: too late
    closing.refresh_from_db()
    assert closing.wash_sale_disallowed == D("8.00")
    assert TaxLot.objects.get(acquired_at=WEDNESDAY + 31 * DAY).wash_sale_adjustment == 0


def test_a_replacement_larger_than_the_loss_sale_is_split_and_absorbs_only_one_loss(funded, acme):
    fill(funded, acme, "buy", "3", "10.00", at=WEDNESDAY - 100 * DAY)  # lot X
    fill(funded, acme, "buy", "3", "10.00", at=WEDNESDAY - 90 * DAY)  # lot Y
    fill(funded, acme, "sell", "3", "9.00")  # FIFO: X, loss 3.00; nothing bought in the 30 days before
    fill(funded, acme, "buy", "5", "9.50", fee="0.50", at=WEDNESDAY + DAY)  # lot Z: 48.00 for 5 shares
    first = LotClosing.objects.get()
    replacement = TaxLot.objects.get(wash_sale_of=first)
    rest = TaxLot.objects.get(acquired_at=WEDNESDAY + DAY, wash_sale_of__isnull=True)
    # 3 of Z's 5 shares replace the sold ones: 48.00 × 3/5 = 28.80, plus the 3.00 loss.
    assert (replacement.qty, replacement.cost, replacement.open_basis) == (D("3"), D("28.80"), D("31.80"))
    assert (rest.qty, rest.cost, rest.open_basis) == (D("2"), D("19.20"), D("19.20"))
    assert replacement.split_from == rest and replacement.opened_by == rest.opened_by
    # A second loss sale within 30 days of Z: Z's 3 replacement shares are spent, only its 2 others replace.
    fill(funded, acme, "sell", "3", "8.00", at=WEDNESDAY + 2 * DAY)  # FIFO: Y, loss 6.00
    second = LotClosing.objects.order_by("id").last()
    assert (second.lot.acquired_at, second.gain, second.wash_sale_disallowed) == (
        WEDNESDAY - 90 * DAY,
        D("-6.00"),
        D("4.00"),  # 6.00 × 2/3
    )
    rest.refresh_from_db()
    assert (rest.wash_sale_of, rest.open_basis, rest.wash_sale_adjustment) == (second, D("23.20"), D("4.00"))
    replacement.refresh_from_db()
    assert (replacement.wash_sale_of, replacement.open_basis) == (first, D("31.80"))


def test_shares_of_the_same_purchase_are_not_replacements(funded, acme):
    fill(funded, acme, "buy", "10", "10.00", at=WEDNESDAY - 10 * DAY)
    fill(funded, acme, "sell", "4", "9.00")  # loss 4.00; the other 6 shares came in the same purchase
    assert LotClosing.objects.get().wash_sale_disallowed == 0


def test_crypto_keeps_lots_but_has_no_wash_sales(funded, btc):
    fill(funded, btc, "buy", "0.01", "50000.00", at=WEDNESDAY - 100 * DAY)
    fill(funded, btc, "buy", "0.001", "45000.00", at=WEDNESDAY - DAY)
    fill(funded, btc, "sell", "0.01", "40000.00")  # FIFO: a 100.00 loss
    closing = LotClosing.objects.get()
    assert (closing.gain, closing.wash_sale_disallowed) == (D("-100.00"), 0)
    assert lots(funded) == [(WEDNESDAY - DAY, D("0.001"), D("45.00"), 0)]


def test_realized_gains_summary_reports_disallowed_losses_added_back(funded, acme):
    fill(funded, acme, "buy", "2", "10.00", at=datetime(2025, 1, 2, 15, 0, tzinfo=UTC))
    fill(funded, acme, "buy", "2", "10.00", at=WEDNESDAY - 40 * DAY)
    fill(funded, acme, "sell", "2", "15.00")  # FIFO: the 2025 lot, long term, gain 10.00
    fill(funded, acme, "sell", "2", "9.00", at=WEDNESDAY + DAY)  # short term loss 2.00
    gains = selectors.realized_gains(
        account=funded, since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert (gains.long_term, gains.short_term, gains.total, gains.wash_sale_disallowed) == (
        D("10.00"),
        D("-2.00"),
        D("8.00"),
        0,
    )


def test_lot_closings_cannot_be_rewritten_or_deleted(funded, acme):
    fill(funded, acme, "buy", "1", "10.00", at=WEDNESDAY - DAY)
    fill(funded, acme, "sell", "1", "12.00")
    for statement in (
        "UPDATE portfolios_lotclosing SET proceeds = proceeds + 1, gain = gain + 1",
        "DELETE FROM portfolios_lotclosing",
        "UPDATE portfolios_taxlot SET acquired_at = acquired_at - interval '2 years'",
        "DELETE FROM portfolios_taxlot",
    ):
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    with pytest.raises(IntegrityError), transaction.atomic():
        LotClosing.objects.update(wash_sale_disallowed=D("1.00"))  # only a loss can be disallowed


def test_verify_ledger_reports_a_lot_that_no_longer_matches_the_books(funded, acme, capsys):
    fill(funded, acme, "buy", "10", "10.00", fee="1.00", at=WEDNESDAY - DAY)
    fill(funded, acme, "sell", "4", "12.00")
    call_command("verify_ledger")
    TaxLot.objects.update(open_qty=D("7"), open_basis=D("70.00"))
    with pytest.raises(CommandError, match="3 ledger problem"):
        call_command("verify_ledger")
    err = capsys.readouterr().err
    assert "open lots hold 7.000000000, the position 6.000000000" in err
    assert "7.000000000 open ≠ 10.000000000 − 4.000000000 closed" in err
    assert "open basis 70.00 ≠ 101.00 + 0.00 − 40.40 closed" in err


def test_verify_ledger_reports_a_sale_whose_closings_do_not_add_up_to_its_cash(funded, acme, capsys):
    fill(funded, acme, "buy", "10", "10.00", at=WEDNESDAY - DAY)
    fill(funded, acme, "sell", "10", "12.00", fee="0.50")  # 120.00 − 0.50
    assert lot_discrepancies() == []
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # as only the database's owner could
        cursor.execute("UPDATE portfolios_lotclosing SET proceeds = proceeds + 0.50, gain = gain + 0.50")
        cursor.execute("SET session_replication_role = origin")
    (problem,) = lot_discrepancies()
    assert "lots record 10.000000000 shares and 120.00 cash, the ledger 10.000000000 and 119.50" in problem


def test_a_lot_bought_on_29_february_turns_long_term_on_1_march_a_year_later():
    lot = TaxLot(holding_period_start=date(2024, 2, 29))
    assert [lot.term_if_sold_on(day) for day in (date(2025, 2, 28), date(2025, 3, 1))] == ["short", "long"]
