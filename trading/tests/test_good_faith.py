"""Good-faith violations in cash accounts: warned, counted over 12 months, refused at TRADING_GFV_LIMIT.

Wednesday 2026-03-04 (market open): Alice sells 100 ACME for $1,000, which settles Thursday.
She buys 50 XYZ with that unsettled money; selling XYZ before Thursday is a violation.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from portfolios.models import GoodFaithViolation, Position, UnsettledFundsPurchase
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from trading.models import Order, OrderEvent
from trading.risk import OrderRejected, good_faith_standing
from trading.tests.conftest import MARKET_OPEN, place, quote

pytestmark = pytest.mark.django_db
WEDNESDAY = date(2026, 3, 4)
THURSDAY_OPEN = MARKET_OPEN + timedelta(days=1)


@pytest.fixture
def xyz(db):
    return AssetFactory(symbol="XYZ", reference_price=Decimal("10.00"))


@pytest.fixture
def unsettled_cash(alice_account, acme, xyz, market_open):
    """$1,000 of sale proceeds that settle on Thursday, nothing else."""
    quote(bid="10.00", ask="10.00")
    quote(symbol="XYZ", bid="10.00", ask="10.00")
    buy(alice_account, "100")
    place(alice_account, side="sell", qty=Decimal("100"))
    return alice_account


@pytest.fixture
def xyz_bought_with_unsettled_funds(unsettled_cash, xyz):
    order = buy(unsettled_cash, "50", symbol="XYZ")
    assert order.status == "filled"
    return unsettled_cash


def buy(account, qty, symbol="ACME", **fields):
    """A marketable limit buy at $10: it holds exactly its cost (a market buy holds a 5% buffer on top)."""
    return place(account, symbol=symbol, type="limit", limit_price=Decimal("10.00"), qty=Decimal(qty), **fields)


def violations(account) -> list[tuple]:
    return list(GoodFaithViolation.objects.filter(account=account).values_list("qty", "trade_date", "funds_settle_on"))


def test_a_purchase_with_unsettled_funds_is_accepted_with_a_warning(alice_api, unsettled_cash, xyz):
    response = alice_api.post(
        "/api/v1/orders",
        {"symbol": "XYZ", "side": "buy", "type": "limit", "limit_price": "10", "time_in_force": "day", "qty": "50"},
    )
    assert response.status_code == 201
    [warning] = response.json()["warnings"]
    assert warning["code"] == "unsettled_funds" and "2026-03-05" in warning["message"]
    new_event = OrderEvent.objects.get(order_id=response.json()["id"], event="new")
    assert new_event.detail == {"warnings": [warning]}


def test_the_purchase_records_the_shares_its_unsettled_funds_paid_for(xyz_bought_with_unsettled_funds, xyz):
    purchase = UnsettledFundsPurchase.objects.get(account=xyz_bought_with_unsettled_funds, asset=xyz)
    assert (purchase.unsettled_amount, purchase.qty, purchase.open_qty) == (Decimal("500.00"), 50, 50)
    assert purchase.funds_settle_on == date(2026, 3, 5)


def test_buying_with_settled_cash_warns_of_nothing(alice_api, alice_account, acme, market_open):
    quote(bid="10.00", ask="10.00")
    response = alice_api.post(
        "/api/v1/orders", {"symbol": "ACME", "side": "buy", "type": "market", "time_in_force": "day", "qty": "5"}
    )
    assert response.status_code == 201 and response.json()["warnings"] == []
    assert not UnsettledFundsPurchase.objects.exists()


def test_selling_before_the_funds_settle_is_warned_and_accepted(
    alice_api, xyz_bought_with_unsettled_funds, xyz, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/v1/orders", {"symbol": "XYZ", "side": "sell", "type": "market", "time_in_force": "day", "qty": "50"}
        )
    assert response.status_code == 201
    [warning] = response.json()["warnings"]
    assert warning["code"] == "good_faith_violation"
    assert "2026-03-05" in warning["message"] and "1 of 3" in warning["message"]
    assert Order.objects.get(pk=response.json()["id"]).status == "filled"
    assert violations(xyz_bought_with_unsettled_funds) == [(50, WEDNESDAY, date(2026, 3, 5))]


def test_a_sale_before_settlement_records_one_violation(xyz_bought_with_unsettled_funds, xyz):
    order = place(xyz_bought_with_unsettled_funds, symbol="XYZ", side="sell", qty=Decimal("50"))
    assert order.status == "filled"
    assert violations(xyz_bought_with_unsettled_funds) == [(50, WEDNESDAY, date(2026, 3, 5))]
    assert GoodFaithViolation.objects.get().order_ref == str(order.pk)
    assert AuditEvent.objects.filter(action="good_faith.violation").count() == 1
    assert good_faith_standing(xyz_bought_with_unsettled_funds, WEDNESDAY).violations == 1


def test_partial_fills_of_one_sale_are_one_violation(xyz_bought_with_unsettled_funds, xyz):
    from trading.paper_fills import on_ticks

    quote(symbol="XYZ", bid="10.00", ask="10.00", bid_size="20")
    order = place(xyz_bought_with_unsettled_funds, symbol="XYZ", side="sell", qty=Decimal("50"))
    assert order.status == "partially_filled"
    on_ticks([quote(symbol="XYZ", bid="10.00", ask="10.00", bid_size="100")])
    order.refresh_from_db()
    assert order.status == "filled"
    assert violations(xyz_bought_with_unsettled_funds) == [(50, WEDNESDAY, date(2026, 3, 5))]


def test_selling_shares_paid_for_with_settled_cash_is_no_violation(alice_account, acme, xyz, market_open):
    """20 XYZ bought with settled cash, then 50 more with unsettled funds: the first 20 sell freely."""
    quote(bid="10.00", ask="10.00")
    quote(symbol="XYZ", bid="10.00", ask="10.00")
    buy(alice_account, "20", symbol="XYZ")  # $200 settled
    buy(alice_account, "80")  # the other $800 settled
    place(alice_account, side="sell", qty=Decimal("80"))  # $800 unsettled until Thursday
    buy(alice_account, "50", symbol="XYZ")  # paid with unsettled funds
    first = place(alice_account, symbol="XYZ", side="sell", qty=Decimal("20"))
    assert first.warnings == [] and violations(alice_account) == []
    second = place(alice_account, symbol="XYZ", side="sell", qty=Decimal("10"))
    assert second.status == "filled" and violations(alice_account) == [(10, WEDNESDAY, date(2026, 3, 5))]


def test_selling_after_the_funds_settle_is_fine(xyz_bought_with_unsettled_funds, xyz, market_open):
    market_open.move_to(THURSDAY_OPEN)
    quote(symbol="XYZ", bid="10.00", ask="10.00")
    order = place(xyz_bought_with_unsettled_funds, symbol="XYZ", side="sell", qty=Decimal("50"))
    assert order.status == "filled" and order.warnings == [] and violations(xyz_bought_with_unsettled_funds) == []


def test_crypto_settles_at_once_and_never_makes_a_violation(unsettled_cash):
    AssetFactory(crypto=True, reference_price=Decimal("50.00"))
    quote(symbol="BTC/USD", bid="50.00", ask="50.00")
    bought = place(unsettled_cash, symbol="BTC/USD", time_in_force="gtc", qty=Decimal("10"))
    sold = place(unsettled_cash, symbol="BTC/USD", time_in_force="gtc", side="sell", qty=Decimal("10"))
    assert (bought.status, sold.status) == ("filled", "filled") and bought.warnings == sold.warnings == []
    assert not UnsettledFundsPurchase.objects.exists() and violations(unsettled_cash) == []


def test_margin_accounts_have_no_good_faith_rule(bob, acme, xyz, market_open):
    from accounts.tests.factories import approved_customer
    from portfolios.models import Account, LedgerAccount

    account = approved_customer(bob)
    # What a margin account is to the ledger (the KYC margin agreement is accounts' business).
    Account.objects.filter(pk=account.pk).update(type="margin")
    LedgerAccount.objects.filter(account=account, kind="cash").update(allow_negative=True)
    account.refresh_from_db()
    deposit_settled_post(account=account, amount=Decimal("1000.00"))
    quote(bid="10.00", ask="10.00")
    quote(symbol="XYZ", bid="10.00", ask="10.00")
    buy(account, "100")
    place(account, side="sell", qty=Decimal("100"))
    buy(account, "100", symbol="XYZ")  # with the unsettled proceeds
    sell = place(account, symbol="XYZ", side="sell", qty=Decimal("100"))
    assert sell.status == "filled" and sell.warnings == [] and violations(account) == []


def record_violations(account, asset, *days_ago):
    for number, days in enumerate(days_ago):
        trade_date = WEDNESDAY - timedelta(days=days)
        GoodFaithViolation.objects.create(
            account=account,
            asset=asset,
            order_ref=f"earlier-{number}",
            qty=1,
            trade_date=trade_date,
            funds_settle_on=trade_date + timedelta(days=1),
        )


def test_at_the_limit_a_sale_that_would_violate_again_is_refused(xyz_bought_with_unsettled_funds, xyz):
    record_violations(xyz_bought_with_unsettled_funds, xyz, 300, 200, 100)
    orders, events = Order.objects.count(), OrderEvent.objects.count()
    with pytest.raises(OrderRejected) as refusal:
        place(xyz_bought_with_unsettled_funds, symbol="XYZ", side="sell", qty=Decimal("50"))
    assert refusal.value.code == "good_faith_violation_limit" and "2026-03-05" in refusal.value.message
    assert (Order.objects.count(), OrderEvent.objects.count()) == (orders, events)
    assert Position.objects.get(account=xyz_bought_with_unsettled_funds, asset=xyz).reserved_qty == 0


def test_violations_older_than_12_months_do_not_count(xyz_bought_with_unsettled_funds, xyz):
    record_violations(xyz_bought_with_unsettled_funds, xyz, 500, 400, 100)
    order = place(xyz_bought_with_unsettled_funds, symbol="XYZ", side="sell", qty=Decimal("50"))
    assert order.status == "filled" and "2 of 3" in order.warnings[0]["message"]


def test_the_limit_restricts_stock_purchases_to_settled_cash_for_90_days(alice_api, unsettled_cash, xyz, settings):
    record_violations(unsettled_cash, xyz, 120, 60, 30)  # the third, 30 days ago: restricted until day 60
    standing = good_faith_standing(unsettled_cash, WEDNESDAY)
    assert standing == type(standing)(violations=3, restricted_until=WEDNESDAY + timedelta(days=60))
    response = alice_api.post(
        "/api/v1/orders", {"symbol": "XYZ", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1"}
    )
    assert response.status_code == 422 and response.json()["code"] == "good_faith_violation_limit"
    assert not Order.objects.filter(symbol="XYZ").exists()
    settings.TRADING_GFV_LIMIT = 4
    assert good_faith_standing(unsettled_cash, WEDNESDAY).restricted_until is None


@pytest.mark.parametrize(
    ("days_ago", "restricted_days_left"),
    [((200, 150, 91), None), ((200, 150, 89), 1), ((400, 150, 10), None), ((300, 200, 100, 20), 70)],
)
def test_restriction_windows(alice_account, acme, days_ago, restricted_days_left):
    record_violations(alice_account, acme, *days_ago)
    standing = good_faith_standing(alice_account, WEDNESDAY)
    expected = None if restricted_days_left is None else WEDNESDAY + timedelta(days=restricted_days_left)
    assert standing.restricted_until == expected


def test_compliance_sees_violations_in_the_admin_read_only(carol_admin, xyz_bought_with_unsettled_funds, xyz):
    place(xyz_bought_with_unsettled_funds, symbol="XYZ", side="sell", qty=Decimal("50"))
    page = carol_admin.get("/admin/portfolios/goodfaithviolation/")
    assert page.status_code == 200 and xyz_bought_with_unsettled_funds.account_number in page.content.decode()
    assert carol_admin.get("/admin/portfolios/unsettledfundspurchase/").status_code == 200
    assert carol_admin.get("/admin/portfolios/goodfaithviolation/add/").status_code == 403
