"""Price alerts evaluated on every tick batch, in the process that receives the feed (FEED_TICK_HANDLERS).

Shaped like the paper venue's book (trading/brokers/paper.py):
* Every alert is reduced to one threshold price: `price ≥ T` (above, or up p % → T = previous close ×
  (1 + p/100)) or `price ≤ T` (below, or down p % → previous close × (1 − p/100)).
* Each symbol keeps two heaps: "above" thresholds by lowest, "below" thresholds by highest. A tick
  looks at the top of each heap and pops only the alerts it crosses: O(1) for a tick that crosses
  nothing, O(k log n) for k crossings — the alerts far from the price cost nothing.
* Edits and cancellations are read from the database by `updated_at` watermark, one indexed query
  per batch (as the paper book reads orders): alerts created in a web process appear without any
  other channel. A changed alert gets a new heap entry; stale entries are dropped when they surface.
* A repeating alert that fired sleeps in a heap by wake-up time and is put back when it is due.
* Percentage thresholds move with the previous close: when the day changes (midnight New York,
  marketdata's daily bar) the whole book is reloaded.
* A batch's firings go through `alerts.services.alerts_fire` together (one transaction of a fixed number
  of statements); its conditional UPDATE makes a second book (or a book that missed an edit) harmless.
"""

import heapq
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from django.utils import timezone

from alerts.models import PriceAlert
from marketdata.models import Asset
from marketdata.quotes import Quote
from marketdata.selectors import previous_closes, today_start

logger = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=60)
SYNC_OVERLAP = timedelta(seconds=5)  # re-read recent changes: a transaction may commit after a later one
FIELDS = (
    "id",
    "user_id",
    "symbol",
    "condition",
    "value",
    "repeat",
    "cooldown_seconds",
    "status",
    "rearm_at",
    "updated_at",
)
S = PriceAlert.Status
UPWARDS = (PriceAlert.Condition.PRICE_ABOVE, PriceAlert.Condition.CHANGE_UP)


@dataclass(slots=True)
class Armed:
    id: uuid.UUID
    user_id: uuid.UUID
    symbol: str
    condition: str
    value: Decimal
    repeat: bool
    cooldown_seconds: int
    updated_at: datetime
    seq: int = 0

    @property
    def upwards(self) -> bool:
        return self.condition in UPWARDS

    @property
    def is_percent(self) -> bool:
        return self.condition in (PriceAlert.Condition.CHANGE_UP, PriceAlert.Condition.CHANGE_DOWN)


class SymbolAlerts:
    __slots__ = ("above", "below")

    def __init__(self) -> None:
        self.above: list[tuple[Decimal, int, uuid.UUID]] = []  # fires when price >= threshold
        self.below: list[tuple[Decimal, int, uuid.UUID]] = []  # (-threshold, ...): fires when price <= threshold


class AlertBook:
    def __init__(self) -> None:
        self._empty()

    def _empty(self) -> None:
        self.alerts: dict[uuid.UUID, Armed] = {}
        self.books: dict[str, SymbolAlerts] = {}
        self.sleeping: list[tuple[datetime, int, uuid.UUID]] = []
        self.closes: dict[str, Decimal] = {}
        self.seq = 0
        self.watermark: datetime | None = None
        self.day: datetime | None = None
        self.evaluations = 0  # ticks looked at (the bench reads it)

    # --- keeping the book in step with the database --------------------------------
    def sync(self, now: datetime) -> None:
        day = today_start(now)
        if day != self.day:
            evaluations = self.evaluations
            self._empty()
            self.day, self.evaluations = day, evaluations
            query = PriceAlert.objects.filter(status=S.ACTIVE)
        else:
            # The same day as the last sync, which set the watermark.
            watermark = cast(datetime, self.watermark)
            query = PriceAlert.objects.filter(updated_at__gte=watermark - SYNC_OVERLAP)
        rows = list(query.values_list(*FIELDS))
        self._closes_load({row[2] for row in rows if row[3] in ("change_up", "change_down")} - set(self.closes), now)
        for alert_id, user_id, symbol, condition, value, repeat, cooldown, status, rearm_at, updated_at in rows:
            known = self.alerts.get(alert_id)
            if known is not None and known.updated_at == updated_at:
                continue  # nothing new (or only our own firing)
            if status != S.ACTIVE:
                self.alerts.pop(alert_id, None)
                continue
            alert = Armed(alert_id, user_id, symbol, condition, value, repeat, cooldown, updated_at)
            if rearm_at is not None and rearm_at > now:
                self.sleep(alert, rearm_at)
            else:
                self.arm(alert)
        self.watermark = now

    def _closes_load(self, symbols: set[str], now: datetime) -> None:
        if not symbols:
            return
        assets = list(Asset.objects.filter(symbol__in=symbols))
        closes = previous_closes(assets, now=now)
        self.closes.update({asset.symbol: closes[asset.pk] for asset in assets})

    def threshold(self, alert: Armed) -> Decimal | None:
        if not alert.is_percent:
            return alert.value
        close = self.closes.get(alert.symbol)
        if close is None:
            return None
        return close * (1 + alert.value / 100) if alert.upwards else close * (1 - alert.value / 100)

    def arm(self, alert: Armed) -> None:
        threshold = self.threshold(alert)
        self.seq += 1
        alert.seq = self.seq
        self.alerts[alert.id] = alert
        if threshold is None or threshold <= 0:
            return  # known, never fires (a fall of 100 % or more; a symbol without a close)
        book = self.books.get(alert.symbol)
        if book is None:
            book = self.books[alert.symbol] = SymbolAlerts()
        if alert.upwards:
            heapq.heappush(book.above, (threshold, alert.seq, alert.id))
        else:
            heapq.heappush(book.below, (-threshold, alert.seq, alert.id))

    def sleep(self, alert: Armed, until: datetime) -> None:
        self.seq += 1
        alert.seq = self.seq
        self.alerts[alert.id] = alert
        heapq.heappush(self.sleeping, (until, alert.seq, alert.id))

    def wake(self, now: datetime) -> None:
        while self.sleeping and self.sleeping[0][0] <= now:
            _, seq, alert_id = heapq.heappop(self.sleeping)
            alert = self.alerts.get(alert_id)
            if alert is not None and alert.seq == seq:
                self.arm(alert)

    # --- evaluation -----------------------------------------------------------------
    def crossed(self, symbol: str, price: Decimal) -> list[Armed]:
        """Pop every alert of `symbol` that `price` reaches; they leave the book (the caller fires them)."""
        self.evaluations += 1
        book = self.books.get(symbol)
        if book is None:
            return []
        fired: list[Armed] = []
        above, below, alerts = book.above, book.below, self.alerts
        while above and above[0][0] <= price:
            _, seq, alert_id = heapq.heappop(above)
            alert = alerts.get(alert_id)
            if alert is not None and alert.seq == seq:
                fired.append(alert)
        while below and -below[0][0] >= price:
            _, seq, alert_id = heapq.heappop(below)
            alert = alerts.get(alert_id)
            if alert is not None and alert.seq == seq:
                fired.append(alert)
        return fired


def quote_price(quote: Quote) -> Decimal | None:
    """Last trade, else mid: the price `marketdata.selectors.latest_prices` shows."""
    if quote.last > 0:
        return quote.last
    if quote.bid > 0 and quote.ask > 0:
        return (quote.bid + quote.ask) / 2
    return None


_BOOK: AlertBook | None = None


def alert_book() -> AlertBook:
    global _BOOK
    if _BOOK is None:
        _BOOK = AlertBook()
    return _BOOK


def alert_book_reset() -> None:
    """Forget the in-memory book; the next batch reloads it (tests, a feed restart)."""
    global _BOOK
    _BOOK = None


def on_ticks(quotes: list[Quote]) -> None:
    """FEED_TICK_HANDLERS entry: fire the alerts this batch of ticks reaches, each at the price of the first tick
    that reaches it, all in one transaction (`alerts_fire`)."""
    from alerts.services import alerts_fire

    now = timezone.now()
    book = alert_book()
    book.sync(now)
    book.wake(now)
    firings: list[tuple[Armed, Decimal]] = []
    for quote in quotes:
        price = quote_price(quote)
        if price is None:
            continue
        for alert in book.crossed(quote.symbol, price):
            book.alerts.pop(alert.id, None)
            firings.append((alert, price))
    if not firings:
        return
    try:
        fired = alerts_fire(firings, now=now)
    except Exception:  # noqa: BLE001 — the feed goes on; the alerts try again in a minute, not every tick
        logger.exception("price alerts %s could not fire", [alert.id for alert, _ in firings])
        for alert, _ in firings:
            book.sleep(alert, now + RETRY_AFTER)
        return
    for alert, _ in firings:
        rearm_at = fired.get(alert.id)
        if rearm_at is not None:
            book.sleep(alert, rearm_at)
