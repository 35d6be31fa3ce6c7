"""The simulated feed: a seeded random walk per symbol, the embedded default.

Each symbol has its own `random.Random` seeded from (seed, symbol), and one more
generator (seeded from the seed) picks which open symbols tick, so the quotes depend
only on the seed, the symbols and the times the market is ticked at. Per asset
class a profile sets volatility, spread and trade sizes; equities tick only inside
their extended session (04:00-20:00 ET on XNYS sessions), crypto always. Prices land on the asset's `price_increment`.

`SimulatedMarket.tick(at, interval)` is the deterministic core (tests drive it with
chosen times); `SimulatedFeed.stream()` calls it on the wall clock at the configured
tick rate.
"""

import asyncio
import math
import random
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketdata.calendars import CRYPTO, US_EQUITY, is_open
from marketdata.quotes import Quote
from speedtrade.money import qty_down_to_step, to_increment, to_step

SECONDS_PER_YEAR = {
    # Equities move only while they trade: 252 sessions of 16 extended hours.
    US_EQUITY: 252 * 16 * 3600,
    CRYPTO: 365 * 24 * 3600,
}
MAX_STEP = timedelta(hours=1)  # a symbol idle longer (overnight) moves as if one hour passed
SHOCK_QUANTUM = Decimal("0.000000000001")
MIN_SIZE_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True)
class AssetClassProfile:
    annual_volatility: float
    spread_bps: Decimal  # full bid/ask spread in basis points of the price
    round_lot: Decimal  # equities quote in lots of shares; crypto sizes are notional-driven
    typical_notional: Decimal  # USD size of a typical resting quote or trade


PROFILES = {
    US_EQUITY: AssetClassProfile(
        annual_volatility=0.35, spread_bps=Decimal("4"), round_lot=Decimal("100"), typical_notional=Decimal("20000")
    ),
    CRYPTO: AssetClassProfile(
        annual_volatility=0.70, spread_bps=Decimal("8"), round_lot=Decimal("0"), typical_notional=Decimal("15000")
    ),
}


@dataclass(frozen=True)
class SimulatedAsset:
    symbol: str
    asset_class: str
    price_increment: Decimal
    min_trade_increment: Decimal
    start_price: Decimal

    @classmethod
    def from_asset(cls, asset, start_price: Decimal | None = None) -> "SimulatedAsset":
        return cls(
            symbol=asset.symbol,
            asset_class=asset.asset_class,
            price_increment=asset.price_increment,
            min_trade_increment=asset.min_trade_increment,
            start_price=start_price or asset.reference_price,
        )


class RandomWalk:
    """One symbol's price path and quote shape, deterministic for (seed, symbol)."""

    def __init__(self, asset: SimulatedAsset, seed: int) -> None:
        self.asset = asset
        self.profile = PROFILES[asset.asset_class]
        self.rng = random.Random(f"{seed}:{asset.symbol}")  # noqa: S311  (a simulation, not a secret)
        self.exact_price = asset.start_price
        self.price = to_increment(asset.start_price, asset.price_increment)
        self._sigma_per_sqrt_second = self.profile.annual_volatility / math.sqrt(SECONDS_PER_YEAR[asset.asset_class])
        size_step = asset.min_trade_increment
        self.size_quantum = size_step if size_step >= MIN_SIZE_QUANTUM else MIN_SIZE_QUANTUM

    def step(self, elapsed: timedelta) -> Decimal:
        """Move the price by a normal shock scaled to `elapsed`; never below one tick.

        The walk itself is unrounded (`exact_price`): rounding every step onto the grid
        would swallow the many moves smaller than half a tick.
        """
        seconds = min(elapsed, MAX_STEP).total_seconds()
        shock = Decimal(self.rng.gauss(0.0, self._sigma_per_sqrt_second * math.sqrt(max(seconds, 0.001))))
        self.exact_price = max(self.exact_price * (1 + to_step(shock, SHOCK_QUANTUM)), self.asset.price_increment)
        self.exact_price = to_step(self.exact_price, SHOCK_QUANTUM)
        self.price = to_increment(self.exact_price, self.asset.price_increment)
        return self.price

    def _size(self, scale: float) -> Decimal:
        if self.profile.round_lot:
            lots = max(1, round(self.rng.uniform(0.2, 2.0) * scale * 10))
            return self.profile.round_lot * lots
        notional = self.profile.typical_notional * to_step(Decimal(self.rng.uniform(0.05, 2.0) * scale), SHOCK_QUANTUM)
        size = qty_down_to_step(notional / self.price, self.size_quantum)
        return max(size, self.size_quantum)

    def quote(self, at: datetime) -> Quote:
        # The column stores 9 decimals (0.010000000); written on the grid (0.01) so bid
        # and ask come out as 10.00, not 10.000000000.
        increment = to_increment(self.asset.price_increment, self.asset.price_increment)
        half_spread = max(to_increment(self.price * self.profile.spread_bps / 20000, increment), increment)
        trade_size = self._size(0.05) if not self.profile.round_lot else Decimal(self.rng.randint(1, 300))
        return Quote(
            symbol=self.asset.symbol,
            bid=max(self.price - half_spread, increment),
            ask=self.price + half_spread,
            bid_size=self._size(1.0),
            ask_size=self._size(1.0),
            last=self.price,
            last_size=trade_size,
            timestamp=at,
        )


class SimulatedMarket:
    """Random walks for many symbols, stepped at `ticks_per_second` overall."""

    def __init__(self, assets: Iterable[SimulatedAsset], *, seed: int, ticks_per_second: float) -> None:
        self.walks = {asset.symbol: RandomWalk(asset, seed) for asset in assets}
        self.ticks_per_second = ticks_per_second
        self._chooser = random.Random(seed)  # noqa: S311
        self._due = 0.0  # fractional ticks carried between calls
        self._last_tick: dict[str, datetime] = {}

    def open_symbols(self, at: datetime) -> list[str]:
        return [
            symbol for symbol, walk in self.walks.items() if is_open(walk.asset.asset_class, at, extended_hours=True)
        ]

    def tick(self, at: datetime, interval: timedelta) -> list[Quote]:
        """Quotes for the symbols that tick in the `interval` ending at `at` (closed markets stay silent)."""
        open_symbols = self.open_symbols(at)
        self._due += self.ticks_per_second * interval.total_seconds()
        count = min(int(self._due), len(open_symbols))
        self._due -= int(self._due)
        quotes = []
        for symbol in self._chooser.sample(open_symbols, count):
            walk = self.walks[symbol]
            walk.step(at - self._last_tick.get(symbol, at - interval))
            self._last_tick[symbol] = at
            quotes.append(walk.quote(at))
        return quotes


class SimulatedFeed:
    name = "simulated"

    def __init__(
        self, assets: Iterable[SimulatedAsset], *, seed: int, ticks_per_second: float, batch_interval: float = 0.1
    ) -> None:
        self.assets = list(assets)
        self.seed = seed
        self.ticks_per_second = ticks_per_second
        self.batch_interval = timedelta(seconds=batch_interval)

    async def stream(self, symbols: list[str]) -> AsyncIterator[list[Quote]]:
        wanted = set(symbols)
        market = SimulatedMarket(
            (asset for asset in self.assets if asset.symbol in wanted),
            seed=self.seed,
            ticks_per_second=self.ticks_per_second,
        )
        while True:
            quotes = market.tick(datetime.now(UTC), self.batch_interval)
            if quotes:
                yield quotes
            await asyncio.sleep(self.batch_interval.total_seconds())


def build_feed(settings) -> SimulatedFeed:
    """Registry factory: every active asset, starting from its latest known price."""
    from marketdata.models import Asset
    from marketdata.selectors import latest_prices

    assets = list(Asset.objects.filter(status=Asset.Status.ACTIVE))
    prices = latest_prices(assets)
    return SimulatedFeed(
        [SimulatedAsset.from_asset(asset, prices[asset.pk]) for asset in assets],
        seed=settings.SIMULATED_FEED_SEED,
        ticks_per_second=settings.SIMULATED_FEED_TICKS_PER_SECOND,
        batch_interval=settings.SIMULATED_FEED_BATCH_SECONDS,
    )
