"""Any mix of deposits, buys and sales with fees on both sides of the month's start: the statement adds up with the
ledger to the cent."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from documents.selectors import monthly_statement_figures
from portfolios.models import LedgerAccount, Position
from portfolios.services import deposit_settled_post, fill_apply
from portfolios.tests.factories import AssetFactory
from speedtrade.errors import DomainError

D = Decimal
FEBRUARY = datetime(2026, 2, 16, 15, 0, tzinfo=UTC)  # before the statement's month
MARCH = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
APRIL_SECOND = datetime(2026, 4, 2, 15, 0, tzinfo=UTC)

steps = st.lists(
    st.tuples(
        st.booleans(),  # buy (else sell what is held, at most)
        st.decimals(min_value=D("0.01"), max_value=D("30"), places=2),  # shares
        st.decimals(min_value=D("1.00"), max_value=D("50"), places=2),  # price
        st.sampled_from([D("0"), D("0.35"), D("1.00")]),  # fee
        st.integers(min_value=0, max_value=40),  # days from mid-February: both sides of 1 March
        st.decimals(min_value=D("0"), max_value=D("500"), places=2),  # a deposit before the fill
    ),
    min_size=1,
    max_size=10,
)


class _RolledBack(Exception):
    """Ends an example's transaction, so each starts from the same empty account."""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_opening_plus_activity_is_closing_and_equity_is_cash_plus_holdings(alice_account, sequence):
    try:
        with transaction.atomic():
            asset = AssetFactory(symbol="PROP", reference_price=D("12.34"))
            for is_buy, qty, price, fee, day, deposit in sequence:
                at = FEBRUARY + timedelta(days=day)
                if deposit:
                    with freeze_time(at):
                        deposit_settled_post(account=alice_account, amount=deposit)
                held = Position.objects.filter(account=alice_account, asset=asset).values_list("qty", flat=True)
                qty = qty if is_buy else min(qty, held.first() or 0)
                if not qty:
                    continue
                try:
                    with transaction.atomic():
                        side = "buy" if is_buy else "sell"
                        fill_apply(
                            account=alice_account, asset=asset, side=side, qty=qty, price=price, fee=fee,
                            executed_at=at, cause=None,
                        )  # fmt: skip
                except DomainError:
                    continue  # refused (buying power, a sale under a cent): nothing booked

            with freeze_time(APRIL_SECOND):
                data = monthly_statement_figures(
                    account=alice_account, start=MARCH.date().replace(day=1), end=MARCH.date().replace(day=31)
                )

            cash = LedgerAccount.objects.get(account=alice_account, kind=LedgerAccount.Kind.CASH).balance
            activity = sum((D(line["amount"]) for line in data["activity"]), D(0))
            assert D(data["opening_cash"]) + activity == D(data["closing_cash"]) == cash  # nothing after March
            assert D(data["net_cash_activity"]) == activity
            summary = sum((D(v) for v in data["summary"].values()), D(0))
            assert summary == activity
            held = Position.objects.filter(account=alice_account, asset=asset).values_list("qty", flat=True).first()
            holdings = {h["symbol"]: D(h["qty"]) for h in data["holdings"]}
            assert holdings.get("PROP", D(0)) == (held or D(0))
            values = sum((D(h["value"]) for h in data["holdings"]), D(0))
            assert D(data["closing_equity"]) - D(data["closing_cash"]) == values == D(data["closing_holdings_value"])
            assert D(data["opening_equity"]) - D(data["opening_cash"]) == D(data["opening_holdings_value"])
            raise _RolledBack
    except _RolledBack:
        pass
