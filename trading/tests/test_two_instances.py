"""Issue 9's end-to-end test: this SpeedTrade (A, the test process) routes a stock order through the
Alpaca adapter — the real alpaca-py `TradingClient` — to a second SpeedTrade (B, `manage.py serve` in a
subprocess with its own database and Redis db) acting as the venue through its Alpaca-compatible /v2 API.
B holds one omnibus trader; its paper venue fills on its simulated feed; A learns the fill by reconciliation
(first test) or on B's trade_updates stream (second test), and both ledgers must agree."""

import asyncio
import os
from dataclasses import dataclass
from decimal import Decimal

import psycopg
import pytest
import redis
from alpaca.trading.client import TradingClient
from channels.db import database_sync_to_async
from django.db import connection
from django.test import TestCase

from e2e.support import LiveServer, manage, server_environment, test_database_url
from portfolios.models import Position
from portfolios.selectors import account_cash_balance, ledger_discrepancies
from speedtrade.realtime import user_group
from trading import services
from trading.brokers.base import brokers_reset
from trading.models import Order
from trading.risk import OrderRequest
from trading.streams import run_streams
from trading.tasks import reconcile_orders
from trading.tests.conftest import quote

pytestmark = pytest.mark.e2e

VENUE_PORTS = os.environ.get("VENUE_PORTS", "8190-8199")
# B's own Redis database, apart from the test run's (quotes, rate limits and channels never meet).
VENUE_REDIS_URL = os.environ.get("VENUE_REDIS_URL", "redis://127.0.0.1:6379/11")
OMNIBUS_EMAIL = "omnibus@venue.test"
OMNIBUS_CASH = Decimal("50000")  # the largest single transfer create_trader may fund
# Runs in B's environment: the listing A trades, and the omnibus trader's API key pair and id.
VENUE_SETUP = f"""
from decimal import Decimal
from accounts.models import User
from accounts.services import api_key_create
from portfolios.tests.factories import AssetFactory
AssetFactory(symbol="ACME", reference_price=Decimal("10.00"))
key, secret = api_key_create(user=User.objects.get(email="{OMNIBUS_EMAIL}"), label="omnibus for A")
print(key.key_id, secret, key.user_id)
"""
QTY = Decimal("3")


@dataclass
class Venue:
    server: LiveServer
    key_id: str
    secret: str
    omnibus_id: str

    @property
    def client(self) -> TradingClient:
        """alpaca-py as the omnibus account's owner sees B."""
        return TradingClient(self.key_id, self.secret, url_override=self.server.url)

    def omnibus_holdings(self) -> tuple[Decimal, Decimal]:
        """(cash, ACME shares) of the omnibus account at B."""
        held = {position.symbol: Decimal(str(position.qty)) for position in self.client.get_all_positions()}
        return Decimal(str(self.client.get_account().cash)), held.get("ACME", Decimal(0))


def _admin_sql(statement: str) -> None:
    """CREATE/DROP DATABASE run outside any transaction, on the server's maintenance database."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(statement)


@pytest.fixture(scope="module")
def venue(django_db_setup, tmp_path_factory):
    """Instance B, shared by this module's tests: migrated database `<test db>_venue`, the omnibus trader
    and its key pair, then the server with the paper venue and the simulated feed in process, stocks open
    around the clock. Dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_venue"
    mail_dir = tmp_path_factory.mktemp("venue-mail")
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_sql(f'CREATE DATABASE "{name}"')
    environment = server_environment(
        {
            "DATABASE_URL": test_database_url().rsplit("/", 1)[0] + f"/{name}",
            "REDIS_URL": VENUE_REDIS_URL,
            "SPEEDTRADE_ENV": "test",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "FEED_IN_PROCESS": "true",
            "MARKET_ALWAYS_OPEN": "true",
            "BROKER_US_EQUITY": "paper",
            "BROKER_CRYPTO": "paper",
        },
        mail_dir=mail_dir,
    )
    server = None
    try:
        manage("migrate", "--noinput", environment=environment)
        manage(
            "create_trader", OMNIBUS_EMAIL, "--password", "Omnibus-venue-2026!", "--kyc", "approved",
            "--cash", str(OMNIBUS_CASH), environment=environment,
        )  # fmt: skip
        key_id, secret, omnibus_id = manage("shell", "-c", VENUE_SETUP, environment=environment).split()[-3:]
        server = LiveServer.start(environment=environment, mail_dir=mail_dir, ports=VENUE_PORTS, name="venue")
        yield Venue(server=server, key_id=key_id, secret=secret, omnibus_id=omnibus_id)
    finally:
        if server is not None:
            server.stop()
        _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def routed_to_venue(settings, venue):
    """A sends US equities to Alpaca, and its Alpaca is B."""
    settings.BROKER_US_EQUITY = "alpaca"
    settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = venue.key_id, venue.secret
    settings.ALPACA_BASE_URL = venue.server.url
    settings.ALPACA_STREAM_URL = venue.server.url.replace("http://", "ws://") + "/stream"
    brokers_reset()
    yield venue
    brokers_reset()


def place_market_buy(account) -> Order:
    """Alice buys at A; submission only learns B's acceptance (fills come by reconciliation or the stream)."""
    quote("ACME", bid="9.99", ask="10.01")  # A's last price, for the buying-power reservation
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = services.order_place(
            account=account,
            request=OrderRequest(symbol="ACME", side="buy", type="market", time_in_force="day", qty=QTY),
        )
    order.refresh_from_db()
    assert order.status == Order.Status.ACCEPTED and order.broker == "alpaca"
    return order


def assert_both_ledgers_agree(venue: Venue, order: Order, *, cash_before: Decimal, omnibus_before) -> None:
    order.refresh_from_db()
    at_venue = venue.client.get_order_by_client_id(str(order.id))
    assert str(at_venue.client_order_id) == str(order.id) and order.broker_order_id == str(at_venue.id)
    assert order.status == at_venue.status == "filled"
    fill_price = Decimal(str(at_venue.filled_avg_price))
    assert order.filled_qty == Decimal(str(at_venue.filled_qty)) == QTY
    assert order.filled_avg_price == fill_price

    cost = QTY * fill_price
    assert Position.objects.get(account=order.account, asset=order.asset).qty == QTY
    assert account_cash_balance(account=order.account) == cash_before - cost
    assert ledger_discrepancies() == []

    omnibus_cash_before, omnibus_shares_before = omnibus_before
    assert venue.omnibus_holdings() == (omnibus_cash_before - cost, omnibus_shares_before + QTY)


@pytest.mark.django_db
def test_a_stock_order_routed_to_a_second_instance_fills_by_reconciliation_and_both_ledgers_agree(
    routed_to_venue, alice_account, acme
):
    venue = routed_to_venue
    cash_before, omnibus_before = account_cash_balance(account=alice_account), venue.omnibus_holdings()
    order = place_market_buy(alice_account)

    def filled() -> bool:
        reconcile_orders()
        order.refresh_from_db()
        return order.status == Order.Status.FILLED

    venue.server.wait_until(filled, "A's order filled by reconciliation")
    assert_both_ledgers_agree(venue, order, cash_before=cash_before, omnibus_before=omnibus_before)


async def _until(condition, what: str, seconds: float = 30) -> None:
    try:
        async with asyncio.timeout(seconds):
            while not await condition():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"Never {what} within {seconds} s") from None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_the_fill_also_reaches_a_on_bs_trade_updates_stream(routed_to_venue, alice_account, acme):
    venue = routed_to_venue
    before = await database_sync_to_async(
        lambda: (account_cash_balance(account=alice_account), venue.omnibus_holdings())
    )()
    stop = asyncio.Event()
    streams = asyncio.create_task(run_streams({"alpaca"}, stop))  # what `manage.py run_broker_streams` runs
    # B fills at once: wait until A's stream has joined the omnibus trader's trade_updates group in B's
    # channel layer (channels_redis keeps a group as the key "<prefix>:group:<name>").
    venue_redis = redis.Redis.from_url(VENUE_REDIS_URL)
    group_key = f"speedtrade:group:{user_group(venue.omnibus_id)}"
    try:
        await _until(lambda: asyncio.to_thread(venue_redis.exists, group_key), "A's stream listening at B")
        order = await database_sync_to_async(place_market_buy)(alice_account)

        async def filled() -> bool:
            return (await Order.objects.aget(pk=order.pk)).status == Order.Status.FILLED

        await _until(filled, "A's order filled by the stream")
    finally:
        stop.set()  # what SIGTERM does in run_broker_streams
        await asyncio.wait_for(streams, 15)
        venue_redis.close()
    await database_sync_to_async(assert_both_ledgers_agree)(
        venue, order, cash_before=before[0], omnibus_before=before[1]
    )
