"""Today's P&L, defined once (issue 18 item 3), on worked examples to the cent.

    last_equity = equity at the previous session's close (its close snapshot; 0 on the first day;
                  without a snapshot, rebuilt from today's holdings at the price today starts from)
    daily_pl    = equity − last_equity − deposits and withdrawals since that close
    daily_plpc  = daily_pl / last_equity, and none on the first day or when last_equity is not positive

WEDNESDAY is 4 March 2026, 10:00 ET; the previous session closed Tuesday 3 March at 16:00 ET.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time

from marketdata.calendars import equity_session
from marketdata.models import Bar, Timeframe
from marketdata.quotes import Quote, store_quotes
from portfolios import selectors, services
from portfolios.consumers import account_message
from portfolios.models import EquitySnapshot
from portfolios.tests.conftest import WEDNESDAY

pytestmark = pytest.mark.django_db
D = Decimal
TUESDAY_CLOSE = datetime(2026, 3, 3, 21, 0, tzinfo=UTC)


def fill(account, asset, side, qty, price, at):
    services.fill_apply(
        account=account, asset=asset, side=side, qty=D(qty), price=D(price), fee=D("0"), executed_at=at, cause=None
    )


def value(account, asset, price, lastday):
    return selectors.account_valuation(
        account=account, prices={asset.pk: D(price)}, previous_closes={asset.pk: D(lastday)}, as_of=WEDNESDAY
    )


def close_snapshot(account, equity):
    EquitySnapshot.objects.create(
        account=account,
        timestamp=TUESDAY_CLOSE,
        kind="close",
        session_date=TUESDAY_CLOSE.date(),
        equity=D(equity),
        cash=D("900.00"),
        long_market_value=D(equity) - D("900.00"),
        net_contributions=D("1000.00"),
        profit_loss=D(equity) - D("1000.00"),
    )


def test_deposits_and_withdrawals_since_the_close_are_not_profit(funded, acme):
    """$1,000 in, 10 ACME bought at $10.00 last week; Tuesday closed at $1,005.00 (ACME $10.50).
    Today: $50.00 deposited, $20.00 withdrawn, ACME at $11.00."""
    fill(funded, acme, "buy", "10", "10.00", WEDNESDAY - timedelta(days=7))
    close_snapshot(funded, "1005.00")
    with freeze_time(WEDNESDAY - timedelta(hours=1)):
        services.deposit_settled_post(account=funded, amount=D("50.00"))
        services.transfer_create(account=funded, direction="outgoing", amount=D("20.00"))

    valuation = value(funded, acme, "11.00", "10.50")

    assert valuation.equity == D("1040.00")  # 900 + 50 − 20 cash, 10 × 11.00
    assert valuation.last_equity == D("1005.00")
    assert valuation.daily_pl == D("5.00")  # 1,040 − 1,005 − (50 − 20)
    assert valuation.daily_plpc == D("0.004975")  # 5 / 1,005


def test_the_first_day_has_no_base_and_no_percentage(alice_account, acme):
    """Opened today: $100.00 deposited, 5 ACME bought at $9.80, ACME now $10.00 (the issue's account showed
    last_equity −0.22 and −0.86 % on a gain)."""
    with freeze_time(WEDNESDAY - timedelta(hours=1)):
        services.deposit_settled_post(account=alice_account, amount=D("100.00"))
    fill(alice_account, acme, "buy", "5", "9.80", WEDNESDAY - timedelta(minutes=30))

    valuation = value(alice_account, acme, "10.00", "10.40")

    assert (valuation.cash, valuation.equity) == (D("51.00"), D("101.00"))
    assert valuation.last_equity == D("0")
    assert valuation.daily_pl == D("1.00")  # 101 − 0 − 100 deposited: the shares' gain, 5 × 0.20
    assert valuation.daily_plpc is None
    assert valuation.daily_pl == sum(p.unrealized_intraday_pl for p in valuation.positions)


def test_the_demos_illustrated_history_makes_todays_deposit_no_loss(alice_account, acme):
    """`seed_demo` funds the demo trader today and then draws a few days of history valued at what it
    holds now: Tuesday's close snapshot already carries the $1,000. Today's P&L is $0.00, not −$1,000.00
    (the demo showed −100 % on a Sunday)."""
    with freeze_time(WEDNESDAY - timedelta(hours=1)):
        services.deposit_settled_post(account=alice_account, amount=D("1000.00"))
    services.equity_history_backfill(account=alice_account, days=5, now=WEDNESDAY)

    valuation = value(alice_account, acme, "10.00", "10.00")

    assert (valuation.equity, valuation.last_equity) == (D("1000.00"), D("1000.00"))
    assert (valuation.daily_pl, valuation.daily_plpc) == (D("0.00"), D("0"))


def test_without_a_close_snapshot_the_base_is_the_holdings_at_the_previous_close(funded, acme):
    """No snapshot was taken (the embedded default before this fix): 10 ACME held since last week,
    Tuesday's close $10.50, now $11.00; 2 more bought today at $10.80 count from their entry price."""
    fill(funded, acme, "buy", "10", "10.00", WEDNESDAY - timedelta(days=7))

    held = value(funded, acme, "11.00", "10.50")
    assert (held.equity, held.last_equity) == (D("1010.00"), D("1005.00"))  # 900 + 10 × 10.50
    assert (held.daily_pl, held.daily_plpc) == (D("5.00"), D("0.004975"))

    fill(funded, acme, "buy", "5", "10.80", WEDNESDAY - timedelta(minutes=5))
    position = value(funded, acme, "11.00", "10.50").positions[0]
    # A position opened before today keeps the previous close as its base (documented limit:
    # shares added today to an older position are counted from that close too).
    assert position.unrealized_intraday_pl == D("7.50")  # 15 × (11.00 − 10.50)


def test_a_base_of_zero_has_no_percentage(funded, acme):
    """Everything withdrawn last week, $100.00 deposited today and still in cash."""
    with freeze_time(WEDNESDAY - timedelta(days=5)):
        services.transfer_create(account=funded, direction="outgoing", amount=D("1000.00"))
    with freeze_time(WEDNESDAY - timedelta(hours=1)):
        services.deposit_settled_post(account=funded, amount=D("100.00"))

    valuation = value(funded, acme, "10.00", "10.00")

    assert (valuation.equity, valuation.last_equity, valuation.daily_pl) == (D("100.00"), D("0"), D("0"))
    assert valuation.daily_plpc is None


def test_the_close_snapshot_values_stocks_at_the_regular_close_not_an_after_hours_trade(funded, acme):
    """Tuesday: ACME's last regular-hours minute closed at $10.50; at 17:30 ET it trades at $10.90 and the
    close snapshot job runs then. The base for Wednesday is 900 + 10 × 10.50."""
    fill(funded, acme, "buy", "10", "10.00", WEDNESDAY - timedelta(days=7))
    session = equity_session(TUESDAY_CLOSE.date())
    price = D("10.50")
    Bar.objects.create(
        asset=acme,
        timeframe=Timeframe.MINUTE,
        timestamp=session.close - timedelta(minutes=1),
        open=price,
        high=price,
        low=price,
        close=price,
    )
    after_hours = session.close + timedelta(minutes=90)
    store_quotes([Quote("ACME", D("10.89"), D("10.91"), D(1), D(1), D("10.90"), after_hours, last_size=D(5))])

    assert services.session_close_snapshots_take(at=after_hours) == 1

    snapshot = EquitySnapshot.objects.get(account=funded, kind="close")
    assert (snapshot.session_date, snapshot.equity) == (session.date, D("1005.00"))


def test_the_api_the_alpaca_account_the_socket_and_home_show_the_same_figures(alice_account, acme, alice_api, client):
    with freeze_time(WEDNESDAY - timedelta(hours=1)):
        services.deposit_settled_post(account=alice_account, amount=D("100.00"))
    fill(alice_account, acme, "buy", "5", "9.80", WEDNESDAY - timedelta(minutes=30))  # ACME is worth $10.00

    with freeze_time(WEDNESDAY):
        api = alice_api.get("/api/v1/account").json()
        alpaca = alice_api.get("/v2/account").json()
        message = account_message(
            selectors.account_valuation(
                account=alice_account, prices={acme.pk: D("10.00")}, previous_closes={acme.pk: D("10.00")}
            )
        )
        client.force_login(alice_account.user)
        home = client.get("/").content.decode()

    for figures in (api, alpaca, message):
        assert (figures["equity"], figures["last_equity"], figures["daily_pl"]) == ("101.00", "0", "1.00")
        assert figures["daily_plpc"] is None
    assert '<dd class="num up" id="daily-pl">+$1.00</dd>' in home  # no percentage without a base
