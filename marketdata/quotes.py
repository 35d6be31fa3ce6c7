"""Latest quotes: the value type every part of SpeedTrade passes around.

The store that keeps the latest quote per symbol (Redis in services mode, a
process-local dict in the embedded default) lives beside this type.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal
    last: Decimal
    timestamp: datetime  # aware, UTC: when the venue/feed produced it

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2
