"""Random buy/sell sequences through `fill_apply`, any lot method, fees, gaps that make wash sales: the lots
always agree with the books.

P&L is defined with fees: total P&L = cash after − cash before + the held shares at the last price
(unrounded). Realized P&L is what the lot closings report (proceeds net of fees − basis, disallowed
wash-sale losses added back), unrealized is the open lots at the last price − their basis. Their sum is
the total exactly, because a disallowed loss moves into a replacement lot's basis rather than vanishing.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolios import selectors, services
from portfolios.models import Account, LotClosing, Position, TaxLot
from portfolios.tests.factories import AssetFactory
from portfolios.tests.helpers import balances
from speedtrade.errors import DomainError

pytestmark = pytest.mark.django_db
D = Decimal
START = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)

steps = st.lists(
    st.tuples(
        st.booleans(),  # buy (else sell)
        st.decimals(min_value=D("0.01"), max_value=D("40"), places=2),  # shares
        st.decimals(min_value=D("1.00"), max_value=D("60"), places=2),  # price
        st.sampled_from([D("0"), D("0"), D("0.01"), D("0.35"), D("1.00")]),  # fee
        st.integers(min_value=0, max_value=45),  # days since the previous fill: some within 30, some not
    ),
    min_size=1,
    max_size=14,
)


def total(queryset, field):
    return queryset.aggregate(total=Sum(field))["total"] or D(0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sequence=steps,
    method=st.sampled_from(Account.LotMethod.values),
    crypto=st.booleans(),
    last_price=st.decimals(min_value=D("0.50"), max_value=D("80"), places=2),
)
def test_lots_agree_with_the_books_after_any_sequence(alice_account, sequence, method, crypto, last_price):
    with transaction.atomic():  # rolled back at the end: each example starts from the same account
        Account.objects.filter(pk=alice_account.pk).update(lot_method=method)
        account = Account.objects.get(pk=alice_account.pk)
        services.deposit_settled_post(account=account, amount=D("40000.00"))
        asset = AssetFactory(crypto=True) if crypto else AssetFactory(symbol="PROP")
        cash_before = balances(account)["cash"]
        at = START
        for is_buy, qty, price, fee, gap in sequence:
            at += timedelta(days=gap, minutes=1)
            held = Position.objects.filter(account=account, asset=asset).values_list("qty", flat=True).first() or 0
            if not is_buy:
                qty = min(qty, held)
                if not qty:
                    continue
            try:
                with transaction.atomic():
                    services.fill_apply(
                        account=account,
                        asset=asset,
                        side="buy" if is_buy else "sell",
                        qty=qty,
                        price=price,
                        fee=fee,
                        executed_at=at,
                        cause=None,
                    )
            except DomainError:
                continue  # a sale worth under a cent: refused, nothing booked

            assert selectors.lot_discrepancies() == []

        lots = TaxLot.objects.filter(account=account)
        closings = LotClosing.objects.filter(account=account)
        held = Position.objects.get(account=account, asset=asset).qty if lots.exists() else D(0)
        assert total(lots, "open_qty") == held
        assert not lots.filter(open_qty__lt=0).exists() and not lots.filter(open_basis__lt=0).exists()
        # Basis is conserved: what the lots cost plus the losses moved into them = closed + open basis.
        assert total(lots, "cost") + total(lots, "wash_sale_adjustment") == total(closings, "cost_basis") + total(
            lots, "open_basis"
        )
        assert total(lots, "wash_sale_adjustment") == total(closings, "wash_sale_disallowed")
        if crypto:
            assert total(closings, "wash_sale_disallowed") == 0
        realized = total(closings, "gain") + total(closings, "wash_sale_disallowed")
        unrealized = held * last_price - total(lots, "open_basis")
        total_pl = balances(account)["cash"] - cash_before + held * last_price
        assert realized + unrealized == total_pl
        transaction.set_rollback(True)
