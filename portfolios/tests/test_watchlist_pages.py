"""Watchlist pages: create, rename, delete, add and remove symbols through the services; own
lists only; refusals say why and write nothing; live prices without N+1."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketdata.selectors import previous_closes_cache_clear
from portfolios.models import Watchlist, WatchlistEntry
from portfolios.services import account_open, watchlist_create
from portfolios.tests.factories import AssetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_account(alice):
    return account_open(user=alice)


@pytest.fixture
def alice_browser(client, alice, alice_account):
    client.force_login(alice)
    return client


@pytest.fixture
def assets(db):
    return [AssetFactory(symbol=symbol, reference_price=Decimal("20")) for symbol in ("ACME", "BOLT", "CORE")]


@pytest.fixture
def techs(alice_account, assets):
    return watchlist_create(account=alice_account, name="Techs", symbols=["ACME"])


def test_watchlists_need_a_login(client):
    response = client.get("/watchlists/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_create_a_watchlist(alice_browser, alice_account):
    response = alice_browser.post("/watchlists/", {"name": "  Cheap stocks "})
    watchlist = Watchlist.objects.get(account=alice_account)
    assert watchlist.name == "Cheap stocks"
    assert response.status_code == 302 and response.url == f"/watchlists/#watchlist-{watchlist.pk}"


def test_a_taken_name_is_refused_inline_and_nothing_is_written(alice_browser, techs):
    response = alice_browser.post("/watchlists/", {"name": "Techs"})
    assert response.status_code == 422
    assert b"already have a watchlist named" in response.content
    assert Watchlist.objects.count() == 1


def test_the_page_shows_each_symbol_with_live_price_hooks(alice_browser, techs):
    html = alice_browser.get("/watchlists/").content.decode()
    assert 'data-quote-symbol="ACME" data-field="last"' in html
    assert 'data-quote-symbol="ACME" data-field="change"' in html
    assert 'href="/trade/ACME/"' in html


def test_add_and_remove_symbols(alice_browser, techs):
    alice_browser.post(f"/watchlists/{techs.pk}/symbols/", {"symbol": "bolt"})
    assert list(techs.entries.values_list("asset__symbol", flat=True)) == ["ACME", "BOLT"]
    alice_browser.post(f"/watchlists/{techs.pk}/symbols/remove/", {"symbol": "ACME"})
    assert list(techs.entries.values_list("asset__symbol", flat=True)) == ["BOLT"]


@pytest.mark.parametrize(("symbol", "message"), [("NOPE", b"Unknown symbol(s): NOPE"), ("ACME", b"ACME is already in")])
def test_a_refused_symbol_is_explained_and_nothing_is_written(alice_browser, techs, symbol, message):
    response = alice_browser.post(f"/watchlists/{techs.pk}/symbols/", {"symbol": symbol}, follow=True)
    assert message in response.content
    assert list(techs.entries.values_list("asset__symbol", flat=True)) == ["ACME"]


def test_rename_and_delete(alice_browser, techs):
    alice_browser.post(f"/watchlists/{techs.pk}/rename/", {"name": "Tech"})
    techs.refresh_from_db()
    assert techs.name == "Tech"
    alice_browser.post(f"/watchlists/{techs.pk}/delete/")
    assert not Watchlist.objects.filter(pk=techs.pk).exists()
    assert not WatchlistEntry.objects.exists()


def test_a_blank_name_is_refused(alice_browser, techs):
    response = alice_browser.post(f"/watchlists/{techs.pk}/rename/", {"name": "  "}, follow=True)
    assert b"1 to 64 characters" in response.content
    techs.refresh_from_db()
    assert techs.name == "Techs"


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("rename/", {"name": "Mine now"}),
        ("delete/", {}),
        ("symbols/", {"symbol": "BOLT"}),
        ("symbols/remove/", {"symbol": "ACME"}),
    ],
)
def test_another_users_watchlist_is_not_found(client, bob, techs, path, data):
    account_open(user=bob)
    client.force_login(bob)
    assert client.post(f"/watchlists/{techs.pk}/{path}", data).status_code == 404
    techs.refresh_from_db()
    assert techs.name == "Techs"
    assert list(techs.entries.values_list("asset__symbol", flat=True)) == ["ACME"]


def test_the_page_costs_the_same_queries_for_one_or_many_lists(alice_browser, alice_account, techs, assets):
    alice_browser.get("/watchlists/")  # the session's first request also records it (allauth usersessions)
    previous_closes_cache_clear()  # both requests read every previous close (the new assets' are not cached)
    with CaptureQueriesContext(connection) as one:
        alice_browser.get("/watchlists/")
    for number in range(3):
        watchlist_create(account=alice_account, name=f"List {number}", symbols=["ACME", "BOLT", "CORE"])
    previous_closes_cache_clear()
    with CaptureQueriesContext(connection) as many:
        alice_browser.get("/watchlists/")
    assert len(many) == len(one)
