"""Issue 9's end-to-end test: this SpeedTrade (A, the test process) routes a stock order through the
Alpaca adapter — the real alpaca-py `TradingClient` — to a second SpeedTrade (B, `manage.py serve` in a
subprocess with its own database and Redis db) acting as the venue through its Alpaca-compatible /v2 API.
B holds one omnibus trader; its paper venue fills on its simulated feed; A learns the fill by reconciliation,
and both ledgers must agree."""

import os
from dataclasses import dataclass
from decimal import Decimal

import psycopg
import pytest
from alpaca.trading.client import TradingClient
from django.db import connection
from django.test import TestCase

from e2e.support import LiveServer, manage, server_environment, test_database_url
from portfolios.models import Position
from portfolios.selectors import account_cash_balance, ledger_discrepancies
from trading import services
from trading.brokers.base import brokers_reset
from trading.models import Order
from trading.risk import OrderRequest
from trading.tasks import reconcile_orders
from trading.tests.conftest import quote

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

VENUE_PORTS = os.environ.get("VENUE_PORTS", "8190-8199")
# B's own Redis database, apart from the test run's (quotes, rate limits and channels never meet).
VENUE_REDIS_URL = os.environ.get("VENUE_REDIS_URL", "redis://127.0.0.1:6379/11")
OMNIBUS_EMAIL = "omnibus@venue.test"
OMNIBUS_CASH = Decimal("50000")  # the largest single transfer create_trader may fund
# Runs in B's environment: the listing A trades, and the omnibus trader's API key pair.
VENUE_SETUP = f"""
from decimal import Decimal
from accounts.models import User
from accounts.services import api_key_create
from portfolios.tests.factories import AssetFactory
AssetFactory(symbol="ACME", reference_price=Decimal("10.00"))
key, secret = api_key_create(user=User.objects.get(email="{OMNIBUS_EMAIL}"), label="omnibus for A")
print(key.key_id, secret)
"""


@dataclass
class Venue:
    server: LiveServer
    key_id: str
    secret: str

    @property
    def client(self) -> TradingClient:
        """alpaca-py as the omnibus account's owner sees B."""
        return TradingClient(self.key_id, self.secret, url_override=self.server.url)


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


@pytest.fixture
def venue(tmp_path):
    """Instance B: migrated database `<test db>_venue`, the omnibus trader and its key pair, then the
    server with the paper venue and the simulated feed in process, stocks open around the clock."""
    name = f"{connection.settings_dict['NAME']}_venue"
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}"')
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
        mail_dir=tmp_path / "venue-mail",
    )
    server = None
    try:
        manage("migrate", "--noinput", environment=environment)
        manage(
            "create_trader", OMNIBUS_EMAIL, "--password", "Omnibus-venue-2026!", "--kyc", "approved",
            "--cash", str(OMNIBUS_CASH), environment=environment,
        )  # fmt: skip
        key_id, secret = manage("shell", "-c", VENUE_SETUP, environment=environment).splitlines()[-1].split()
        server = LiveServer.start(
            environment=environment, mail_dir=tmp_path / "venue-mail", ports=VENUE_PORTS, name="venue"
        )
        yield Venue(server=server, key_id=key_id, secret=secret)
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
    brokers_reset()
    yield venue
    brokers_reset()


def test_a_stock_order_routed_to_a_second_instance_fills_and_both_ledgers_agree(routed_to_venue, alice_account, acme):
    venue = routed_to_venue
    quote("ACME", bid="9.99", ask="10.01")  # A's last price, for the buying-power reservation
    cash_before = account_cash_balance(account=alice_account)
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = services.order_place(
            account=alice_account,
            request=OrderRequest(symbol="ACME", side="buy", type="market", time_in_force="day", qty=Decimal("3")),
        )
    order.refresh_from_db()
    # Submission only learns B's acceptance: the fill reaches A by reconciliation.
    assert order.status == Order.Status.ACCEPTED and order.broker == "alpaca"

    def filled() -> bool:
        reconcile_orders()
        order.refresh_from_db()
        return order.status == Order.Status.FILLED

    venue.server.wait_until(filled, "A's order filled")

    at_venue = venue.client.get_order_by_client_id(str(order.id))
    assert str(at_venue.client_order_id) == str(order.id) and order.broker_order_id == str(at_venue.id)
    assert at_venue.status == "filled"
    fill_price = Decimal(str(at_venue.filled_avg_price))
    assert order.filled_qty == Decimal(str(at_venue.filled_qty)) == Decimal("3")
    assert order.filled_avg_price == fill_price

    cost = order.filled_qty * fill_price
    position = Position.objects.get(account=alice_account, asset=acme)
    assert position.qty == Decimal("3")
    assert account_cash_balance(account=alice_account) == cash_before - cost
    assert ledger_discrepancies() == []

    omnibus_position = venue.client.get_open_position("ACME")
    assert Decimal(str(omnibus_position.qty)) == Decimal("3")
    assert Decimal(str(venue.client.get_account().cash)) == OMNIBUS_CASH - cost
