"""The customer's tax lots: the Tax lots page (lots with wash-sale adjustments, this year's realized gains,
the lot method), `GET /api/v1/positions/{symbol}/lots`, `/api/v1/account/lot-method`; another customer's
position is not found. And the migration that opened lots for positions held before lots were kept."""

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from marketdata.quotes import Quote, store_quotes
from portfolios import services
from portfolios.models import Account, Position, TaxLot
from portfolios.selectors import lot_discrepancies
from portfolios.tests.conftest import WEDNESDAY

pytestmark = pytest.mark.django_db
D = Decimal
DAY = timedelta(days=1)


def fill(account, asset, side, qty, price, at):
    services.fill_apply(
        account=account, asset=asset, side=side, qty=D(qty), price=D(price), fee=D(0), executed_at=at, cause=None
    )


@pytest.fixture
def wash_sale(funded, acme):
    """Alice sold 10 ACME at a 20.00 loss, then bought 10 back within 30 days: the loss is in the new lot."""
    fill(funded, acme, "buy", "10", "10.00", WEDNESDAY - 100 * DAY)
    fill(funded, acme, "sell", "10", "8.00", WEDNESDAY)
    fill(funded, acme, "buy", "10", "8.50", WEDNESDAY + 5 * DAY)
    store_quotes([Quote("ACME", D("8.99"), D("9.01"), D(100), D(100), D("9.00"), timezone.now())])
    return TaxLot.objects.get(account=funded, open_qty__gt=0)


def test_the_tax_lots_page_shows_the_wash_sale_and_the_years_realized_loss(client, alice, wash_sale):
    client.force_login(alice)
    with freeze_time(WEDNESDAY + 6 * DAY):
        page = client.get("/tax-lots/").content.decode()
    lots = page[page.index('id="lots-acme"') :]
    assert "Mar 9, 2026" in lots and "$105.00" in lots  # basis: 85.00 + the 20.00 disallowed loss
    # The sold shares' 100 days (24 Nov to 4 Mar) carried into the replacement bought 9 March.
    assert "+$20.00" in lots and "held since Nov 29, 2025" in lots
    realized = page[page.index('id="realized-heading"') :]
    assert "$20.00 of losses disallowed as wash sales" in realized
    assert 'id="realized-total">$0.00' in realized  # −20.00 economic, fully disallowed


def test_the_lots_api_gives_decimal_strings_and_bob_cannot_see_alices(alice_api, bob, wash_sale):
    with freeze_time(WEDNESDAY + 6 * DAY):
        (lot,) = alice_api.get("/api/v1/positions/ACME/lots").json()
    assert lot == {
        "lot_id": wash_sale.pk,
        "symbol": "ACME",
        "acquired_at": "2026-03-09T15:00:00Z",
        "holding_period_start": "2025-11-29",
        "qty": "10",
        "cost_basis": "105.00",
        "basis_per_share": "10.500000000",
        "wash_sale_adjustment": "20.00",
        "market_value": "90.00",
        "unrealized_pl": "-15.00",
        "term_if_sold": "short",
    }
    bobs = APIClient()
    bobs.force_authenticate(bob)
    assert bobs.get("/api/v1/positions/ACME/lots").status_code == 404


def test_the_customer_changes_the_lot_method_and_it_is_audited(client, alice, funded):
    client.force_login(alice)
    assert client.post("/tax-lots/", {"lot_method": "hifo"}).status_code == 302
    assert Account.objects.get(pk=funded.pk).lot_method == "hifo"
    event = AuditEvent.objects.get(action="account.lot_method_changed")
    assert (event.actor, event.before, event.after) == (alice, {"lot_method": "fifo"}, {"lot_method": "hifo"})
    assert client.post("/tax-lots/", {"lot_method": "newest"}).status_code == 422
    api = APIClient()
    api.force_authenticate(alice)
    assert api.put("/api/v1/account/lot-method", {"lot_method": "lifo"}, format="json").json() == {"lot_method": "lifo"}
    refused = api.put("/api/v1/account/lot-method", {"lot_method": "random"}, format="json")
    assert refused.status_code == 400 and Account.objects.get(pk=funded.pk).lot_method == "lifo"


def test_the_migration_opens_one_lot_per_held_position_at_its_cost(funded, acme):
    Position.objects.create(account=funded, asset=acme, qty=D("7"), cost_basis=D("71.40"), opened_at=WEDNESDAY)
    assert lot_discrepancies()  # a position without lots
    migration = importlib.import_module("portfolios.migrations.0008_tax_lots")
    migration.open_lots_for_held_positions(apps, None)
    lot = TaxLot.objects.get()
    assert (lot.qty, lot.open_qty, lot.cost, lot.open_basis, lot.acquired_at, lot.opened_by) == (
        D("7"),
        D("7"),
        D("71.40"),
        D("71.40"),
        WEDNESDAY,
        None,
    )
    assert lot_discrepancies() == []
    fill(funded, acme, "sell", "7", "11.00", WEDNESDAY + DAY)  # the lot is sold like any other
    assert lot_discrepancies() == []
