"""Chart indicators computed from our own bars with TA-Lib (issue 18 item 11): what the trade chart draws and
what `GET /api/v1/bars/{symbol}?indicators=…` returns for mobile clients, from one function.

Each indicator is a set of named lines of `{"time": unix seconds, "value": float}`; a line starts once TA-Lib has
enough bars for it (the first 19 bars have no 20-bar average). Values are analytics, not money: floats, never
used for an order or a balance. Parameters are the common defaults traders expect.

TA-Lib and numpy are imported by the first computation, not with this module (the API's views import it when a
web worker starts), and without pandas (see `_talib`): ~27 MB for the worker that draws a chart, not ~70 MB for
every process.
"""

import sys
import threading
from collections.abc import Callable, Sequence
from functools import cache
from importlib.abc import MetaPathFinder
from types import ModuleType

from marketdata.models import Bar

# name → (label, lines it draws, compute(talib, closes, volumes) → arrays in the same order as the lines)
INDICATORS: dict[str, tuple[str, tuple[str, ...], Callable]] = {
    "sma": ("SMA 20", ("sma",), lambda talib, close, volume: [talib.SMA(close, timeperiod=20)]),
    "ema": ("EMA 20", ("ema",), lambda talib, close, volume: [talib.EMA(close, timeperiod=20)]),
    "bbands": (
        "Bollinger 20, 2σ",
        ("upper", "middle", "lower"),
        lambda talib, close, volume: list(talib.BBANDS(close, timeperiod=20, nbdevup=2, nbdevdn=2)),
    ),
    "volume": ("Volume", ("volume",), lambda talib, close, volume: [volume]),
    "rsi": ("RSI 14", ("rsi",), lambda talib, close, volume: [talib.RSI(close, timeperiod=14)]),
    "macd": (
        "MACD 12, 26, 9",
        ("macd", "signal", "histogram"),
        lambda talib, close, volume: list(talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)),
    ),
}
INDICATOR_NAMES = tuple(INDICATORS)


class _PandasRefused(MetaPathFinder):
    """Refuses pandas to one thread while it imports TA-Lib; every other thread imports as usual."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, fullname, path, target=None):
        if fullname == "pandas" and threading.get_ident() == self.thread:
            raise ModuleNotFoundError("pandas is not imported for TA-Lib", name="pandas")
        return None


@cache
def _talib() -> ModuleType:
    """TA-Lib imports pandas when it can (~45 MB), only to accept pandas Series, which we never pass; it takes a
    missing pandas as an answer. A process that has pandas loaded already keeps it."""
    refused = _PandasRefused()
    sys.meta_path.insert(0, refused)
    try:
        import talib
    finally:
        sys.meta_path.remove(refused)
    return talib


def indicators_compute(bars: Sequence[Bar], names: Sequence[str]) -> dict[str, dict[str, list[dict]]]:
    """`names` (from INDICATOR_NAMES) over `bars` (oldest first): {indicator: {line: [{time, value}, …]}}."""
    talib = _talib()
    import numpy as np  # loaded by TA-Lib

    times = [int(bar.timestamp.timestamp()) for bar in bars]
    close = np.array([float(bar.close) for bar in bars], dtype=float)
    volume = np.array([float(bar.volume) for bar in bars], dtype=float)
    result = {}
    for name in names:
        _label, lines, compute = INDICATORS[name]
        arrays = compute(talib, close, volume) if len(bars) else [np.array([])] * len(lines)
        result[name] = {
            line: [{"time": t, "value": float(v)} for t, v in zip(times, values, strict=True) if not np.isnan(v)]
            for line, values in zip(lines, arrays, strict=True)
        }
    return result
