"""The batch booking (`executions_book_at_once` → `fills_apply_at_once`) of the order engine's batch and of the paper
venue's tick batch: a batch's complete fills of plain orders booked set-based write exactly the rows, and send exactly
the pushes, that booking each order on its own (`execution_book` → `fill_apply`) does; a batch mixing them with orders
it leaves to that path books every order as that path would; a fill already booked is never booked again; a fill that
fails is rolled back alone."""

import re
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import UserFactory, approved_customer
from portfolios import services as portfolio_services
from portfolios.models import JournalEntry, JournalLine, LedgerAccount, LotClosing, Position, TaxLot
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from speedtrade import realtime
from speedtrade.errors import DomainError
from speedtrade.money import to_step
from trading import engine, services
from trading.brokers.paper import paper_book, paper_book_reset
from trading.models import Execution, Order, OrderEvent
from trading.paper_fills import on_ticks
from trading.risk import Leg, OrderRequest
from trading.tests.conftest import MARKET_OPEN, cash, fill, quote

D = Decimal
BOOKED_AT = MARKET_OPEN + timedelta(minutes=5)


@pytest.fixture(autouse=True)
def engine_process(settings):
    """Placing an order only leaves it `new`: the test runs the engine's batch itself."""
    settings.TRADING_ENGINE_INLINE = False


@pytest.fixture
def assets(db):
    return {
        "ACME": AssetFactory(symbol="ACME", reference_price=D("10.00")),
        "BTC/USD": AssetFactory(crypto=True, reference_price=D("50.00")),
    }


def customer(name: str, account_type: str, deposit: Decimal):
    account = approved_customer(UserFactory(email=f"{name}@example.com"), account_type)
    deposit_settled_post(account=account, amount=deposit)
    return account


def one_at_a_time(fills, *, now):
    """`executions_book_at_once` that books nothing set-based: every fill goes through `execution_book`."""
    return fills


def batch_booked(order_ids, *, at_once: bool) -> list:
    """One engine batch of these orders, set-based or one at a time; the pushes it sent."""
    sent: list = []
    with mock.patch.object(realtime, "publish_to_users", sent.extend):
        if at_once:
            engine.paper_batch_run(order_ids=order_ids)
        else:
            with mock.patch.object(services, "executions_book_at_once", one_at_a_time):
                engine.paper_batch_run(order_ids=order_ids)
    return sent


def tick_batch_booked(quotes, *, at_once: bool) -> list:
    """One tick batch through a freshly loaded paper book, its fills booked set-based or one at a time; the pushes."""
    sent: list = []
    paper_book_reset()
    with mock.patch.object(realtime, "publish_to_users", sent.extend):
        if at_once:
            on_ticks(quotes)
        else:
            with mock.patch.object(services, "executions_book_at_once", one_at_a_time):
                on_ticks(quotes)
    return sent


def rows_and_pushes(accounts, sent: list, before: dict) -> str:
    """Every row the batch may have written for `accounts`, and the pushes per user, with the ids a run draws
    (executions, entries, new positions, lots and closings) replaced by what names them in both runs."""
    account_ids = [account.pk for account in accounts]
    executions = list(Execution.objects.filter(order__account_id__in=account_ids).values())
    names = {str(row["id"]): f"exec<{row['broker_exec_id']}>" for row in executions}
    entries = list(JournalEntry.objects.filter(account_id__in=account_ids).values())
    for entry in entries:
        if entry["cause_object_id"] in names:
            names[str(entry["id"])] = f"entry<{names[entry['cause_object_id']]}>"
    # Each account's in the order written (its lots' order decides which a sale closes), accounts in any order.
    lots = list(TaxLot.objects.filter(account_id__in=account_ids).order_by("account_id", "pk").values())
    closings = list(LotClosing.objects.filter(account_id__in=account_ids).order_by("account_id", "pk").values())
    numbered: dict[str, int] = {}
    for kind, rows in (("lot", lots), ("closing", closings)):
        for row in rows:
            if row["id"] > before[kind]:  # written by the batch: named by its entry and rank
                origin = str(row["opened_by_id"] if kind == "lot" else row["closed_by_id"])
                rank = numbered[f"{kind}{origin}"] = numbered.get(f"{kind}{origin}", 0) + 1
                names[f"{kind}:{row['id']}"] = f"{kind}<{origin}#{rank}>"
    int_fields = {"lot": ("id", "split_from_id"), "closing": ("id", "lot_id")}
    for row in lots:
        for name in int_fields["lot"]:
            row[name] = names.get(f"lot:{row[name]}", row[name])
        row["wash_sale_of_id"] = names.get(f"closing:{row['wash_sale_of_id']}", row["wash_sale_of_id"])
    for row in closings:
        row["id"] = names.get(f"closing:{row['id']}", row["id"])
        row["lot_id"] = names.get(f"lot:{row['lot_id']}", row["lot_id"])
    pushes: dict = {}
    for user_id, stream, data in sent:
        pushes.setdefault(str(user_id), []).append((stream, data))
    rows = {
        "orders": list(Order.objects.filter(account_id__in=account_ids).order_by("created_at").values()),
        "events": list(
            OrderEvent.objects.filter(order__account_id__in=account_ids).order_by("order_id", "id").values()
        ),
        "executions": sorted(executions, key=lambda row: row["broker_exec_id"]),
        "positions": list(
            Position.objects.filter(account_id__in=account_ids).order_by("account_id", "asset_id").values()
        ),
        "ledger": list(LedgerAccount.objects.filter(account_id__in=account_ids).order_by("pk").values()),
        "entries": entries,
        "lines": list(
            JournalLine.objects.filter(entry__account_id__in=account_ids)
            .order_by("entry_id", "ledger_account_id", "amount")
            .values("entry_id", "ledger_account_id", "amount", "settles_on")
        ),
        "lots": lots,
        "closings": closings,
        "pushes": sorted(pushes.items()),
    }
    for table in ("events", "positions", "lines"):  # rows told apart by their other columns
        for row in rows[table]:
            row.pop("id", None)
    pattern = re.compile("|".join(re.escape(key) for key in names if ":" not in key) or "$^")

    def named(value) -> str:
        return pattern.sub(lambda match: names[match.group(0)], repr(value))

    # Entries and lines in another order (their ids are random) are the same entries and lines.
    return "\n".join(
        f"{table}: {sorted(map(named, table_rows)) if table in ('entries', 'lines') else named(table_rows)}"
        for table, table_rows in rows.items()
    )


ACCOUNTS = st.lists(
    st.tuples(
        st.sampled_from(["margin", "margin", "cash"]),
        st.decimals(min_value=D("50"), max_value=D("3000"), places=2),  # deposit
        st.integers(min_value=0, max_value=6),  # ACME shares already held (a lot of their own)
        st.decimals(min_value=D("0"), max_value=D("3"), places=4),  # BTC already held
        st.booleans(),  # an ACME share sold at a loss earlier (a wash-sale candidate for a purchase)
    ),
    min_size=1,
    max_size=3,
)
ORDERS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),  # whose (modulo the accounts)
        st.sampled_from(["BTC/USD", "BTC/USD", "ACME"]),
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=1, max_value=20000),  # qty: ACME shares ÷ 5,000 rounded up, BTC in 1/10,000
        st.sampled_from(["market", "market", "limit", "ioc"]),
    ),
    min_size=1,
    max_size=10,
)


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    accounts=ACCOUNTS,
    orders=ORDERS,
    acme_ask=st.decimals(min_value=D("2"), max_value=D("40"), places=2),
    btc_ask=st.decimals(min_value=D("20"), max_value=D("80"), places=6),
    size=st.sampled_from(["100", "100", "2.5"]),  # a small quote fills some orders partly (one at a time: a cancel)
    move=st.sampled_from(["1", "1.3", "0.9"]),  # the ask at the fill against the ask at placement
    # The engine's batch on acceptance, or (all orders limits that rest) a tick batch that crosses them: one tick per
    # symbol down through the buys' limits, then one up through the sells'.
    via=st.sampled_from(["engine", "tick"]),
)
def test_booked_set_based_or_one_at_a_time_the_batch_writes_the_same_rows(
    assets, accounts, orders, acme_ask, btc_ask, size, move, via
):
    with freeze_time(MARKET_OPEN) as clock, transaction.atomic():
        asks = {"ACME": acme_ask, "BTC/USD": btc_ask}
        for symbol, ask in asks.items():
            quote(symbol=symbol, bid=str(ask - D("0.01")), ask=str(ask), bid_size=size, ask_size=size)
        customers = []
        for n, (kind, deposit, shares, coins, sold_at_loss) in enumerate(accounts):
            account = customer(f"c{n}-{kind}", kind, deposit)
            if shares:
                fill(account, assets["ACME"], str(shares), price="3.00")
                if sold_at_loss and shares > 1:
                    fill(account, assets["ACME"], "1", price="1.00", side="sell")
            if coins:
                fill(account, assets["BTC/USD"], str(coins), price="30.00")
            customers.append(account)
        steps = {"ACME": D("0.01"), "BTC/USD": D("0.000001")}
        resting = via == "tick"
        placed = []
        for whose, symbol, side, qty, kind in orders:
            clock.tick(1)  # each order later than the last: the batch takes them in this order in both runs
            stock = symbol == "ACME"
            if resting:  # below the ask (a buy) or above it (a sell): they rest until the ticks cross them
                kind, away = "limit", D("0.95") if side == "buy" else D("1.05")
                limit = to_step(asks[symbol] * away, steps[symbol])
            else:
                limit = asks[symbol] * D("1.2") if side == "buy" else D("1.00")
            request = OrderRequest(
                symbol=symbol,
                side=side,
                type="market" if kind == "market" else "limit",
                time_in_force="ioc" if kind == "ioc" else ("day" if stock else "gtc"),
                qty=D(-(-qty // 5000)) if stock else D(qty) / 10000,
                limit_price=None if kind == "market" else limit,
            )
            try:
                placed.append(services.order_place(account=customers[whose % len(customers)], request=request)[0].pk)
            except DomainError:
                continue  # refused at placement: nothing to book
        ticks = []
        if resting:
            engine.paper_batch_run(order_ids=placed)  # accepted, nothing filled: the limits rest in the book
            for symbol, ask in asks.items():
                down, up = (to_step(ask * D(factor), steps[symbol]) for factor in ("0.9", "1.1"))
                ticks += [(symbol, down - D("0.01"), down), (symbol, up, up + D("0.01"))]
        else:
            for symbol, ask in asks.items():
                moved = to_step(ask * D(move), steps[symbol])
                quote(symbol=symbol, bid=str(moved - D("0.01")), ask=str(moved), bid_size=size, ask_size=size)
        clock.move_to(BOOKED_AT)
        quotes = [
            quote(symbol=symbol, bid=str(bid), ask=str(ask), bid_size=size, ask_size=size) for symbol, bid, ask in ticks
        ]
        before = {"lot": TaxLot.objects.order_by("-pk").values_list("pk", flat=True).first() or 0}
        before["closing"] = LotClosing.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        runs = []
        for at_once in (False, True):
            savepoint = transaction.savepoint()
            sent = tick_batch_booked(quotes, at_once=at_once) if resting else batch_booked(placed, at_once=at_once)
            call_command("verify_ledger")
            for account in customers:  # no overspend, no oversell
                if account.type == "cash":
                    assert 0 <= cash(account).reserved <= cash(account).balance
                for position in Position.objects.filter(account=account):
                    assert 0 <= position.reserved_qty <= position.qty
            runs.append(rows_and_pushes(customers, sent, before))
            transaction.savepoint_rollback(savepoint)
        transaction.set_rollback(True)
    one_by_one, set_based = runs
    assert set_based == one_by_one


@pytest.mark.django_db
def test_a_batch_mixing_plain_and_other_orders_books_each_as_on_its_own(assets):
    with freeze_time(MARKET_OPEN) as clock:
        quote(symbol="ACME", bid="9.99", ask="10.00", bid_size="100", ask_size="100")
        quote(symbol="BTC/USD", bid="49.99", ask="50.00", bid_size="3", ask_size="3")
        alice, bob, carol = (customer(name, "margin", D("5000")) for name in ("alice", "bob", "carol"))
        dave = customer("dave", "cash", D("1000"))
        fill(carol, assets["BTC/USD"], "2", price="40.00")

        def place(account, symbol, qty, side="buy", **fields):
            clock.tick(1)
            tif = "day" if symbol == "ACME" else "gtc"
            request = OrderRequest(symbol=symbol, side=side, type="market", time_in_force=tif, qty=D(qty))
            return services.order_place(account=account, request=OrderRequest(**{**vars(request), **fields}))[0]

        plain_buy = place(alice, "BTC/USD", "1.5")
        stock_buy = place(alice, "ACME", "3")
        bracket = place(
            bob,
            "ACME",
            "2",
            order_class="bracket",
            take_profit=Leg(limit_price=D("12.00")),
            stop_loss=Leg(stop_price=D("8.00")),
        )
        partial = place(bob, "BTC/USD", "5", time_in_force="ioc")  # 3 on offer: 2 canceled
        plain_sell = place(carol, "BTC/USD", "1.25", side="sell")
        good_faith = place(dave, "ACME", "4")  # a cash account's stock purchase: one at a time
        clock.move_to(BOOKED_AT)

        booked_together = []

        def fills_apply_at_once(fills, *, now):
            booked = real_fills_apply_at_once(fills, now=now)
            booked_together.extend(fills[index].account.user.email for index in booked)
            return booked

        real_fills_apply_at_once = portfolio_services.fills_apply_at_once
        with mock.patch.object(portfolio_services, "fills_apply_at_once", fills_apply_at_once):
            assert engine.paper_batch_run() == 6

    # Alice's and Carol's plain fills together; Bob's (legs, a cancel) and Dave's (good faith) one at a time.
    assert booked_together == ["alice@example.com", "alice@example.com", "carol@example.com"]
    for order in (plain_buy, stock_buy, bracket, partial, plain_sell, good_faith):
        order.refresh_from_db()
    assert [order.status for order in (plain_buy, stock_buy, bracket, plain_sell, good_faith)] == ["filled"] * 5
    assert partial.status == "canceled" and partial.filled_qty == D("3")
    assert sorted(Order.objects.filter(parent=bracket).values_list("status", flat=True)) == ["new", "new"]
    assert cash(alice).balance == D("5000") - D("75.00") - D("30.00") and cash(alice).reserved == 0
    assert cash(bob).balance == D("5000") - D("20.00") - D("150.00") and cash(bob).reserved == 0
    assert Position.objects.get(account=carol, asset=assets["BTC/USD"]).qty == D("0.75")
    assert cash(carol).balance == D("5000") - D("80.00") + D("62.48")  # 1.25 × 49.99, down to the cent
    assert cash(dave).balance == D("960.00") and cash(dave).reserved == 0
    assert Execution.objects.count() == 6
    call_command("verify_ledger")


@pytest.mark.django_db
def test_a_fill_already_booked_is_not_booked_again(assets):
    with freeze_time(MARKET_OPEN):
        quote(symbol="BTC/USD", bid="49.99", ask="50.00", bid_size="100", ask_size="100")
        alice = customer("alice", "cash", D("1000"))
        request = OrderRequest(symbol="BTC/USD", side="buy", type="market", time_in_force="gtc", qty=D("1"))
        for _ in range(2):
            services.order_place(account=alice, request=request)
        with transaction.atomic():
            orders = services.inbox_claim(venue="paper", limit=10)
            services.orders_accepted_at_once(
                orders=orders, broker_order_ids={o.pk: "" for o in orders}, now=MARKET_OPEN
            )
            report = services.VenueFill(
                order=orders[0], broker_exec_id="venue:1", qty=D("1"), price=D("50.00"), executed_at=MARKET_OPEN
            )
            repeated = services.VenueFill(**{**vars(report), "order": orders[0]})
            # The same report twice in one batch: that account's fills are left to `execution_book`, which books one.
            left = services.executions_book_at_once([report, repeated], now=MARKET_OPEN)
            assert left == [report, repeated]
            assert services.execution_book(**vars(report), now=MARKET_OPEN) is not None
            assert services.execution_book(**vars(repeated), now=MARKET_OPEN) is None
            # A later batch with a report already booked (here on the other order): nothing booked, nothing left.
            late = services.VenueFill(**{**vars(report), "order": orders[1]})
            assert services.executions_book_at_once([late], now=MARKET_OPEN) == []

    assert Execution.objects.count() == 1
    assert sorted(Order.objects.values_list("status", flat=True)) == ["accepted", "filled"]
    assert cash(alice).balance == D("950.00")
    call_command("verify_ledger")


@pytest.mark.django_db
def test_when_the_set_based_write_fails_the_batch_is_booked_one_order_at_a_time(assets):
    with freeze_time(MARKET_OPEN):
        quote(symbol="BTC/USD", bid="49.99", ask="50.00", bid_size="100", ask_size="100")
        alice, bob = customer("alice", "cash", D("1000")), customer("bob", "margin", D("1000"))
        request = OrderRequest(symbol="BTC/USD", side="buy", type="market", time_in_force="gtc", qty=D("2"))
        for account in (alice, bob):
            services.order_place(account=account, request=request)
        # The last write of the set-based path fails: what it wrote before (positions, cash, entries) rolls back.
        with mock.patch.object(TaxLot.objects, "bulk_create", side_effect=DatabaseError("lost the connection")):
            assert engine.paper_batch_run() == 2

    assert set(Order.objects.values_list("status", flat=True)) == {"filled"}
    assert Execution.objects.count() == 2 and TaxLot.objects.count() == 2
    assert JournalEntry.objects.filter(cause_type="fill").count() == 2
    for account in (alice, bob):
        assert cash(account).balance == D("900.00") and cash(account).reserved == 0
        assert Position.objects.get(account=account).qty == D("2")
    call_command("verify_ledger")


@pytest.mark.django_db
def test_a_tick_crossing_resting_orders_of_several_accounts_books_them_together_but_a_failing_one_alone(assets):
    with freeze_time(MARKET_OPEN) as clock:
        quote(symbol="ACME", bid="9.99", ask="10.00", bid_size="100", ask_size="100")
        quote(symbol="BTC/USD", bid="49.99", ask="50.00", bid_size="100", ask_size="100")
        alice, bob = customer("alice", "margin", D("1000")), customer("bob", "cash", D("1000"))
        carol, dave = customer("carol", "cash", D("1000")), customer("dave", "cash", D("1000"))

        def rest(account, symbol, qty, limit):
            clock.tick(1)
            tif = "day" if symbol == "ACME" else "gtc"
            request = OrderRequest(
                symbol=symbol, side="buy", type="limit", time_in_force=tif, qty=D(qty), limit_price=D(limit)
            )
            return services.order_place(account=account, request=request)[0]

        plain = [rest(alice, "BTC/USD", "2", "45.00"), rest(bob, "BTC/USD", "1", "45.00")]
        failing = rest(carol, "ACME", "3", "9.00")  # a cash account's stock purchase: booked one at a time
        after_it = rest(dave, "ACME", "4", "9.00")
        assert engine.paper_batch_run() == 4  # accepted; the limits rest
        clock.move_to(BOOKED_AT)

        booked_together = []
        real_fills_apply_at_once, real_execution_book = portfolio_services.fills_apply_at_once, services.execution_book

        def fills_apply_at_once(fills, *, now):
            booked = real_fills_apply_at_once(fills, now=now)
            booked_together.extend(fills[index].account.user.email for index in booked)
            return booked

        def execution_book(*, order, **fill):
            if order.pk == failing.pk:
                raise DomainError("The venue's report could not be booked.", code="refused")
            return real_execution_book(order=order, **fill)

        with (
            mock.patch.object(portfolio_services, "fills_apply_at_once", fills_apply_at_once),
            mock.patch.object(services, "execution_book", execution_book),
        ):
            on_ticks(
                [
                    quote(symbol="BTC/USD", bid="43.99", ask="44.00", bid_size="100", ask_size="100"),
                    quote(symbol="ACME", bid="8.49", ask="8.50", bid_size="100", ask_size="100"),
                ]
            )

        # Alice's and Bob's fills in one set-based write; Carol's refused alone, Dave's booked after it.
        assert booked_together == ["alice@example.com", "bob@example.com"]
        for order in (*plain, failing, after_it):
            order.refresh_from_db()
        assert [order.status for order in (*plain, after_it)] == ["filled"] * 3
        assert failing.status == "accepted" and failing.filled_qty == 0 and not failing.executions.exists()
        assert cash(carol).balance == D("1000") and cash(carol).reserved == D("27.00")
        assert cash(alice).balance == D("912.00") and cash(bob).balance == D("956.00") and cash(bob).reserved == 0
        assert cash(dave).balance == D("966.00") and cash(dave).reserved == 0
        # The book read Carol's order again: the next tick fills it.
        assert paper_book().orders[failing.pk].filled_qty == 0
        on_ticks([quote(symbol="ACME", bid="8.59", ask="8.60", bid_size="100", ask_size="100")])
        failing.refresh_from_db()
        assert failing.status == "filled" and cash(carol).balance == D("974.20") and cash(carol).reserved == 0

    assert Execution.objects.count() == 4
    call_command("verify_ledger")
