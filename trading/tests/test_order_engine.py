"""The order engine (trading/engine.py): paper orders accepted and filled in batches without Celery, one
transaction per batch; one order that cannot be booked does not cost the others theirs; two claimants of the
same order book it once; external venues' orders reach their submit task from the outbox even when the
placing process never queued them; the engine's own process (`run_engine`) fills, stops on SIGTERM, and when it
dies a standby takes over (real processes)."""

import asyncio
import signal
import sys
import threading
import time
import uuid
from decimal import Decimal

import hypothesis
import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.test import TestCase
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from redis import asyncio as aioredis

from accounts.tests.factories import UserFactory, approved_customer
from notifications.models import Notification
from notifications.services import preference_update
from portfolios.models import JournalEntry, Position
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from speedtrade import money, realtime
from speedtrade.errors import DomainError
from speedtrade.task_queue import task_named
from speedtrade.tests.processes import ManagedProcess, app_environment
from trading import engine, paper_fills, queueing, services
from trading.models import Execution, Order
from trading.risk import OrderRequest
from trading.selectors import reservation_discrepancies
from trading.tasks import submit_order
from trading.tests.conftest import cash, quote
from trading.tests.races import LOCK_WAIT_LIMIT_SECONDS, Competitor

# Batches commit (one transaction each, competing claims on their own connections): real commits, restored after.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def engine_process(settings):
    """An engine process runs: placing an order only wakes it (nothing is submitted in the placing process)."""
    settings.TRADING_ENGINE_INLINE = False


@pytest.fixture
def bitcoin(db):
    asset = AssetFactory(crypto=True, reference_price=Decimal("50.00"))  # crypto trades around the clock
    quote(symbol="BTC/USD", bid="49.00", ask="50.00", bid_size="100", ask_size="100")
    return asset


def trader(name: str, deposit: str = "1000.00"):
    account = approved_customer(UserFactory(email=f"{name}@example.com", first_name=name.title()))
    deposit_settled_post(account=account, amount=Decimal(deposit))
    return account


def place(account, qty: str, **fields) -> Order:
    """Place a bitcoin order and commit it, as the web process does; the engine has not run yet."""
    terms = {"symbol": "BTC/USD", "side": "buy", "type": "market", "time_in_force": "gtc", "qty": Decimal(qty)}
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = services.order_place(account=account, request=OrderRequest(**{**terms, **fields}))
    return order


def test_the_engine_accepts_and_fills_a_market_order_without_celery(bitcoin):
    alice = trader("alice")
    order = place(alice, "2")
    order.refresh_from_db()
    assert order.status == "new"  # placement only woke the engine

    assert engine.paper_batch_run() == 1

    order.refresh_from_db()
    assert order.status == "filled" and order.filled_qty == 2 and order.filled_avg_price == Decimal("50")
    assert list(order.events.values_list("event", flat=True)) == ["new", "pending_new", "accepted", "fill"]
    assert order.broker_order_id == f"paper-{order.id}" and order.reserved_cash == 0
    assert Position.objects.get(account=alice).qty == 2
    assert cash(alice).balance == Decimal("900.00") and cash(alice).reserved == 0
    assert engine.paper_batch_run() == 0  # the inbox is empty


def test_one_transaction_books_a_batch_of_orders_from_different_accounts(bitcoin, monkeypatch):
    accounts = [trader(name) for name in ("alice", "bob", "dave")]
    orders = [place(account, "1") for account in accounts]
    limit = place(accounts[0], "1", type="limit", limit_price=Decimal("40.00"))  # not marketable: it rests
    commits = []
    real_commit = connection.commit
    monkeypatch.setattr(connection, "commit", lambda: commits.append(1) or real_commit())
    written = []  # for each write of an order, event or execution: how many commits came before it

    def spy(execute, sql, params, many, context):
        if sql.startswith(('INSERT INTO "trading_', 'UPDATE "trading_')):
            written.append(len(commits))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        assert engine.paper_batch_run() == 4

    # Every acceptance and fill went into the first transaction (later ones are the after-commit notifications').
    assert written and set(written) == {0}
    for account, order in zip(accounts, orders, strict=True):
        order.refresh_from_db()
        assert order.status == "filled"
        assert Position.objects.get(account=account).qty == 1 and cash(account).balance == Decimal("950.00")
    limit.refresh_from_db()
    assert limit.status == "accepted" and cash(accounts[0]).reserved == limit.reserved_cash == Decimal("40.00")
    call_command("verify_ledger")


def test_every_fill_of_a_batch_is_notified_by_the_channels_asked_for_through_one_notification_task(
    bitcoin, monkeypatch
):
    alice, bob = trader("alice"), trader("bob")
    preference_update(user=bob.user, category="orders", email=False)
    orders = [place(alice, "1"), place(bob, "1"), place(alice, "2")]
    handle = task_named("notifications.tasks.announcements_handle")
    queued = []
    real_delay = handle.delay
    monkeypatch.setattr(
        handle, "delay", lambda announcements: queued.append(len(announcements)) or real_delay(announcements)
    )
    mail.outbox.clear()

    assert engine.paper_batch_run() == 3

    assert queued == [3]  # the batch's three fills, one task (not one per fill)
    for order in orders:
        notification = Notification.objects.get(kind="order_filled", data__order_id=str(order.pk))
        assert notification.user_id == order.account.user_id
    # Alice kept the orders email on, Bob switched it off: two emails, both Alice's.
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "alice@example.com"]


def test_an_order_the_cash_no_longer_covers_at_its_fill_leaves_the_rest_of_the_batch_filled(bitcoin):
    alice, bob = trader("alice"), trader("bob")
    alices = place(alice, "19")  # reserves 19 × 50 × 1.05 = 997.50 of her 1,000
    bobs = place(bob, "1")
    quote(symbol="BTC/USD", bid="59.00", ask="60.00", bid_size="100", ask_size="100")  # 19 × 60 = 1,140

    assert engine.paper_batch_run() == 2

    alices.refresh_from_db()
    bobs.refresh_from_db()
    assert bobs.status == "filled" and cash(bob).balance == Decimal("940.00")
    # Alice's order is accepted and waits in the book; none of her money moved, her reservation holds.
    assert alices.status == "accepted" and alices.filled_qty == 0
    assert not Execution.objects.filter(order=alices).exists()
    assert not Position.objects.filter(account=alice).exists()
    assert not JournalEntry.objects.filter(account=alice, cause_type="fill").exists()
    assert cash(alice).balance == Decimal("1000.00") and cash(alice).reserved == alices.reserved_cash
    call_command("verify_ledger")


def test_a_placement_waits_for_the_engines_batch_in_progress_not_for_the_whole_inbox(bitcoin, settings, monkeypatch):
    """Every placement locks its account, as the engine's batch does: the engine takes a long inbox in batches
    (here one order each), so a placement that queued behind the first commits before the rest are booked."""
    settings.TRADING_ENGINE_BATCH_SIZE = 1
    alice = trader("alice")
    waiting = [place(alice, "1") for _ in range(3)]
    placing = Competitor(lambda: place(alice, "1"))
    real_book, real_batch = paper_fills.accept_decisions_book, engine.paper_batch_run
    batches: list[int] = []
    later_orders_when_the_placement_committed: list[str] = []

    def booking(decided, now):  # inside the first batch's transaction, which holds alice's account
        if not placing.is_alive() and placing.result is None:
            placing.start()
            placing.blocked()  # her placement waits on the account row the batch holds
        return real_book(decided, now)

    def batch(**claim):
        if batches == [1]:  # the first batch committed: her placement went through before the next one claims
            placing.join(LOCK_WAIT_LIMIT_SECONDS)
            later = Order.objects.filter(pk__in=[order.pk for order in waiting[1:]])
            later_orders_when_the_placement_committed.extend(later.values_list("status", flat=True))
        batches.append(real_batch(**claim))
        return batches[-1]

    monkeypatch.setattr(paper_fills, "accept_decisions_book", booking)
    monkeypatch.setattr(engine, "paper_batch_run", batch)
    asyncio.run(engine.OrderEngine().work_off())

    assert placing.error is None and placing.result is not None
    # Unclaimed, the rest were still `new` (the inbox), not accepted and left unfilled; the engine took them after.
    assert later_orders_when_the_placement_committed == ["new", "new"]
    assert batches == [1, 1, 1, 1, 0]
    assert set(Order.objects.filter(account=alice).values_list("status", flat=True)) == {"filled"}
    assert Execution.objects.filter(order__account=alice).count() == 4
    assert cash(alice).balance == Decimal("800.00") and cash(alice).reserved == 0
    call_command("verify_ledger")


def test_orders_committed_while_a_batch_books_go_together_in_the_next_batch(bitcoin, monkeypatch):
    """The engine does not wait for a wake between batches, nor take one order at a time: each batch claims
    whatever committed while the one before it booked."""
    alice, others = trader("alice"), [trader(name) for name in ("bob", "dave", "erin")]
    first = place(alice, "1")
    placing = Competitor(lambda: [place(account, "1") for account in others])
    real_book, real_batch = paper_fills.accept_decisions_book, engine.paper_batch_run
    batches: list[int] = []

    def booking(decided, now):  # inside the first batch: three more orders commit on their own connection
        if not placing.is_alive() and placing.result is None:
            placing.start()
            placing.join(LOCK_WAIT_LIMIT_SECONDS)
        return real_book(decided, now)

    def batch(**claim):
        batches.append(real_batch(**claim))
        return batches[-1]

    monkeypatch.setattr(paper_fills, "accept_decisions_book", booking)
    monkeypatch.setattr(engine, "paper_batch_run", batch)
    asyncio.run(engine.OrderEngine().work_off())

    assert placing.error is None and len(placing.result) == 3
    assert batches == [1, 3, 0]
    first.refresh_from_db()
    assert first.status == "filled"
    for account in others:
        assert Order.objects.get(account=account).status == "filled"
        assert cash(account).balance == Decimal("950.00") and cash(account).reserved == 0
    call_command("verify_ledger")


def test_the_next_batch_books_while_the_last_ones_pushes_are_on_their_way_and_pushes_keep_the_batches_order(
    bitcoin, monkeypatch
):
    alice, bob = trader("alice"), trader("bob")
    alices = place(alice, "1")
    placing = Competitor(lambda: place(bob, "1"))
    real_book, real_send = paper_fills.accept_decisions_book, realtime.sender.group_send_many
    sent_to: list[set[str]] = []
    bobs_status_while_alices_pushes_waited: list[str] = []

    def booking(decided, now):  # inside alice's batch: bob's order commits, for the next batch
        if not placing.is_alive() and placing.result is None:
            placing.start()
            placing.join(LOCK_WAIT_LIMIT_SECONDS)
        return real_book(decided, now)

    def sending(messages):
        if not sent_to:  # alice's batch's pushes: held until bob's batch has committed (or a ceiling passed)
            deadline = time.monotonic() + FILL_WITHIN_SECONDS
            while (status := Order.objects.get(pk=placing.result.pk).status) != "filled":
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            bobs_status_while_alices_pushes_waited.append(status)
        sent_to.append({group for group, _ in messages})
        return real_send(messages)

    monkeypatch.setattr(paper_fills, "accept_decisions_book", booking)
    monkeypatch.setattr(realtime.sender, "group_send_many", sending)
    asyncio.run(engine.OrderEngine().work_off())

    assert bobs_status_while_alices_pushes_waited == ["filled"]
    # Each batch's pushes (pending_new, accepted, fill, account) in one send, in the order the batches committed.
    assert sent_to == [{realtime.user_group(alice.user_id)}, {realtime.user_group(bob.user_id)}]
    alices.refresh_from_db()
    assert alices.status == "filled"


def test_an_order_placed_while_the_engine_books_its_account_is_filled_by_its_wake_not_the_poll(bitcoin, settings):
    """A placement waits for the batch that holds its account and commits after it; its wake, sent meanwhile
    or after, starts another pass: nothing is left to the poll (here longer than the test waits)."""
    settings.TRADING_ENGINE_POLL_SECONDS = 2 * FILL_WITHIN_SECONDS
    alice = trader("alice")
    placing = Competitor(lambda: place(alice, "2"))
    queued = threading.Event()
    real_book = paper_fills.accept_decisions_book

    def booking(decided, now):  # inside the batch of her first order, which holds her account
        if not queued.is_set():
            placing.start()
            placing.blocked()
            queued.set()
        return real_book(decided, now)

    async def engine_running() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(engine.OrderEngine().run(stop))
        listening = aioredis.Redis.from_url(django_settings.REDIS_URL)
        try:
            while (await listening.pubsub_numsub(queueing.ENGINE_WAKE_CHANNEL))[0][1] == 0:  # subscribed
                await asyncio.sleep(0.01)
            await database_sync_to_async(place, thread_sensitive=False)(alice, "1")
            assert await asyncio.to_thread(queued.wait, FILL_WITHIN_SECONDS)
            await asyncio.to_thread(placing.join, LOCK_WAIT_LIMIT_SECONDS)
            await asyncio.to_thread(filled, placing.result)
        finally:
            stop.set()
            queueing.engine_wake()  # out of its wait at once
            await running
            await listening.aclose()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paper_fills, "accept_decisions_book", booking)
        asyncio.run(engine_running())

    assert placing.error is None
    assert set(Order.objects.filter(account=alice).values_list("status", flat=True)) == {"filled"}
    assert cash(alice).balance == Decimal("850.00") and cash(alice).reserved == 0


@pytest.mark.django_db  # each example rolls back its own savepoint: no commits needed
@hypothesis.settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    traders=st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("20"), max_value=Decimal("200"), places=2),  # deposit
            st.decimals(min_value=Decimal("0.02"), max_value=Decimal("3.8"), places=2),  # market buy qty
        ),
        min_size=1,
        max_size=5,
    ),
    ask=st.sampled_from(["50.00", "51.37", "52.50", "55.00", "60.00"]),
)
def test_a_batch_fills_exactly_the_orders_the_cash_covers_at_the_fill_price(bitcoin, traders, ask):
    """Orders reserved at 50 × 1.05; the ask then moves. Whatever the mix, each order either fills and moves exactly
    its cost, or moves nothing and keeps its reservation; the others in the batch are unaffected."""
    with transaction.atomic():
        quote(symbol="BTC/USD", bid="49.99", ask="50.00", bid_size="100", ask_size="100")
        placed = []
        for n, (deposit, qty) in enumerate(traders):
            account = trader(f"t{n}-{uuid.uuid4().hex[:8]}", str(deposit))
            try:
                placed.append((account, deposit, place(account, str(qty))))
            except DomainError:
                continue  # beyond its buying power at placement: refused, nothing to fill
        hypothesis.assume(placed)
        quote(symbol="BTC/USD", bid="49.00", ask=ask, bid_size="100", ask_size="100")

        assert engine.paper_batch_run(order_ids=[order.pk for _, _, order in placed]) == len(placed)

        for account, deposit, order in placed:
            order.refresh_from_db()
            cost = money.trade_value(order.qty, Decimal(ask), "buy")
            if cost <= deposit:
                assert order.status == "filled" and cash(account).balance == deposit - cost
                assert cash(account).reserved == 0 and Position.objects.get(account=account).qty == order.qty
            else:
                assert order.status == "accepted" and order.filled_qty == 0
                assert cash(account).balance == deposit and cash(account).reserved == order.reserved_cash > 0
                assert not Position.objects.filter(account=account).exists()
        assert not reservation_discrepancies()
        transaction.set_rollback(True)


def test_a_second_pass_and_a_requeued_submit_racing_the_engine_book_the_order_once(bitcoin):
    alice = trader("alice")
    order = place(alice, "1")
    second_pass = Competitor(engine.paper_batch_run)  # a wake and a poll, say
    requeued = Competitor(lambda: submit_order.apply(args=[str(order.id)]))  # reconciliation's requeue

    with transaction.atomic():
        taken = engine.paper_batch_run()  # its locks are held until this block commits
        second_pass.start()
        second_pass.join(LOCK_WAIT_LIMIT_SECONDS)  # it skips the batch's account: it never waits
        requeued.start()
        requeued.blocked()  # the submit task's claim waits on the order's row lock
    requeued.join(LOCK_WAIT_LIMIT_SECONDS)

    assert taken == 1 and second_pass.result == 0 and second_pass.error is None
    assert not requeued.is_alive() and requeued.error is None
    order.refresh_from_db()
    assert order.status == "filled" and order.filled_qty == 1
    assert Execution.objects.filter(order=order).count() == 1
    assert order.events.filter(event="accepted").count() == 1
    assert cash(alice).balance == Decimal("950.00") and cash(alice).reserved == 0


def test_placed_in_process_where_no_engine_runs_a_market_order_is_filled_on_commit(bitcoin, settings):
    settings.TRADING_ENGINE_INLINE = True
    order = place(trader("alice"), "1")
    order.refresh_from_db()
    assert order.status == "filled"


@pytest.fixture
def external_venue(scripted_venue, settings):
    """Bitcoin routes to a scripted external venue (submitted through Celery, run eagerly here)."""
    settings.BROKER_CRYPTO = "scripted"
    return scripted_venue


def test_an_external_order_never_queued_after_its_commit_is_delivered_by_the_outbox_once(bitcoin, external_venue):
    alice = trader("alice")
    with transaction.atomic():
        # The process dies right after the commit: the on-commit hand-off never runs.
        order, _ = services.order_place(
            account=alice,
            request=OrderRequest(symbol="BTC/USD", side="buy", type="market", time_in_force="gtc", qty=Decimal(1)),
        )
        transaction.get_connection().run_on_commit.clear()
    order.refresh_from_db()
    assert order.status == "new" and order.submit_queued_at is None

    assert engine.outbox_relay() == 1

    order.refresh_from_db()
    assert order.status == "accepted" and order.submit_queued_at is not None
    assert external_venue.submit_attempts == 1
    assert engine.outbox_relay() == 0  # handed on once
    submit_order.apply(args=[str(order.id)])  # a duplicate delivery of the same message
    assert external_venue.submit_attempts == 1
    assert list(order.events.values_list("event", flat=True)) == ["new", "pending_new", "accepted"]


def test_the_outbox_leaves_paper_orders_to_the_engine(bitcoin):
    order = place(trader("alice"), "1")
    assert engine.outbox_relay() == 0
    order.refresh_from_db()
    assert order.status == "new" and order.submit_queued_at is None


TAKEOVER_SECONDS = 10  # standby poll 0.5 s; a killed holder's session ends at once
FILL_WITHIN_SECONDS = 30  # a ceiling against hanging, not a timing assertion


def engine_command(log) -> ManagedProcess:
    """`manage.py run_engine`, the engine's own process in services mode."""
    env = app_environment(
        CELERY_BROKER_URL="memory://",
        SINGLETON_POLL_SECONDS="0.5",
        TRADING_ENGINE_INLINE="false",
        TRADING_ENGINE_POLL_SECONDS="0.1",
        LOG_LEVEL="INFO",
    )
    return ManagedProcess([sys.executable, "manage.py", "run_engine"], log, env)


def filled(order: Order) -> Order:
    deadline = time.monotonic() + FILL_WITHIN_SECONDS
    while time.monotonic() < deadline:
        order.refresh_from_db()
        if order.status == "filled":
            return order
        time.sleep(0.05)
    raise AssertionError(f"order still {order.status} after {FILL_WITHIN_SECONDS}s")


def test_the_engine_process_fills_a_placed_market_order_reports_healthy_and_stops_on_sigterm(bitcoin, tmp_path):
    alice = trader("alice")
    running = engine_command(tmp_path / "engine.log")
    try:
        running.wait_for("Singleton order_engine: active", timeout=60)

        assert filled(place(alice, "1")).filled_qty == 1
        call_command("healthcheck", "engine")  # its heartbeat: a pass ended without an error

        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=30) == 0, running.output()[-4000:]
        assert "Order engine stopped." in running.output()
    finally:
        running.kill()
    assert cash(alice).balance == Decimal("950.00") and cash(alice).reserved == 0


def test_when_the_active_engine_dies_the_standby_fills_the_inbox(bitcoin, tmp_path):
    alice = trader("alice")
    first, second = engine_command(tmp_path / "first.log"), None
    try:
        first.wait_for("Singleton order_engine: active", timeout=60)
        second = engine_command(tmp_path / "second.log")
        second.wait_for("Singleton order_engine: standby", timeout=60)
        assert filled(place(alice, "1")).filled_qty == 1  # the first engine fills

        first.process.send_signal(signal.SIGKILL)
        waiting = place(alice, "2")  # committed while no engine runs
        second.wait_for("Singleton order_engine: active", timeout=TAKEOVER_SECONDS)

        assert filled(waiting).filled_qty == 2
        assert Order.objects.filter(account=alice, status="filled").count() == 2
        assert sum(o.filled_qty for o in Order.objects.filter(account=alice)) == Decimal(3)
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_the_engine_fills_while_the_feeds_tick_handlers_hold_the_shared_thread(bitcoin):
    """The feed runs its tick handlers in the one thread-sensitive thread; the engine's batches run in a thread
    of their own, so a woken engine does not wait for a tick batch's matching and bar writes."""
    order = place(trader("alice"), "1")
    handler_started, handler_may_end = threading.Event(), threading.Event()

    def busy_tick_handler() -> None:
        handler_started.set()
        handler_may_end.wait(FILL_WITHIN_SECONDS)

    def status() -> str:
        return Order.objects.values_list("status", flat=True).get(pk=order.pk)

    async def engine_beside_a_busy_handler() -> str:
        handler = asyncio.create_task(database_sync_to_async(busy_tick_handler)())
        await asyncio.to_thread(handler_started.wait, FILL_WITHIN_SECONDS)
        stop = asyncio.Event()
        running = asyncio.create_task(engine.OrderEngine().run(stop))
        try:
            deadline = time.monotonic() + FILL_WITHIN_SECONDS
            while (seen := await database_sync_to_async(status, thread_sensitive=False)()) != "filled":
                if time.monotonic() > deadline or handler.done():
                    break
                await asyncio.sleep(0.05)
            return seen
        finally:
            handler_may_end.set()
            stop.set()
            await asyncio.gather(handler, running)

    assert asyncio.run(engine_beside_a_busy_handler()) == "filled"
