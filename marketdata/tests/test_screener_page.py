"""The screener: the "under $100" universe by default, filters, search, sorting, one click to trade."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now

from marketdata.models import Asset
from marketdata.quotes import Quote, store_quotes
from marketdata.selectors import previous_closes_cache_clear
from marketdata.tests.factories import AssetFactory, CryptoAssetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_browser(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def universe(db):
    return {
        "cheap": AssetFactory(symbol="CHEAP", name="Cheap Corp.", reference_price=Decimal("12.50")),
        "mid": AssetFactory(symbol="MIDL", name="Middle Industries", reference_price=Decimal("80.00")),
        "dear": AssetFactory(symbol="DEAR", name="Dear Holdings", reference_price=Decimal("450.00")),
        "doge": CryptoAssetFactory(
            symbol="DOGE/USD", name="Dogecoin", reference_price=Decimal("0.15"), price_increment=Decimal("0.0001")
        ),
        "halted": AssetFactory(symbol="HALT", reference_price=Decimal("5"), tradable=False),
    }


def symbols(response) -> list[str]:
    return [row.asset.symbol for row in response.context["rows"]]


def test_the_screener_needs_a_login(client):
    response = client.get("/screener/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_by_default_it_lists_what_trades_under_100_dollars(alice_browser, universe):
    response = alice_browser.get("/screener/")
    assert response.status_code == 200
    assert symbols(response) == ["CHEAP", "DOGE/USD", "MIDL"]
    assert 'href="/trade/CHEAP/"' in response.content.decode()


def test_prices_come_from_the_latest_quote(alice_browser, universe):
    store_quotes([Quote("MIDL", Decimal("120"), Decimal("120.10"), Decimal(1), Decimal(1), Decimal("120.05"), now())])
    assert "MIDL" not in symbols(alice_browser.get("/screener/"))


def test_filters_by_class_price_and_search(alice_browser, universe):
    assert symbols(alice_browser.get("/screener/", {"asset_class": "crypto", "max_price": "100"})) == ["DOGE/USD"]
    assert symbols(alice_browser.get("/screener/", {"min_price": "50", "max_price": ""})) == ["DEAR", "MIDL"]
    assert symbols(alice_browser.get("/screener/", {"q": "industries", "max_price": ""})) == ["MIDL"]
    assert symbols(alice_browser.get("/screener/", {"q": "dea", "max_price": ""})) == ["DEAR"]


def test_sorts_by_price_either_way(alice_browser, universe):
    assert symbols(alice_browser.get("/screener/", {"sort": "price", "order": "desc", "max_price": "100"})) == [
        "MIDL",
        "CHEAP",
        "DOGE/USD",
    ]
    assert symbols(alice_browser.get("/screener/", {"sort": "price", "max_price": "100"}))[0] == "DOGE/USD"


def test_an_inverted_price_range_is_refused_with_a_message(alice_browser, universe):
    response = alice_browser.get("/screener/", {"min_price": "50", "max_price": "10"})
    assert response.status_code == 400
    assert b"must not be below the min price" in response.content


def test_the_page_reads_all_quotes_at_once(alice_browser, universe):
    alice_browser.get("/screener/")  # the session's first request also records it (allauth usersessions)
    previous_closes_cache_clear()  # both requests read every previous close (the new assets' are not cached)
    with CaptureQueriesContext(connection) as few:
        alice_browser.get("/screener/", {"max_price": ""})
    for number in range(10):
        AssetFactory(symbol=f"MORE{number}", reference_price=Decimal("10"))
    previous_closes_cache_clear()
    with CaptureQueriesContext(connection) as many:
        response = alice_browser.get("/screener/", {"max_price": ""})
    assert len(response.context["rows"]) == Asset.objects.filter(tradable=True).count()
    assert len(many) == len(few)
