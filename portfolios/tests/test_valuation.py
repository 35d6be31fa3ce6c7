"""One valuation: the figures the API shows, on hand-computed examples."""

from datetime import timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time

from accounts.tests.factories import approved_customer
from portfolios import selectors, services
from portfolios.models import EquitySnapshot
from portfolios.tests.conftest import WEDNESDAY
from portfolios.tests.factories import AssetFactory

pytestmark = pytest.mark.django_db
D = Decimal
YESTERDAY_CLOSE = WEDNESDAY - timedelta(hours=23)


def fill(account, asset, side, qty, price, at=WEDNESDAY - timedelta(days=7)):
    services.fill_apply(
        account=account, asset=asset, side=side, qty=D(qty), price=D(price), fee=D("0"), executed_at=at, cause=None
    )


def buy(account, asset, qty, price, at=WEDNESDAY - timedelta(days=7)):
    fill(account, asset, "buy", qty, price, at)


def round_trip(account, asset, qty, bought_at, sold_at):
    """Bought a week before WEDNESDAY, all sold the day after: the position is closed with its realized P&L."""
    fill(account, asset, "buy", qty, bought_at)
    fill(account, asset, "sell", qty, sold_at, at=WEDNESDAY - timedelta(days=6))


def test_cash_account_figures(funded, acme):
    buy(funded, acme, "10", "10.00")
    services.cash_reserve(account=funded, amount=D("100.00"), order_ref="o1")
    valuation = selectors.account_valuation(
        account=funded, prices={acme.pk: D("12.00")}, previous_closes={acme.pk: D("11.00")}, as_of=WEDNESDAY
    )
    position = valuation.positions[0]
    assert (position.market_value, position.unrealized_pl, position.unrealized_plpc) == (
        D("120.00"),
        D("20.00"),
        D("0.2"),
    )
    assert (position.change_today, position.unrealized_intraday_pl) == (D("0.090909"), D("10.00"))
    assert valuation.cash == D("900.00") and valuation.long_market_value == D("120.00")
    assert valuation.equity == D("1020.00") == valuation.cash + valuation.long_market_value
    assert valuation.buying_power == D("800.00")  # cash − reserved
    assert valuation.multiplier == 1
    assert valuation.total_pl == D("20.00")
    assert valuation.last_equity == D("1010.00")  # no close snapshot: cash at yesterday's prices
    assert valuation.daily_pl == D("10.00")


def test_daily_pl_excludes_todays_deposit_and_uses_the_close_snapshot(funded, acme):
    buy(funded, acme, "10", "10.00")
    EquitySnapshot.objects.create(
        account=funded,
        timestamp=YESTERDAY_CLOSE,
        kind="close",
        session_date=YESTERDAY_CLOSE.date(),
        equity=D("1005.00"),
        cash=D("900.00"),
        long_market_value=D("105.00"),
        net_contributions=D("1000.00"),
        profit_loss=D("5.00"),
    )
    with freeze_time(WEDNESDAY - timedelta(hours=1)):
        services.deposit_settled_post(account=funded, amount=D("50.00"))
    valuation = selectors.account_valuation(
        account=funded, prices={acme.pk: D("11.00")}, previous_closes={acme.pk: D("10.50")}, as_of=WEDNESDAY
    )
    assert valuation.equity == D("1060.00") and valuation.last_equity == D("1005.00")
    assert valuation.daily_pl == D("5.00")  # 1060 − 1005 − 50 deposited
    assert valuation.total_pl == D("10.00")


def test_each_sum_counts_only_the_accounts_own_rows(funded, bob_account, acme):
    """Realized P&L, transfers on their way in or out and contributions come from one statement over the
    ledger: each figure is alice's alone, whatever bob does."""
    round_trip(funded, acme, "10", bought_at="10.00", sold_at="12.00")
    services.transfer_create(account=funded, direction="incoming", amount=D("300.00"))
    services.transfer_create(account=funded, direction="outgoing", amount=D("70.00"))
    with freeze_time(WEDNESDAY - timedelta(days=10)):
        services.deposit_settled_post(account=bob_account, amount=D("5000.00"))
    round_trip(bob_account, acme, "100", bought_at="10.00", sold_at="9.00")
    services.transfer_create(account=bob_account, direction="incoming", amount=D("900.00"))

    valuation = selectors.account_valuation(account=funded, prices={}, previous_closes={}, as_of=WEDNESDAY)

    assert valuation.positions == [] and valuation.realized_pl == D("20.00")
    assert valuation.pending_transfer_in == D("300.00") and valuation.pending_transfer_out == D("70.00")
    assert valuation.cash == D("950.00")  # 1,000 + 20 realized − 70 held for the withdrawal
    assert valuation.net_contributions == D("930.00")  # the withdrawal counts once it is held
    assert valuation.total_pl == D("20.00") == valuation.realized_pl


def test_margin_account_reg_t_and_intraday_buying_power(alice):
    account = approved_customer(alice, account_type="margin")
    services.deposit_settled_post(account=account, amount=D("10000.00"))
    stock = AssetFactory(symbol="MRGN", marginable=True)
    coin = AssetFactory(crypto=True)
    buy(account, stock, "400", "10.00")  # 4,000 marginable
    buy(account, coin, "0.02", "50000")  # 1,000 non-marginable
    valuation = selectors.account_valuation(
        account=account, prices={stock.pk: D("10.00"), coin.pk: D("50000")}, previous_closes={}, as_of=WEDNESDAY
    )
    assert valuation.equity == D("10000.00")
    assert valuation.initial_margin == D("3000.00")  # 50% × 4,000 + 100% × 1,000
    assert valuation.maintenance_margin == D("2000.00")  # 25% × 4,000 + 100% × 1,000
    assert valuation.multiplier == 2
    assert valuation.regt_buying_power == valuation.buying_power == D("14000.00")  # (10,000 − 3,000) × 2
    assert valuation.intraday_buying_power == D("32000.00")  # (10,000 − 2,000) / 25%
    assert valuation.non_marginable_buying_power == D("5000.00")  # own cash only


def test_margin_account_under_2000_equity_gets_no_credit(alice):
    account = approved_customer(alice, account_type="margin")
    services.deposit_settled_post(account=account, amount=D("1999.99"))
    valuation = selectors.account_valuation(account=account, prices={}, previous_closes={})
    assert valuation.multiplier == 1 and valuation.buying_power == D("1999.99")


def test_account_and_positions_api_use_alpaca_names_and_decimal_strings(alice_api, funded, acme):
    buy(funded, acme, "2.5", "10.00")
    account = alice_api.get("/api/v1/account").json()
    assert account["cash"] == "975.00" and account["equity"] == "1000.00" and account["status"] == "ACTIVE"
    assert account["buying_power"] == "975.00" and account["long_market_value"] == "25.00"
    positions = alice_api.get("/api/v1/positions").json()
    assert [(p["symbol"], p["qty"], p["avg_entry_price"], p["side"]) for p in positions] == [
        ("ACME", "2.5", "10.000000000", "long")
    ]
    assert alice_api.get("/api/v1/positions/acme").json()["asset_id"] == str(acme.pk)
    assert alice_api.get(f"/api/v1/positions/{acme.pk}").json()["symbol"] == "ACME"


def test_positions_of_others_or_not_held_are_not_found(api_client, bob, bob_account, funded, acme):
    buy(funded, acme, "1", "10.00")
    api_client.force_authenticate(bob)
    assert api_client.get("/api/v1/positions/ACME").status_code == 404
    assert api_client.get(f"/api/v1/positions/{acme.pk}").status_code == 404
    assert api_client.get("/api/v1/positions/NOPE").json()["code"] == "not_found"
    assert api_client.get("/api/v1/positions").json() == []


def test_a_user_without_a_brokerage_account_gets_404(api_client, carol):
    api_client.force_authenticate(carol)
    assert api_client.get("/api/v1/account").status_code == 404
