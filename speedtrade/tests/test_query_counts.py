"""Reads a customer makes all day cost a fixed number of queries, however many positions and orders
they have (no N+1): the dashboard's data sources, /api/v1/account, /positions and /orders."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import approved_customer
from marketdata.selectors import previous_closes_cache_clear
from portfolios.services import deposit_settled_post, fill_apply
from portfolios.tests.factories import AssetFactory
from trading import services
from trading.risk import OrderRequest

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/v1/account", "/api/v1/positions", "/api/v1/orders?status=all&limit=500"]


def holdings(account, *, positions: int, orders: int) -> None:
    """`positions` positions (one fill each) and `orders` resting limit orders, over as many assets."""
    deposit_settled_post(account=account, amount=Decimal("40000.00"))
    for i in range(positions):
        asset = AssetFactory(symbol=f"POS{i}")
        fill_apply(
            account=account,
            asset=asset,
            side="buy",
            qty=Decimal(1),
            price=Decimal("10.00"),
            fee=Decimal(0),
            executed_at=timezone.now(),
            cause=None,
        )
    for i in range(orders):
        asset = AssetFactory(symbol=f"ORD{i % 3}")
        services.order_place(
            account=account,
            request=OrderRequest(
                symbol=asset.symbol,
                side="buy",
                type="limit",
                time_in_force="gtc",
                qty=Decimal(1),
                limit_price=Decimal("1.00"),
            ),
        )


def query_counts(client) -> dict[str, int]:
    counts = {}
    for path in ENDPOINTS:
        previous_closes_cache_clear()  # each request as a process's first of the day: the cold path's count
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert response.status_code == 200, (path, response.content[:300])
        counts[path] = len(queries)
    return counts


def test_read_endpoints_cost_the_same_queries_for_few_and_many_holdings(alice_api, alice, bob):
    holdings(approved_customer(alice), positions=2, orders=2)
    few = query_counts(alice_api)

    bob_api = APIClient()
    bob_api.force_authenticate(bob)
    holdings(approved_customer(bob), positions=12, orders=15)
    many = query_counts(bob_api)

    assert few == many == EXPECTED_QUERIES


# Fixed per request, whatever the holdings. /account is the account, the ledger with every sum and the last close
# snapshot in one statement (settlement, external flows, realized P&L, incoming transfers), the open positions
# with their assets, previous closes and (no quotes here) the newest bar closes: see docs/notes/bench.md.
EXPECTED_QUERIES = {
    "/api/v1/account": 5,
    "/api/v1/positions": 4,
    "/api/v1/orders?status=all&limit=500": 2,
}
