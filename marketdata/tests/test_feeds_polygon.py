"""Polygon (Massive) through the official `massive` client, offline: a local websockets server
speaks Polygon's stocks stream protocol (status messages, auth, subscribe, JSON arrays of
`Q`/`T` events) and a local HTTP server serves recorded REST pages (aggregates, reference
tickers, grouped daily) to massive's own urllib3 client."""

import asyncio
import io
import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from websockets.asyncio.server import serve

from marketdata.feeds.polygon_feed import PolygonFeed, PolygonStreamEnded, asset_rows, build_feed
from marketdata.models import Asset, Bar
from marketdata.tests.factories import AssetFactory
from speedtrade.tests.recorded_http import RecordedHTTPServer

RECORDINGS = Path(__file__).parent / "recordings"
API_KEY = "pgTESTkey-never-logged"
AGGS = "/v2/aggs/ticker/AAPL/range/1/day"
D = Decimal


def recording(name: str):
    return json.loads((RECORDINGS / name).read_text())


class PolygonStreamServer:
    def __init__(self, messages: list[dict], *, drop_first_connection=False, refuse_key=False):
        self.messages = messages
        self.drop_first_connection = drop_first_connection
        self.refuse_key = refuse_key
        self.connections = 0
        self.paths: list[str] = []
        self.auths: list[dict] = []
        self.subscriptions: list[set[str]] = []

    async def handle(self, websocket):
        self.connections += 1
        self.paths.append(websocket.request.path)
        await websocket.send(json.dumps([{"ev": "status", "status": "connected", "message": "Connected Successfully"}]))
        self.auths.append(json.loads(await websocket.recv()))
        if self.refuse_key:
            refused = {"ev": "status", "status": "auth_failed", "message": "authentication failed"}
            await websocket.send(json.dumps([refused]))
            await websocket.close()
            return
        await websocket.send(json.dumps([{"ev": "status", "status": "auth_success", "message": "authenticated"}]))
        subscribe = json.loads(await websocket.recv())
        params = set(subscribe["params"].split(","))
        self.subscriptions.append(params)
        statuses = [{"ev": "status", "status": "success", "message": f"subscribed to: {p}"} for p in sorted(params)]
        await websocket.send(json.dumps(statuses))
        await websocket.send(json.dumps([m for m in self.messages if f"{m['ev']}.{m['sym']}" in params]))
        if self.drop_first_connection and self.connections == 1:
            await websocket.close(code=1011, reason="server restarting")
            return
        await websocket.wait_closed()


@pytest.fixture
async def stream_host():
    servers = []

    async def start(server: PolygonStreamServer) -> str:
        running = await serve(server.handle, "127.0.0.1", 0)
        servers.append(running)
        return f"127.0.0.1:{running.sockets[0].getsockname()[1]}"

    yield start
    for running in servers:
        running.close()
        await running.wait_closed()


async def collect(feed: PolygonFeed, symbols: list[str], count: int) -> list:
    quotes = []

    async def read():
        async for batch in feed.stream(symbols):
            quotes.extend(batch)
            if len(quotes) >= count:
                return

    await asyncio.wait_for(read(), timeout=10)
    return quotes


async def test_stock_quotes_and_trades_become_decimal_quotes(stream_host):
    server = PolygonStreamServer(recording("polygon_stream_stocks.json"))
    feed = PolygonFeed(api_key=API_KEY, stream_host=await stream_host(server), secure=False)
    aapl_quote, aapl_trade, spy_quote = await collect(feed, ["AAPL", "SPY"], 3)

    assert server.paths == ["/stocks"] and server.auths == [{"action": "auth", "params": API_KEY}]
    assert server.subscriptions == [{"Q.AAPL", "T.AAPL", "Q.SPY", "T.SPY"}]
    # The trade before the first quote only set the last price.
    assert (aapl_quote.bid, aapl_quote.ask, aapl_quote.bid_size, aapl_quote.ask_size) == (
        D("195.69"), D("195.72"), D("2"), D("3"),
    )  # fmt: skip
    assert aapl_quote.last == D("195.7") and aapl_quote.timestamp == datetime(2026, 12, 4, 15, 30, 0, 200000, UTC)
    assert (aapl_trade.last, aapl_trade.last_size) == (D("195.71"), D("30"))
    assert spy_quote.last == D("603.02")  # the mid until SPY trades


async def test_a_dropped_stream_reconnects_resubscribes_and_logs_a_gap(stream_host, caplog):
    server = PolygonStreamServer(recording("polygon_stream_stocks.json"), drop_first_connection=True)
    feed = PolygonFeed(api_key=API_KEY, stream_host=await stream_host(server), secure=False)
    with caplog.at_level(logging.WARNING, logger="marketdata.feeds.polygon_feed"):
        quotes = await collect(feed, ["AAPL"], 4)
    assert server.connections == 2 and server.subscriptions == [{"Q.AAPL", "T.AAPL"}] * 2
    assert len(quotes) >= 4 and {q.symbol for q in quotes} == {"AAPL"}
    assert any("reconnected: gap in data since" in record.getMessage() for record in caplog.records)
    assert API_KEY not in caplog.text


async def test_a_refused_key_ends_the_stream_for_run_feed_to_restart(stream_host):
    server = PolygonStreamServer([], refuse_key=True)
    feed = PolygonFeed(api_key=API_KEY, stream_host=await stream_host(server), secure=False)
    with pytest.raises(PolygonStreamEnded, match="authentication failed"):
        await collect(feed, ["AAPL"], 1)


@pytest.fixture
def polygon_rest(settings):
    with RecordedHTTPServer() as server:
        settings.POLYGON_API_KEY = API_KEY
        settings.POLYGON_API_URL = server.url
        yield server


async def test_aggregates_follow_next_url_pages_and_are_decimal(polygon_rest):
    polygon_rest.answer(
        "/v2/aggs/ticker/AAPL/range/1/day/1796101200000/1796446800000", recording("polygon_aggs_aapl_day_page1.json")
    )
    polygon_rest.answer(
        "/v2/aggs/ticker/AAPL/range/1/day/1796187600001/1796446800000", recording("polygon_aggs_aapl_day_page2.json")
    )
    feed = PolygonFeed(api_key=API_KEY, rest_url=polygon_rest.url)
    bars = await feed.bars(
        "AAPL", timeframe="1Day", start=datetime(2026, 12, 1, 5, tzinfo=UTC), end=datetime(2026, 12, 5, 5, tzinfo=UTC)
    )
    assert [bar.timestamp.date() for bar in bars] == [date(2026, 12, day) for day in (1, 2, 3, 4)]
    assert (bars[0].open, bars[0].close, bars[0].volume, bars[0].vwap, bars[0].trade_count) == (
        D("193.9"), D("194.27"), D("52164540"), D("193.9821"), 598012,
    )  # fmt: skip
    first_query = polygon_rest.queries_to("/v2/aggs/ticker/AAPL/range/1/day/1796101200000/1796446800000")[0]
    assert first_query["adjusted"] == ["true"] and first_query["sort"] == ["asc"]
    headers = polygon_rest.requests[0].headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"


def _serve_reference(polygon_rest):
    grouped = "/v2/aggs/grouped/locale/us/market/stocks/"
    polygon_rest.answer(f"{grouped}2026-12-06", recording("polygon_grouped_daily_empty.json"))  # Sunday
    polygon_rest.answer(f"{grouped}2026-12-05", recording("polygon_grouped_daily_empty.json"))  # Saturday
    polygon_rest.answer(f"{grouped}2026-12-04", recording("polygon_grouped_daily_2026-12-04.json"))
    polygon_rest.answer("/v3/reference/tickers", recording("polygon_tickers_page1.json"))
    polygon_rest.answer("/v3/reference/tickers", recording("polygon_tickers_page2.json"))


def test_reference_tickers_give_name_primary_exchange_type_and_last_close(polygon_rest, settings):
    _serve_reference(polygon_rest)
    rows = {row["symbol"]: row for row in asset_rows(settings, today=date(2026, 12, 7))}
    assert set(rows) == {"AAPL", "SPY", "NEWCO"}  # the warrant is not a stock we list
    assert rows["AAPL"]["name"] == "Apple Inc." and rows["AAPL"]["exchange"] == "XNAS"
    assert rows["SPY"]["security_type"] == "ETF" and rows["SPY"]["reference_price"] == D("603.020000000")
    assert rows["NEWCO"]["reference_price"] is None
    assert polygon_rest.queries_to("/v3/reference/tickers")[0] == {
        "market": ["stocks"], "active": ["true"], "limit": ["1000"], "sort": ["ticker"], "order": ["asc"],
    }  # fmt: skip


@pytest.mark.django_db
def test_sync_assets_polygon_upserts_and_skips_unpriced_new_symbols(polygon_rest, settings, monkeypatch):
    import marketdata.feeds.polygon_feed as polygon_feed

    monkeypatch.setattr(polygon_feed, "datetime", _FixedDatetime)
    _serve_reference(polygon_rest)
    out = io.StringIO()
    call_command("sync_assets", provider="polygon", stdout=out)
    assert "2 assets created" in out.getvalue() and "NEWCO" in out.getvalue()
    spy = Asset.objects.get(symbol="SPY")
    assert (spy.exchange, spy.security_type, spy.asset_class) == ("ARCX", "ETF", "us_equity")


class _FixedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 12, 7, 15, tzinfo=UTC)


@pytest.mark.django_db
def test_backfill_bars_polygon_inserts_missing_bars_once(polygon_rest, monkeypatch):
    import marketdata.management.commands.backfill_bars as backfill

    asset = AssetFactory(symbol="AAPL")
    calls = []

    async def bars(self, symbol, *, timeframe, start, end=None, limit=None):
        calls.append((symbol, timeframe))
        feed = PolygonFeed(api_key=API_KEY, rest_url=polygon_rest.url)
        return await PolygonFeed.bars(feed, symbol, timeframe=timeframe, start=_DEC_1, end=_DEC_5)

    for _ in range(2):
        polygon_rest.answer(f"{AGGS}/1796101200000/1796446800000", recording("polygon_aggs_aapl_day_page1.json"))
        polygon_rest.answer(f"{AGGS}/1796187600001/1796446800000", recording("polygon_aggs_aapl_day_page2.json"))
    monkeypatch.setattr(backfill, "history_source", lambda provider: type("Fixed", (), {"bars": bars})())
    out = io.StringIO()
    call_command("backfill_bars", provider="polygon", timeframes="1Day", symbols=["AAPL"], stdout=out)
    assert "4 bars inserted" in out.getvalue()
    call_command("backfill_bars", provider="polygon", timeframes="1Day", symbols=["AAPL"], stdout=out)
    assert "0 bars inserted" in out.getvalue()
    assert Bar.objects.filter(asset=asset, timeframe="1Day").count() == 4
    assert Bar.objects.get(asset=asset, timestamp=datetime(2026, 12, 4, 5, tzinfo=UTC)).vwap == D("195.012300000")


_DEC_1, _DEC_5 = datetime(2026, 12, 1, 5, tzinfo=UTC), datetime(2026, 12, 5, 5, tzinfo=UTC)


def test_build_feed_names_the_missing_key_and_never_shows_it(settings):
    settings.POLYGON_API_KEY = ""
    with pytest.raises(Exception, match="POLYGON_API_KEY"):
        build_feed(settings)
    settings.POLYGON_API_KEY = API_KEY
    assert API_KEY not in repr(build_feed(settings))


@pytest.mark.django_db
def test_backfill_bars_polygon_without_a_key_fails_with_its_name(settings):
    settings.POLYGON_API_KEY = ""
    with pytest.raises(CommandError, match="POLYGON_API_KEY"):
        call_command("backfill_bars", provider="polygon")
