"""The simulated feed: deterministic for a seed, silent for closed equity markets, on the tick grid."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from marketdata.calendars import CRYPTO, US_EQUITY
from marketdata.feeds.simulated import SimulatedAsset, SimulatedFeed, SimulatedMarket

STOCK = SimulatedAsset("F", US_EQUITY, Decimal("0.01"), Decimal("0.000000001"), Decimal("10.52"))
BITCOIN = SimulatedAsset("BTC/USD", CRYPTO, Decimal("1"), Decimal("0.000000001"), Decimal("65000"))
SHIB = SimulatedAsset("SHIB/USD", CRYPTO, Decimal("0.00000001"), Decimal("1"), Decimal("0.00001752"))
STEP = timedelta(seconds=1)
# Tuesday 2026-03-10, 10:00 ET (regular hours); the Saturday after; Christmas Day 2026 (a holiday).
TUESDAY_MORNING = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
CHRISTMAS = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)


def run(market, start, seconds):
    return [quote for n in range(seconds) for quote in market.tick(start + n * STEP, STEP)]


def test_the_same_seed_replays_the_same_quotes_and_another_seed_does_not():
    first = run(SimulatedMarket([STOCK, BITCOIN], seed=7, ticks_per_second=2), TUESDAY_MORNING, 60)
    again = run(SimulatedMarket([STOCK, BITCOIN], seed=7, ticks_per_second=2), TUESDAY_MORNING, 60)
    other = run(SimulatedMarket([STOCK, BITCOIN], seed=8, ticks_per_second=2), TUESDAY_MORNING, 60)
    assert len(first) == 120
    assert first == again
    assert first != other


def test_prices_move_but_stay_realistic_over_a_session():
    quotes = run(SimulatedMarket([STOCK], seed=1, ticks_per_second=1), TUESDAY_MORNING, 3600)
    lasts = {quote.last for quote in quotes}
    assert len(lasts) >= 5  # cents-sized moves: an hour's standard deviation is about 6 cents here
    assert Decimal("9.50") < min(lasts) and max(lasts) < Decimal("11.50")


def test_equities_are_silent_on_weekends_and_holidays_while_crypto_trades():
    for closed in (SATURDAY, CHRISTMAS):
        quotes = run(SimulatedMarket([STOCK, BITCOIN], seed=3, ticks_per_second=2), closed, 30)
        assert {quote.symbol for quote in quotes} == {"BTC/USD"}


def test_equities_tick_in_pre_market_but_not_before_it():
    before_pre_market = datetime(2026, 3, 10, 7, 59, tzinfo=UTC)  # 03:59 EDT
    pre_market = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)  # 04:30 EDT
    market = SimulatedMarket([STOCK], seed=3, ticks_per_second=1)
    assert market.tick(before_pre_market, STEP) == []
    assert [quote.symbol for quote in market.tick(pre_market, STEP)] == ["F"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_quotes_sit_on_the_tick_grid_with_bid_below_ask(seed):
    for quote in run(SimulatedMarket([STOCK, BITCOIN, SHIB], seed=seed, ticks_per_second=3), TUESDAY_MORNING, 20):
        increment = {"F": STOCK, "BTC/USD": BITCOIN, "SHIB/USD": SHIB}[quote.symbol].price_increment
        for price in (quote.bid, quote.ask, quote.last):
            assert price > 0
            assert price % increment == 0
        assert quote.bid < quote.last < quote.ask
        assert quote.bid_size > 0 and quote.ask_size > 0 and quote.last_size > 0


def test_the_tick_rate_is_the_configured_rate_across_symbols():
    market = SimulatedMarket([BITCOIN, SHIB], seed=5, ticks_per_second=0.5)
    assert len(run(market, TUESDAY_MORNING, 20)) == 10


async def test_the_feed_streams_batches_for_the_requested_symbols_only():
    feed = SimulatedFeed([BITCOIN, SHIB], seed=5, ticks_per_second=100, batch_interval=0.01)
    stream = feed.stream(["SHIB/USD"])
    batch = await anext(stream)
    await stream.aclose()
    assert batch and {quote.symbol for quote in batch} == {"SHIB/USD"}
