"""The valuation's reads are two prepared statements on PostgreSQL and the ORM's three on SQLite: on random ledgers
(deposits, withdrawals, adjustments, fills, fees and reversals at random times and settlement dates), close
snapshots, positions (open and closed) and incoming transfers, both read the same figures — every Decimal with its
exponent — and price to the same account at random quotes."""

import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.tests.factories import UserFactory, approved_customer
from marketdata.models import Asset
from portfolios import selectors
from portfolios.models import Account, EquitySnapshot, JournalEntry, LedgerAccount, Position, Transfer
from portfolios.selectors.common import today_et
from portfolios.selectors.valuation import _inputs_from, _previous_session_close, _read_with_orm, _read_with_sql
from portfolios.services.ledger import Leg, journal_entry_post, platform_ledger_account
from portfolios.tests.factories import AssetFactory
from speedtrade.money import to_cents

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday in regular hours; Tuesday closed at 21:00 UTC
Cause = JournalEntry.Cause
Kind = LedgerAccount.Kind

cents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500.00"), places=2)
# Around today, and exactly at the closes today's flows are counted from (a previous close or a snapshot's time).
closes = [datetime(2026, 3, day, 21, 0, tzinfo=UTC) for day in range(1, 6)]
moments = st.one_of(
    st.integers(min_value=-72, max_value=6).map(lambda hours: AS_OF + timedelta(hours=hours, minutes=7)),
    st.sampled_from(closes),
)
settlement = st.one_of(st.none(), st.integers(min_value=-3, max_value=3).map(lambda d: AS_OF.date() + timedelta(d)))
entries = st.lists(
    st.tuples(st.sampled_from([c for c in Cause if c != Cause.REVERSAL]), cents, moments, settlement, st.booleans()),
    max_size=8,
)
positions = st.lists(
    st.tuples(
        st.decimals(min_value=0, max_value=50, places=3),  # 0: closed
        st.decimals(min_value=Decimal("-200"), max_value=Decimal("200"), places=2),  # realized P&L
        st.one_of(st.none(), moments),  # opened at
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("900"), places=2),  # price now
        st.one_of(st.none(), st.decimals(min_value=Decimal("0.01"), max_value=Decimal("900"), places=2)),  # last close
    ),
    max_size=3,
)
transfers = st.lists(
    st.tuples(st.sampled_from(Transfer.Direction), st.sampled_from(Transfer.Status), cents), max_size=3
)
snapshots = st.lists(
    st.tuples(st.sampled_from(EquitySnapshot.Kind), st.integers(min_value=-4, max_value=1), cents),
    max_size=3,
    unique_by=lambda snapshot: snapshot[:2],
)


@pytest.fixture
def account(db):
    account = approved_customer(UserFactory(), account_type="margin")
    journal_entry_post(
        cause_type=Cause.DEPOSIT,
        legs=[
            Leg(_ledger(account, Kind.CASH), Decimal("5000.00")),
            Leg(platform_ledger_account(Kind.BANK), Decimal("-5000.00")),
        ],
        account=account,
        effective_at=AS_OF - timedelta(days=30),
    )
    return account


@pytest.fixture
def assets(db):
    return [
        AssetFactory(symbol="ACME"),
        AssetFactory(symbol="BETA", marginable=False),
        AssetFactory(crypto=True, symbol="ETH/USD"),
    ]


def _ledger(account, kind) -> LedgerAccount:
    return LedgerAccount.objects.get(account=account, kind=kind)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=entries, positions=positions, transfers=transfers, snapshots=snapshots, account_read=st.booleans())
def test_the_prepared_statements_read_and_price_what_the_orm_does(
    account, assets, entries, positions, transfers, snapshots, account_read
):
    with transaction.atomic():
        _given(account, assets, entries, positions, transfers, snapshots)
        # Changed behind the caller's instance: the row read with the figures shows it, as the ORM's get does.
        Account.objects.filter(pk=account.pk).update(transfers_blocked=True, lot_method=Account.LotMethod.HIFO)
        today = today_et(AS_OF)
        previous_close = _previous_session_close(today)
        by_sql = _read_with_sql(account, today, previous_close=previous_close, account_read=account_read)
        by_orm = _read_with_orm(account, today, previous_close=previous_close, account_read=account_read)
        assert _comparable(by_sql) == _comparable(by_orm)
        assert (by_sql[3] is not None) == account_read
        if account_read:
            assert by_sql[3].transfers_blocked and by_sql[3].lot_method == Account.LotMethod.HIFO

        prices = {asset.pk: price for asset, (_, _, _, price, _) in zip(assets, positions, strict=False)}
        closes = {asset.pk: close for asset, (*_, close) in zip(assets, positions, strict=False) if close is not None}
        for asset in assets:
            prices.setdefault(asset.pk, Decimal("1.00"))
        valued = [
            selectors.valuation_priced(
                inputs=_inputs_from(account, AS_OF, reads), prices=prices, previous_closes=closes
            )
            for reads in (by_sql, by_orm)
        ]
        assert _valuation_figures(valued[0]) == _valuation_figures(valued[1])
        transaction.set_rollback(True)


def _given(account, assets, entries, positions, transfers, snapshots) -> None:
    cash, hold = _ledger(account, Kind.CASH), _ledger(account, Kind.WITHDRAWAL_HOLD)
    counterpart = {
        Cause.DEPOSIT: Kind.BANK,
        Cause.FILL: Kind.VENUE_SETTLEMENT,
        Cause.FEE: Kind.FEES,
        Cause.ADJUSTMENT: Kind.ADJUSTMENTS,
    }
    for cause, amount, at, settles_on, reversed_later in entries:
        into_cash = amount if cause in (Cause.DEPOSIT, Cause.ADJUSTMENT) else -amount
        # A withdrawal moves the cash to the hold (its payout is another entry); the rest meet the platform.
        other = hold if cause == Cause.WITHDRAWAL else platform_ledger_account(counterpart[cause])
        legs = [Leg(cash, into_cash, settles_on), Leg(other, -into_cash)]
        trade = (
            {"asset": assets[0], "side": "buy", "qty": Decimal("1"), "price": amount} if cause == Cause.FILL else None
        )
        entry = journal_entry_post(cause_type=cause, legs=legs, account=account, effective_at=at, trade=trade)
        if reversed_later and cause != Cause.FILL:
            mirror = [Leg(leg.ledger_account, -leg.amount, leg.settles_on) for leg in legs]
            journal_entry_post(
                cause_type=Cause.REVERSAL, legs=mirror, account=account, reverses=entry, effective_at=at + timedelta(1)
            )
    for asset, (qty, realized, opened_at, price, _) in zip(assets, positions, strict=False):
        Position.objects.create(
            account=account,
            asset=asset,
            qty=qty,
            reserved_qty=qty / 2 if asset.asset_class == Asset.AssetClass.US_EQUITY else 0,
            avg_entry_price=price,
            cost_basis=to_cents(qty * price),
            realized_pl=realized,
            opened_at=opened_at,
        )
    for direction, status, amount in transfers:
        Transfer.objects.create(account=account, direction=direction, status=status, amount=amount)
    for n, (kind, days, equity) in enumerate(snapshots):
        session_date = AS_OF.date() + timedelta(days)
        EquitySnapshot.objects.create(
            account=account,
            timestamp=datetime.combine(session_date, datetime.min.time(), UTC) + timedelta(hours=21, seconds=n),
            kind=kind,
            session_date=session_date,
            equity=equity,
            cash=equity,
            long_market_value=0,
            net_contributions=equity - n,
            profit_loss=n,
        )


def _exact(value):
    """A value as compared: a Decimal with its exponent (Decimal("1.0") == Decimal("1.00"), their text is not)."""
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    if isinstance(value, (list, tuple)):
        return [_exact(item) for item in value]
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    return value


def _row(instance) -> dict:
    return {field.attname: _exact(getattr(instance, field.attname)) for field in instance._meta.concrete_fields}


def _comparable(reads) -> tuple:
    last_close, ledger, held, account_row = reads
    sums = ["due_total", "due_last", "flows_today", "lines_before", "net_contributions", "realized_pl"]
    ledger_rows = {
        kind: {**_row(row), **{name: _exact(getattr(row, name)) for name in [*sums, "pending_transfer_in"]}}
        for kind, row in ledger.items()
    }
    held_rows = [(_row(position), _row(position.asset)) for position in held]
    return _exact(last_close), ledger_rows, held_rows, account_row and _row(account_row)


def _valuation_figures(valuation) -> dict:
    figures = asdict(valuation)
    figures.pop("account")
    figures["positions"] = [
        {name: value for name, value in position.items() if name not in ("position", "asset")}
        for position in figures["positions"]
    ]
    return _exact(figures)


def test_the_reads_are_two_statements_on_postgresql(account, assets, django_assert_num_queries):
    Position.objects.create(account=account, asset=assets[0], qty=1, avg_entry_price=10, cost_basis=10)
    with django_assert_num_queries(2):
        inputs = selectors.valuation_inputs(account=account, as_of=AS_OF)
    assert [position.asset.symbol for position in inputs.held] == ["ACME"]
    assert inputs.cash.balance == Decimal("5000.00")


def test_the_account_row_is_read_in_the_ledgers_statement(account, django_assert_num_queries):
    with django_assert_num_queries(2):
        inputs = selectors.valuation_inputs(account=account, as_of=AS_OF, account_read=True)
    assert inputs.account is not account and _row(inputs.account) == _row(Account.objects.get(pk=account.pk))


def test_an_account_that_is_gone_is_not_found_as_by_the_orm(account):
    gone = Account(pk=uuid.uuid4())
    for read in (_read_with_sql, _read_with_orm):
        with pytest.raises(Account.DoesNotExist, match="Account matching query does not exist."):
            read(gone, today_et(AS_OF), previous_close=AS_OF, account_read=True)


def test_today_starts_at_the_previous_sessions_close_without_a_snapshot():
    assert _previous_session_close(date(2026, 3, 4)) == datetime(2026, 3, 3, 21, 0, tzinfo=UTC)
