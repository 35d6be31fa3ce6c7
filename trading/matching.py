"""The paper venue's order book: matching resting orders against ticks, and trailing stops' water marks.

Pure: no database and no Django models, so it is unit-tested directly (with hypothesis, against a
naive reference book in trading/tests/test_paper_matching.py). `trading.brokers.paper.PaperBook`
keeps it in step with the database; the fills it returns are booked by `trading.paper_fills`.

* Each symbol keeps four heaps keyed by trigger price (buy limits by highest limit, sell
  limits by lowest, buy stops by lowest stop, sell stops by highest), so a tick touches
  only the orders it crosses: O(crossing · log n), not O(all orders). Cancelled or
  finished orders are dropped lazily when they surface. Trailing stops sit in groups
  that share a water mark (`TrailingStops`): a tick reaches them only when it sets a new
  extreme for a group or crosses a group's nearest stop.
* Matching uses no randomness: the same ticks give the same fills (price priority,
  then arrival order).
* opg/cls orders skip matching and wait for their auction: the first tick at/after the
  open, the last tick before the close (`OrderBook.auction`).

Over 400 lines on purpose: the heaps, the trailing-stop groups and the matching loop are one
data structure whose invariants (lazy deletion, stale heap entries, shared water marks) are
read together; split, each part would reach into the others' internals.
"""

import heapq
import uuid
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import count, islice
from operator import itemgetter
from typing import cast

from marketdata.quotes import Quote
from speedtrade import money


class T:
    """Order types, as `trading.models.Order.Type` stores them (a test holds the two equal)."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


BUY, SELL = "buy", "sell"
CLS = "cls"  # the closing auction's time in force


def trailing_stop_price(
    *, side: str, hwm: Decimal | None, trail_price: Decimal | None, trail_percent: Decimal | None
) -> Decimal | None:
    """A trailing stop's current stop: the water mark minus (sell) or plus (buy) the trail."""
    if hwm is None:
        return None
    # A trailing stop has exactly one of trail_price and trail_percent (risk.check_shape).
    trail = trail_price if trail_price is not None else money.to_stored(hwm * cast(Decimal, trail_percent) / 100)
    return hwm - trail if side == SELL else hwm + trail


@dataclass(slots=True)
class Resting:
    """What the book needs to know about one order."""

    id: uuid.UUID
    symbol: str
    asset_class: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    filled_qty: Decimal
    filled_notional: Decimal
    reserved_qty: Decimal
    increment: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    trail_price: Decimal | None
    trail_percent: Decimal | None
    hwm: Decimal | None
    extended_hours: bool
    updated_at: datetime
    auction_at: datetime | None = None  # opg: the session's open; cls: its close
    exit_group: uuid.UUID | None = None  # bracket/OTO legs: their entry; OCO orders: the OCO parent
    triggered: bool = False

    @property
    def is_buy(self) -> bool:
        return self.side == BUY

    @property
    def acts_as_limit(self) -> bool:
        return self.type == T.LIMIT or (self.type == T.STOP_LIMIT and self.triggered)

    @property
    def acts_as_market(self) -> bool:
        return self.type == T.MARKET or (self.type in (T.STOP, T.TRAILING_STOP) and self.triggered)

    def trailing_stop_at(self, hwm: Decimal) -> Decimal:
        """The stop price this trailing stop has at water mark `hwm`."""
        stop = trailing_stop_price(
            side=self.side, hwm=hwm, trail_price=self.trail_price, trail_percent=self.trail_percent
        )
        return cast(Decimal, stop)  # None only without a water mark, and `hwm` is one

    def add_fill(self, fill: "FillIntent") -> None:
        """Take a fill into the order's figures, as booking it does to its row."""
        self.filled_qty += fill.qty
        self.filled_notional += money.trade_value(fill.qty, fill.price, self.side)
        self.reserved_qty = max(self.reserved_qty - fill.qty, Decimal(0))


def auction_price(quote: Quote) -> Decimal:
    """The auction's print: the tick's last trade price."""
    return quote.last if quote.last else quote.mid


@dataclass(frozen=True, slots=True)
class FillIntent:
    order: Resting
    qty: Decimal
    price: Decimal
    final: bool  # the order has nothing left after this fill


def fill_size(order: Resting, price: Decimal, available: Decimal) -> FillIntent | None:
    """How much of `order` trades at `price` when `available` is on offer; None if nothing can."""
    if order.qty is not None:
        remaining = order.qty - order.filled_qty
        qty = min(remaining, available)
        final = qty == remaining
    else:
        notional = cast(Decimal, order.notional)  # an order without qty has a notional
        affordable = money.qty_down_to_step((notional - order.filled_notional) / price, order.increment)
        if not order.is_buy:
            affordable = min(affordable, order.reserved_qty)
        qty = min(affordable, available)
        final = qty == affordable
    qty = money.qty_down_to_step(qty, order.increment)
    if qty <= 0 or money.trade_value(qty, price, order.side) <= 0:
        return None  # nothing, or a sliver whose cash rounds to $0.00 (the ledger refuses those)
    return FillIntent(order=order, qty=qty, price=price, final=final)


def crosses(order: Resting, quote: Quote) -> bool:
    if order.acts_as_market:
        return True
    if order.acts_as_limit:
        limit_price = cast(Decimal, order.limit_price)  # acts_as_limit: a limit or stop_limit order, which has one
        return quote.ask <= limit_price if order.is_buy else quote.bid >= limit_price
    return False


class MarkGroup:
    """Trailing stops of one symbol and side that share a water mark: a tick that moves it moves them all."""

    __slots__ = ("mark", "key", "members", "by_price", "by_percent", "moved", "entry")

    def __init__(self, mark: Decimal, key: Decimal) -> None:
        self.mark = mark
        self.key = key  # the mark, signed so that the more extreme mark is the greater key
        self.members: dict[uuid.UUID, tuple[int, Resting]] = {}  # id → (arrival seq, order)
        # The tightest trail has the nearest stop, so each heap yields the orders in the order they fire.
        self.by_price: list = []  # (trail_price, seq, id)
        self.by_percent: list = []  # (trail_percent, seq, id)
        self.moved = False  # the mark moved since it was last written (`PaperBook.hwm_flush`)
        self.entry = 0  # its current entry in `TrailingStops.stops`; older entries are stale


class TrailingStops:
    """One symbol's trailing stops on one side (sell: water mark = highest bid; buy: lowest ask).

    A tick moves an order's mark only when it passes it, and every order it moves then shares
    that mark: so the orders live in `MarkGroup`s ordered by mark, and a new extreme merges the
    groups it passes (and the orders that have no mark yet) into one group at the new mark —
    each order moves once per merge, not once per tick. A heap holds each group's nearest stop,
    so a tick that sets no new extreme and reaches no stop costs two comparisons.
    """

    def __init__(self, *, sell: bool, hwm_dirty: dict[uuid.UUID, Decimal], moved: set[MarkGroup]) -> None:
        self.sell = sell
        self.groups: list[MarkGroup] = []  # by key, descending: a new extreme passes the last ones first
        self.unmarked: dict[uuid.UUID, tuple[int, Resting]] = {}  # no water mark yet: the next tick sets it
        self.group_of: dict[uuid.UUID, MarkGroup] = {}
        self.stops: list = []  # (-signed nearest stop, entry, group)
        self.entries = count(1)
        self.hwm_dirty = hwm_dirty  # the book's marks waiting to be written
        self.moved = moved  # the book's groups whose mark moved since the last write

    def signed(self, price: Decimal) -> Decimal:
        return price if self.sell else -price

    def add(self, order: Resting, seq: int) -> None:
        if order.hwm is None:
            self.unmarked[order.id] = (seq, order)
            return
        key = self.signed(order.hwm)
        at = bisect_left(self.groups, -key, key=lambda group: -group.key)
        # Join a group at the same mark, unless its mark moved: its orders' marks get written, this one's did not move.
        group = next((g for g in islice(self.groups, at, None) if g.key != key or not g.moved), None)
        if group is None or group.key != key:
            group = MarkGroup(order.hwm, key)
            self.groups.insert(at, group)
        self._join(group, seq, order)
        self._push(group)

    def discard(self, order_id: uuid.UUID) -> None:
        if self.unmarked.pop(order_id, None) is not None:
            return
        group = self.group_of.pop(order_id, None)
        if group is not None:
            _, order = group.members.pop(order_id)
            if group.moved:
                order.hwm = self.hwm_dirty[order_id] = group.mark

    def tick(self, mark: Decimal, fired: list[tuple[int, Resting]]) -> None:
        """Move the water marks `mark` passes; add the (seq, order) pairs whose stop it reaches to `fired`."""
        if not self.group_of and not self.unmarked:
            return
        key = self.signed(mark)
        if self.unmarked or key > self.groups[-1].key:
            self._move(mark, key)
        stops = self.stops
        while stops and -stops[0][0] >= key:
            _, entry, group = heapq.heappop(stops)
            if entry == group.entry:
                self._fire(group, key, fired)

    def _move(self, mark: Decimal, key: Decimal) -> None:
        passed = []
        while self.groups and key > self.groups[-1].key:
            passed.append(self.groups.pop())
        # The largest group passed becomes the new one; the others' orders join it.
        base = max(passed, key=lambda group: len(group.members), default=None) or MarkGroup(mark, key)
        for group in passed:
            if group is not base:
                for seq, order in group.members.values():
                    self._join(base, seq, order)
                self._retire(group)
        for seq, order in self.unmarked.values():
            self._join(base, seq, order)
        self.unmarked.clear()
        base.mark, base.key, base.moved = mark, key, True
        self.moved.add(base)
        self.groups.append(base)
        self._push(base)

    def _fire(self, group: MarkGroup, key: Decimal, fired: list[tuple[int, Resting]]) -> None:
        for heap in (group.by_price, group.by_percent):
            while (order := self._first(group, heap)) is not None:
                if self.signed(order.trailing_stop_at(group.mark)) < key:
                    break
                fired.append(group.members.pop(order.id))
                heapq.heappop(heap)
                del self.group_of[order.id]
                order.hwm = group.mark
                if group.moved:
                    self.hwm_dirty[order.id] = group.mark
        self._push(group)

    def _join(self, group: MarkGroup, seq: int, order: Resting) -> None:
        group.members[order.id] = (seq, order)
        self.group_of[order.id] = group
        if order.trail_price is not None:
            heapq.heappush(group.by_price, (order.trail_price, seq, order.id))
        else:
            heapq.heappush(group.by_percent, (order.trail_percent, seq, order.id))

    @staticmethod
    def _first(group: MarkGroup, heap: list) -> Resting | None:
        """The heap's live order with the tightest trail; canceled and stale entries are dropped."""
        while heap:
            _, seq, order_id = heap[0]
            member = group.members.get(order_id)
            if member is not None and member[0] == seq:
                return member[1]
            heapq.heappop(heap)
        return None

    def _push(self, group: MarkGroup) -> None:
        """(Re)file the group under its nearest stop; an empty group is retired."""
        nearest = [
            self.signed(order.trailing_stop_at(group.mark))
            for heap in (group.by_price, group.by_percent)
            if (order := self._first(group, heap)) is not None
        ]
        if not nearest:
            self.groups.remove(group)
            self._retire(group)
            return
        group.entry = next(self.entries)
        heapq.heappush(self.stops, (-max(nearest), group.entry, group))
        if len(self.stops) > 2 * len(self.groups) + 32:  # stale entries outnumber live ones: rebuild
            self.stops = [item for item in self.stops if item[1] == item[2].entry]
            heapq.heapify(self.stops)

    def _retire(self, group: MarkGroup) -> None:
        group.entry = 0
        self.moved.discard(group)


class SymbolBook:
    """Resting orders of one symbol, keyed so a tick reaches only what it crosses."""

    def __init__(self, *, hwm_dirty: dict[uuid.UUID, Decimal], moved: set[MarkGroup]) -> None:
        self.markets: deque[uuid.UUID] = deque()
        self.buy_limits: list = []  # (-limit, seq, id)
        self.sell_limits: list = []  # (limit, seq, id)
        self.buy_stops: list = []  # (stop, seq, id)
        self.sell_stops: list = []  # (-stop, seq, id)
        self.trailing_buys = TrailingStops(sell=False, hwm_dirty=hwm_dirty, moved=moved)
        self.trailing_sells = TrailingStops(sell=True, hwm_dirty=hwm_dirty, moved=moved)
        self.auctions: list[uuid.UUID] = []  # opg/cls orders, waiting for their auction
        self.last_quote: Quote | None = None  # the tick before the current one (closing prints)

    def trailing(self, order: Resting) -> TrailingStops:
        return self.trailing_buys if order.is_buy else self.trailing_sells


class OrderBook:
    """Every symbol's resting orders. `session_open(asset_class, at, extended_hours)` says whether an
    order may trade at `at` (the market calendar, given by the caller)."""

    def __init__(self, session_open: Callable[[str, datetime, bool], bool]) -> None:
        self.session_open = session_open
        self.orders: dict[uuid.UUID, Resting] = {}
        self.books: dict[str, SymbolBook] = {}
        self.seq = 0
        # Trailing water marks moved since they were last written (see `PaperBook.hwm_flush`): per
        # order, and the groups whose shared mark moved (their orders' marks are collected when written).
        self.hwm_dirty: dict[uuid.UUID, Decimal] = {}
        self.marks_moved: set[MarkGroup] = set()
        self.hwm_fired = False

    def add(self, order: Resting) -> None:
        self.orders[order.id] = order
        book = self.books.get(order.symbol)
        if book is None:
            book = self.books[order.symbol] = SymbolBook(hwm_dirty=self.hwm_dirty, moved=self.marks_moved)
        self.seq += 1
        entry_id = order.id
        if order.auction_at is not None:
            book.auctions.append(entry_id)
        elif order.acts_as_market:
            book.markets.append(entry_id)
        elif order.acts_as_limit:
            if order.is_buy:
                # acts_as_limit / stop types: the price their type requires (risk.check_shape)
                heapq.heappush(book.buy_limits, (-cast(Decimal, order.limit_price), self.seq, entry_id))
            else:
                heapq.heappush(book.sell_limits, (order.limit_price, self.seq, entry_id))
        elif order.type == T.STOP or order.type == T.STOP_LIMIT:
            if order.is_buy:
                heapq.heappush(book.buy_stops, (order.stop_price, self.seq, entry_id))
            else:
                heapq.heappush(book.sell_stops, (-cast(Decimal, order.stop_price), self.seq, entry_id))
        elif order.type == T.TRAILING_STOP:
            book.trailing(order).add(order, self.seq)

    def remove(self, order_id: uuid.UUID) -> None:
        order = self.orders.pop(order_id, None)
        if order is not None and order.type == T.TRAILING_STOP and not order.triggered:
            self.books[order.symbol].trailing(order).discard(order_id)

    def fill_taken(self, fill: "FillIntent") -> None:
        """Take a matched fill into its order, before it is booked (a tick batch's later ticks match what it
        leaves; one not booked is read again from the database); a finished order leaves."""
        fill.order.add_fill(fill)
        if fill.final:
            self.remove(fill.order.id)

    def water_marks_collect(self) -> None:
        """Give each order of a group whose mark moved that mark, and queue it to be written."""
        for group in self.marks_moved:
            for _, order in group.members.values():
                order.hwm = self.hwm_dirty[order.id] = group.mark
            group.moved = False
        self.marks_moved.clear()

    # --- matching --------------------------------------------------------------------
    def _triggered(self, book: SymbolBook, quote: Quote) -> None:
        """Stops (and trailing stops) the quote reaches become market or limit orders: stops by
        trigger price, then trailing stops in arrival order."""
        fired: list[Resting] = []
        heap = book.buy_stops
        while heap and heap[0][0] <= quote.ask:
            order = self.orders.get(heapq.heappop(heap)[2])
            if order is not None:
                fired.append(order)
        heap = book.sell_stops
        while heap and -heap[0][0] >= quote.bid:
            order = self.orders.get(heapq.heappop(heap)[2])
            if order is not None:
                fired.append(order)
        trailing: list[tuple[int, Resting]] = []
        book.trailing_sells.tick(quote.bid, trailing)
        book.trailing_buys.tick(quote.ask, trailing)
        if trailing:
            trailing.sort(key=itemgetter(0))
            fired.extend(order for _, order in trailing)
            self.hwm_fired = True
        for order in fired:
            order.triggered = True
            self.add(order)

    def auction(self, quote: Quote, at: datetime) -> tuple[list[FillIntent], list[Resting]]:
        """opg/cls orders whose auction has come, as (fills, missed).

        The opening auction prints at the first tick at/after the open; the closing auction at
        the last tick before the close, taken when the first tick at/after the close arrives
        (a book that saw no tick before the close — just restarted — uses that first one).
        An auction fills the whole order at its print; a limit it does not reach is missed.
        """
        book = self.books.get(quote.symbol)
        if book is None or not book.auctions:
            return [], []
        fills, missed, waiting = [], [], []
        for order_id in book.auctions:
            order = self.orders.get(order_id)
            if order is None:
                continue
            auction_at = cast(datetime, order.auction_at)  # `add` files only orders with auction_at here
            if at < auction_at:
                waiting.append(order_id)
                continue
            before = book.last_quote
            closing = order.time_in_force == CLS
            price = auction_price(before if closing and before and before.timestamp < auction_at else quote)
            reached = order.limit_price is None or (
                price <= order.limit_price if order.is_buy else price >= order.limit_price
            )
            # opg/cls orders have a qty: notional orders are day (risk.check_fractional) or crypto (no auctions).
            qty = cast(Decimal, order.qty)
            fill = fill_size(order, price, qty - order.filled_qty) if reached else None
            if fill is None:
                missed.append(order)
            else:
                fills.append(fill)
        book.auctions = waiting
        return fills, missed

    def _eligible(self, order: Resting, at: datetime) -> bool:
        return self.session_open(order.asset_class, at, order.extended_hours)

    def evaluate(self, quote: Quote, now: datetime) -> list[FillIntent]:
        """The fills one tick produces, in priority order (market orders, then best price, then arrival)."""
        book = self.books.get(quote.symbol)
        if book is None:
            return []
        self._triggered(book, quote)
        book.last_quote = quote
        ask_left, bid_left = quote.ask_size, quote.bid_size
        fills: list[FillIntent] = []
        deferred: list[uuid.UUID] = []
        while book.markets and (ask_left > 0 or bid_left > 0):
            order = self.orders.get(book.markets.popleft())
            if order is None:
                continue
            if not self._eligible(order, now):
                deferred.append(order.id)
                continue
            fill = fill_size(order, quote.ask if order.is_buy else quote.bid, ask_left if order.is_buy else bid_left)
            if fill is None:
                deferred.append(order.id)
                continue
            fills.append(fill)
            ask_left, bid_left = (ask_left - fill.qty, bid_left) if order.is_buy else (ask_left, bid_left - fill.qty)
            if not fill.final:
                deferred.append(order.id)
        book.markets.extendleft(reversed(deferred))
        for heap, is_buy in ((book.buy_limits, True), (book.sell_limits, False)):
            kept = []
            while heap:
                key, seq, order_id = heap[0]
                limit = -key if is_buy else key
                if (is_buy and (limit < quote.ask or ask_left <= 0)) or (
                    not is_buy and (limit > quote.bid or bid_left <= 0)
                ):
                    break
                heapq.heappop(heap)
                order = self.orders.get(order_id)
                if order is None:
                    continue
                fill = fill_size(order, quote.ask if is_buy else quote.bid, ask_left if is_buy else bid_left)
                if fill is None or not self._eligible(order, now):
                    kept.append((key, seq, order_id))
                    continue
                fills.append(fill)
                if is_buy:
                    ask_left -= fill.qty
                else:
                    bid_left -= fill.qty
                if not fill.final:
                    kept.append((key, seq, order_id))
            for entry in kept:
                heapq.heappush(heap, entry)
        return fills
