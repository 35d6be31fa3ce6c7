"""The one writer of order placement (`trading/order_writer.py`): under concurrent duplicates, overspend and
oversell it keeps every promise order entry makes, its audit record is part of the order's transaction, and its
PostgreSQL function and its ORM path (the embedded default's) decide every placement the same way."""

import asyncio
import re
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent
from marketdata.models import Asset
from portfolios.models import Account, LedgerAccount, Position
from portfolios.services import account_restriction_apply
from speedtrade.errors import DomainError
from trading import order_writer, risk
from trading.models import Order, OrderEvent
from trading.risk import OrderRejected, OrderRequest
from trading.services import order_place
from trading.services.orders import ClientOrderIdReused, placement_build
from trading.tests.conftest import MARKET_OPEN, cash, fill, quote
from trading.tests.races import LOCK_WAIT_LIMIT_SECONDS, race

D = Decimal
THREADS = 8
# Real commits on several connections (restored afterwards): the concurrency and race tests.
commits = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def limit(side="buy", qty="10", price="9.00", **fields) -> OrderRequest:
    return OrderRequest(
        symbol="ACME", side=side, type="limit", time_in_force="day", qty=D(qty), limit_price=D(price), **fields
    )


def all_at_once(action, threads=THREADS) -> list:
    """`action()` in `threads` threads, each on its own connection, released together: each one's order or error."""
    start = threading.Barrier(threads)
    outcomes: list = [None] * threads

    def run(index: int) -> None:
        try:
            start.wait(LOCK_WAIT_LIMIT_SECONDS)
            outcomes[index] = action()
        except Exception as error:  # the test judges it
            outcomes[index] = error
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(LOCK_WAIT_LIMIT_SECONDS)
    assert not any(worker.is_alive() for worker in workers)
    return outcomes


def placed_and_refused(outcomes) -> tuple[list[Order], list[Exception]]:
    placed = [outcome[0] for outcome in outcomes if isinstance(outcome, tuple)]
    return placed, [outcome for outcome in outcomes if isinstance(outcome, Exception)]


# --- Concurrency: N customers' requests at once on one account --------------------------------------


@commits
def test_the_same_client_order_id_sent_by_many_at_once_places_one_order_and_all_get_it(
    alice_account, acme, market_open
):
    quote()
    outcomes = all_at_once(lambda: order_place(account=alice_account, request=limit(client_order_id="once")))

    assert all(isinstance(outcome, tuple) for outcome in outcomes), outcomes
    assert {order.pk for order, _ in outcomes} == {Order.objects.get().pk}
    assert sorted(created for _, created in outcomes) == [False] * (THREADS - 1) + [True]
    assert cash(alice_account).reserved == D("90.00")  # held once
    assert OrderEvent.objects.filter(event="new").count() == 1
    assert AuditEvent.objects.filter(action="trading.order_placed").count() == 1


@commits
def test_buys_at_once_that_together_overspend_never_hold_more_than_the_cash(alice_account, acme, market_open):
    quote()
    # $135 each, more than $1,000 / 8: seven fit, the eighth does not.
    outcomes = all_at_once(lambda: order_place(account=alice_account, request=limit(qty="15")))
    placed, refused = placed_and_refused(outcomes)

    ledger = cash(alice_account)
    assert ledger.reserved <= ledger.balance == D("1000.00")
    assert (len(placed), len(refused)) == (7, 1)
    assert ledger.reserved == sum(order.reserved_cash for order in placed) == D("945.00")
    assert sorted(Order.objects.values_list("pk", flat=True)) == sorted(order.pk for order in placed)
    (refusal,) = refused
    assert isinstance(refusal, OrderRejected) and refusal.code == "insufficient_buying_power"
    assert refusal.message == "Insufficient buying power: the order needs $135.00, $55.00 is available."


@commits
def test_sells_at_once_that_together_oversell_never_hold_more_shares_than_are_held(alice_account, acme, market_open):
    quote()
    fill(alice_account, acme, "10")
    outcomes = all_at_once(lambda: order_place(account=alice_account, request=limit("sell", qty="3", price="10.50")))
    placed, refused = placed_and_refused(outcomes)

    position = Position.objects.get(account=alice_account, asset=acme)
    assert (len(placed), len(refused)) == (3, THREADS - 3)
    assert position.reserved_qty == sum(order.reserved_qty for order in placed) == D(9) <= position.qty
    assert Order.objects.count() == 3
    assert {(type(error), error.code, error.message) for error in refused} == {
        (OrderRejected, "insufficient_position", "Cannot sell 3 ACME: 1 available (short selling is not allowed).")
    }


# --- The lock, deterministically: the second request waits for the first to commit -----------------


@commits
def test_a_duplicate_waiting_for_the_lock_gets_the_order_committed_before_it(alice_account, acme, market_open):
    quote()
    request = limit(client_order_id="retry-while-placing")
    (first, created), competitor = race(
        lambda: order_place(account=alice_account, request=request),
        lambda: order_place(account=alice_account, request=request),
    )
    assert competitor.error is None
    assert (created, competitor.result) == (True, (first, False))
    assert Order.objects.count() == 1


@commits
def test_a_buy_waiting_for_the_lock_sees_the_cash_the_first_one_reserved(alice_account, acme, market_open):
    quote()
    _, competitor = race(
        lambda: order_place(account=alice_account, request=limit(qty="100")),  # $900
        lambda: order_place(account=alice_account, request=limit(qty="20")),  # $180: checked before the lock
    )
    assert isinstance(competitor.error, OrderRejected)
    assert competitor.error.message == "Insufficient buying power: the order needs $180.00, $100.00 is available."
    assert cash(alice_account).reserved == D("900.00") and Order.objects.count() == 1


@commits
def test_an_order_checked_before_trading_was_blocked_is_refused_once_the_block_commits(
    alice_account, acme, market_open, carol
):
    quote()
    _, competitor = race(
        lambda: account_restriction_apply(
            account=alice_account,
            kind="trading",
            blocked=True,
            actor=carol,
            reason="Unusual activity",
            customer_message="under_review",
        ),
        lambda: order_place(account=alice_account, request=limit()),  # passed the unlocked checks already
    )
    assert isinstance(competitor.error, OrderRejected) and competitor.error.code == "account_not_tradable"
    assert competitor.error.message == (
        "trading blocked: Your account is under review. Contact Support if you have questions."
    )
    assert not Order.objects.exists() and cash(alice_account).reserved == 0


# --- Idempotency and the audit record ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_retry_gets_the_original_even_when_a_new_order_would_now_be_refused(alice_account, acme, market_open):
    quote()
    first, _ = order_place(account=alice_account, request=limit(qty="100", client_order_id="big"))
    again, created = order_place(account=alice_account, request=limit(qty="100", client_order_id="big"))  # no cash
    acme.tradable = False
    acme.save()
    halted, created_when_halted = order_place(account=alice_account, request=limit(qty="100", client_order_id="big"))

    assert (again.pk, created, halted.pk, created_when_halted) == (first.pk, False, first.pk, False)
    assert cash(alice_account).reserved == D("900.00") and Order.objects.count() == 1
    with pytest.raises(ClientOrderIdReused):
        order_place(account=alice_account, request=limit(qty="99", client_order_id="big"))


@commits
def test_the_audit_record_is_written_and_committed_with_the_order(alice, alice_account, acme, market_open):
    quote()

    def seen_from_another_connection(order_id) -> tuple[bool, bool]:
        (seen,) = all_at_once(
            lambda: (
                Order.objects.filter(pk=order_id).exists(),
                AuditEvent.objects.filter(target_id=str(order_id)).exists(),
            ),
            threads=1,
        )
        return seen

    with transaction.atomic():
        order, _ = order_place(account=alice_account, request=limit(client_order_id="audited"))
        audit = AuditEvent.objects.get(target_type="trading.order", target_id=str(order.pk))
        assert seen_from_another_connection(order.pk) == (False, False)
    assert seen_from_another_connection(order.pk) == (True, True)
    # Its content is test_order_audit's; here: it is the order's own record, visible exactly when the order is.
    assert (audit.action, audit.actor, audit.after["client_order_id"]) == ("trading.order_placed", alice, "audited")


@pytest.mark.django_db
def test_a_rolled_back_placement_leaves_neither_order_nor_audit_record(alice_account, acme, market_open):
    quote()
    with transaction.atomic():
        order_place(account=alice_account, request=limit())
        transaction.set_rollback(True)
    assert not Order.objects.exists() and not AuditEvent.objects.filter(action="trading.order_placed").exists()
    assert cash(alice_account).reserved == 0


@commits
def test_the_async_entry_places_and_finds_the_order_on_a_psycopg_connection(alice_account, acme):
    """The lean request path's entry: the same parameters and outcomes on a psycopg AsyncConnection of its own."""
    quote()
    now = timezone.now()
    request = limit(client_order_id="lean")
    checked = risk.pre_trade_check(
        alice_account, request, asset=acme, opposite_open=None, now=now, with_buying_power=False
    )
    database = connection.settings_dict
    conninfo = (
        f"host={database['HOST']} port={database['PORT'] or 5432} dbname={database['NAME']} user={database['USER']}"
    )

    # Built before the event loop, as a lean path builds them from its cached account and user.
    placements = [placement_build(account=alice_account, checked=checked, now=now) for _ in range(2)]

    async def place_twice():
        async with await psycopg.AsyncConnection.connect(conninfo) as conn, conn.transaction():
            return [await order_writer.order_write_async(conn, placement) for placement in placements]

    first, again = asyncio.run(place_twice())

    assert (first.result, again.result, again.order_id) == ("created", "existing", first.order_id)
    order = Order.objects.get(client_order_id="lean")
    assert (order.pk, order.reserved_cash, cash(alice_account).reserved) == (first.order_id, D("90.00"), D("90.00"))
    assert AuditEvent.objects.get(pk=first.audit_event_id).target_id == str(order.pk)
    assert OrderEvent.objects.filter(order=order, event="new").count() == 1


# --- The function and the ORM path decide alike (differential, on PostgreSQL) -----------------------

PRICES = [None, D("9.00"), D("9.50"), D("10.00"), D("10.50")]
STEPS = st.one_of(
    st.tuples(
        st.just("place"),
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=1, max_value=60),
        st.sampled_from(PRICES),
        st.integers(min_value=0, max_value=5),
    ),
    st.tuples(st.just("retry"), st.integers(min_value=0, max_value=30)),  # an earlier request again
    st.tuples(st.just("reuse"), st.integers(min_value=0, max_value=30)),  # its client_order_id, another qty
    st.tuples(st.just("shares_gone"), st.integers(min_value=1, max_value=30)),  # a sell the checks saw shares for
    st.tuples(st.just("blocked"), st.booleans()),  # a block the checks did not see (the account read earlier)
)


def _run(account: Account, steps: list) -> tuple:
    """The steps through order entry; what each answered, and every row they left."""
    answers, requests = [], []
    for number, step in enumerate(steps):
        try:
            # Each step a second later: "the newest crossing order" is then the same order in both runs.
            answers.append(_step(account, step, requests, now=MARKET_OPEN + timedelta(seconds=number)))
        except DomainError as refusal:
            answers.append((type(refusal).__name__, refusal.code, refusal.message, refusal.field, refusal.fields))
    return _named(answers), _named(_rows(account))


def _step(account: Account, step: tuple, requests: list, now: datetime):
    kind, *args = step
    if kind == "place":
        side, qty, price, number = args
        priced = {"type": "market"} if price is None else {"type": "limit", "limit_price": price}
        fields = {"symbol": "ACME", "side": side, "time_in_force": "day", "qty": D(qty), **priced}
        requests.append(OrderRequest(client_order_id=f"c{number}-{len(requests)}", **fields))
    elif kind in ("retry", "reuse"):
        if not requests:
            return "nothing to repeat"
        earlier = requests[args[0] % len(requests)]
        requests.append(earlier if kind == "retry" else OrderRequest(**{**vars(earlier), "qty": earlier.qty + 1}))
    elif kind == "shares_gone":
        request = OrderRequest(
            symbol="ACME",
            side="sell",
            type="market",
            time_in_force="day",
            qty=D(args[0]),
            client_order_id=f"gone-{len(requests)}",
        )
        requests.append(request)
        asset = Asset.objects.get(symbol="ACME")
        checked = risk.PreTrade(
            request=request, asset=asset, broker="paper", quote=None, holding=risk.Holding(qty=request.qty)
        )
        placement = placement_build(account=account, checked=checked, now=now)
        outcome = order_writer.order_write(placement)
        if outcome.refused:
            order_writer.refusal_raise(outcome, placement)
        return outcome.result, placement.order.client_order_id
    else:
        Account.objects.filter(pk=account.pk).update(trading_blocked=args[0])
        return "blocked" if args[0] else "unblocked"
    order, created = order_place(account=account, request=requests[-1], now=now)
    return created, order.client_order_id


def _rows(account: Account) -> tuple:
    ledger = LedgerAccount.objects.get(account=account, kind="cash")
    return (
        ledger.balance,
        ledger.reserved,
        list(Position.objects.filter(account=account).values_list("qty", "reserved_qty")),
        list(Order.objects.order_by("created_at", "client_order_id").values()),
        list(OrderEvent.objects.order_by("id").values("order_id", "event", "from_status", "to_status", "detail")),
        list(
            AuditEvent.objects.filter(action__startswith="trading.")
            .order_by("id")
            .values(
                "created_at",
                "actor_id",
                "actor_type",
                "action",
                "target_type",
                "target_id",
                "subject_user_id",
                "before",
                "after",
                "ip_address",
                "user_agent",
            )
        ),
    )


def _named(value):
    """Order ids (random per run) replaced by their client_order_ids, which the steps choose."""
    names = {str(pk): cid for pk, cid in Order.objects.values_list("pk", "client_order_id")}
    pattern = re.compile("|".join(map(re.escape, names)) or "$^")
    text = repr(value)
    # Row ids (sequences keep counting across runs) are left out of the rows compared; only order ids remain.
    return re.sub(r"'id': [^,]+, ", "", pattern.sub(lambda match: names[match.group(0)], text))


@pytest.mark.django_db
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(STEPS, min_size=1, max_size=12))
def test_the_function_and_the_orm_path_answer_and_write_alike(alice_account, acme, steps):
    with freeze_time(MARKET_OPEN), transaction.atomic():
        quote()
        fill(alice_account, acme, "25")
        account = Account.objects.get(pk=alice_account.pk)  # read now: later blocks are not seen by the checks
        runs = []
        for writer in (order_writer.write_with_function, order_writer.write_with_orm):
            savepoint = transaction.savepoint()
            with mock.patch.object(order_writer, "order_write", writer):
                runs.append(_run(account, steps))
            transaction.savepoint_rollback(savepoint)
        transaction.set_rollback(True)
    by_function, by_orm = runs
    assert by_function == by_orm
