"""Watchlists: ordered, per account, names unique per account; another user's list is 404."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from portfolios import selectors, services
from portfolios.models import Watchlist, WatchlistEntry
from portfolios.tests.factories import AssetFactory
from speedtrade.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture
def assets(db):
    return {
        "AAPL": AssetFactory(symbol="AAPL"),
        "MSFT": AssetFactory(symbol="MSFT"),
        "TSLA": AssetFactory(symbol="TSLA"),
        "BTC/USD": AssetFactory(crypto=True),
    }


@pytest.fixture
def techs(alice_account, assets):
    return services.watchlist_create(account=alice_account, name="tech", symbols=["MSFT", "AAPL"])


def symbols(watchlist) -> list[str]:
    return [asset["symbol"] for asset in watchlist["assets"]]


def test_create_list_and_get_keep_the_given_order(alice_api, alice_account, assets):
    created = alice_api.post("/api/v1/watchlists", {"name": "mine", "symbols": ["TSLA", "btcusd", "AAPL"]}, "json")

    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "mine" and body["account_id"] == str(alice_account.id)
    assert symbols(body) == ["TSLA", "BTC/USD", "AAPL"]
    assert body["assets"][1]["class"] == "crypto"
    assert [symbols(w) for w in alice_api.get("/api/v1/watchlists").json()] == [["TSLA", "BTC/USD", "AAPL"]]
    assert symbols(alice_api.get(f"/api/v1/watchlists/{body['id']}").json()) == ["TSLA", "BTC/USD", "AAPL"]


def test_add_appends_remove_drops_and_put_replaces(alice_api, techs):
    url = f"/api/v1/watchlists/{techs.id}"

    assert symbols(alice_api.post(url, {"symbol": "TSLA"}).json()) == ["MSFT", "AAPL", "TSLA"]
    assert symbols(alice_api.delete(f"{url}/AAPL").json()) == ["MSFT", "TSLA"]
    assert symbols(alice_api.post(url, {"symbol": "AAPL"}).json()) == ["MSFT", "TSLA", "AAPL"]
    replaced = alice_api.put(url, {"name": "renamed", "symbols": ["AAPL"]}).json()
    assert replaced["name"] == "renamed" and symbols(replaced) == ["AAPL"]
    assert alice_api.delete(url).status_code == 204
    assert not Watchlist.objects.exists() and not WatchlistEntry.objects.exists()


def test_refusals_write_nothing(alice_api, alice_account, techs):
    url = f"/api/v1/watchlists/{techs.id}"
    before = list(WatchlistEntry.objects.values_list("asset__symbol", "position"))

    duplicate = alice_api.post("/api/v1/watchlists", {"name": "tech", "symbols": []}, "json")
    unknown = alice_api.post("/api/v1/watchlists", {"name": "new", "symbols": ["AAPL", "NOPE"]}, "json")
    already = alice_api.post(url, {"symbol": "aapl"})
    absent = alice_api.delete(f"{url}/TSLA")
    empty_put = alice_api.put(url, {}, "json")
    bad_replace = alice_api.put(url, {"name": "other", "symbols": ["NOPE"]}, "json")

    assert (duplicate.status_code, duplicate.json()["code"]) == (422, "watchlist_name_taken")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "asset_not_found")
    assert "NOPE" in unknown.json()["message"]
    assert (already.status_code, already.json()["code"]) == (422, "symbol_already_in_watchlist")
    assert (absent.status_code, absent.json()["code"]) == (404, "symbol_not_in_watchlist")
    assert empty_put.status_code == 400
    assert bad_replace.status_code == 422
    assert list(Watchlist.objects.values_list("name", flat=True)) == ["tech"]  # the rename rolled back too
    assert list(WatchlistEntry.objects.values_list("asset__symbol", "position")) == before


def test_another_users_watchlist_is_not_found(techs, bob):
    from portfolios.services import account_open

    account_open(user=bob)
    bob_api = APIClient()
    bob_api.force_authenticate(bob)
    url = f"/api/v1/watchlists/{techs.id}"

    assert bob_api.get(url).status_code == 404
    assert bob_api.post(url, {"symbol": "TSLA"}).status_code == 404
    assert bob_api.delete(f"{url}/AAPL").status_code == 404
    assert bob_api.delete(url).status_code == 404
    assert bob_api.get("/api/v1/watchlists").json() == []
    # Names are unique per account, not globally.
    assert bob_api.post("/api/v1/watchlists", {"name": "tech", "symbols": ["AAPL"]}, "json").status_code == 201
    assert WatchlistEntry.objects.filter(watchlist=techs).count() == 2


def test_listing_costs_the_same_queries_for_one_or_many_lists(alice_account, assets):
    services.watchlist_create(account=alice_account, name="a", symbols=["AAPL", "MSFT"])
    with CaptureQueriesContext(connection) as one:
        selectors.watchlist_list(account=alice_account)
    for index in range(5):
        services.watchlist_create(account=alice_account, name=f"more{index}", symbols=["TSLA", "BTC/USD", "AAPL"])
    with CaptureQueriesContext(connection) as six:
        listed = selectors.watchlist_list(account=alice_account)
        [entry.asset.symbol for watchlist in listed for entry in watchlist.entries.all()]

    assert len(six) == len(one) == 2


def test_names_are_trimmed_and_bounded(alice_account, assets):
    assert services.watchlist_create(account=alice_account, name="  spaced  ").name == "spaced"
    with pytest.raises(DomainError) as refused:
        services.watchlist_create(account=alice_account, name=" ")
    assert refused.value.code == "invalid_name"
    assert Watchlist.objects.count() == 1


def test_repeated_symbols_are_kept_once(alice_account, assets):
    watchlist = services.watchlist_create(account=alice_account, name="dups", symbols=["AAPL", "aapl", "MSFT"])

    assert list(watchlist.entries.values_list("asset__symbol", flat=True)) == ["AAPL", "MSFT"]
