"""The paper venue's book gives the same fills and water marks as its rules applied the slow, obvious way.

`trading.matching.OrderBook` (pure: no database) keeps orders in heaps and trailing stops in groups
sharing a water mark, so a tick touches only what it can reach. `ReferenceBook` below looks at every
order of the symbol on every tick. Random books, ticks and cancels must produce identical fills (order,
quantity, price, final) tick by tick, and identical moved water marks (what `hwm_flush` writes).
"""

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from marketdata.quotes import Quote
from trading import matching
from trading.matching import FillIntent, OrderBook, Resting, fill_size
from trading.models import Order

D = Decimal
AT = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
SYMBOLS = ("AAA/USD", "BBB/USD")
QUARTERS = st.integers(380, 420).map(lambda n: D(n) / 4)  # 95.00 … 105.00: coarse, so prices tie often


class ReferenceBook:
    """Every order of the symbol looked at on every tick, in the order the rules state."""

    def __init__(self) -> None:
        self.live: dict[uuid.UUID, Resting] = {}
        self.arrival: dict[uuid.UUID, int] = {}  # a triggered stop arrives anew as a market or limit order
        self.arrivals = 0
        self.hwm_dirty: dict[uuid.UUID, Decimal] = {}

    def add(self, order: Resting) -> None:
        self.arrivals += 1
        self.live[order.id], self.arrival[order.id] = order, self.arrivals

    def remove(self, order_id: uuid.UUID) -> None:
        self.live.pop(order_id, None)

    def arrived(self, order: Resting) -> int:
        return self.arrival[order.id]

    def evaluate(self, quote: Quote) -> list[FillIntent]:
        orders = sorted((o for o in self.live.values() if o.symbol == quote.symbol), key=self.arrived)
        waiting = [o for o in orders if o.type in ("stop", "stop_limit") and not o.triggered]
        fired = sorted((o for o in waiting if o.is_buy and o.stop_price <= quote.ask), key=lambda o: o.stop_price)
        fired += sorted((o for o in waiting if not o.is_buy and o.stop_price >= quote.bid), key=lambda o: -o.stop_price)
        for order in orders:
            if order.type == "trailing_stop" and not order.triggered:
                mark = quote.ask if order.is_buy else quote.bid
                if order.hwm is None or (mark < order.hwm if order.is_buy else mark > order.hwm):
                    order.hwm = self.hwm_dirty[order.id] = mark
                stop = order.trailing_stop_at(order.hwm)
                if quote.ask >= stop if order.is_buy else quote.bid <= stop:
                    fired.append(order)
        for order in fired:
            order.triggered = True
            self.add(order)
        left = {True: quote.ask_size, False: quote.bid_size}
        price = {True: quote.ask, False: quote.bid}
        fills = []

        def take(order: Resting) -> None:
            fill = fill_size(order, price[order.is_buy], left[order.is_buy])
            if fill is not None:
                fills.append(fill)
                left[order.is_buy] -= fill.qty

        for order in sorted((o for o in orders if o.acts_as_market), key=self.arrived):
            take(order)
        for is_buy, crossed, best_first in (
            (True, lambda o: o.limit_price >= quote.ask, lambda o: (-o.limit_price, self.arrival[o.id])),
            (False, lambda o: o.limit_price <= quote.bid, lambda o: (o.limit_price, self.arrival[o.id])),
        ):
            for order in sorted(
                (o for o in orders if o.acts_as_limit and o.is_buy == is_buy and crossed(o)), key=best_first
            ):
                if left[is_buy] > 0:
                    take(order)
        return fills


ORDER_TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop", "trailing_stop", "trailing_stop")


@st.composite
def orders(draw) -> Resting:
    type_ = draw(st.sampled_from(ORDER_TYPES))
    side = draw(st.sampled_from(("buy", "sell")))
    notional = (
        D(draw(st.sampled_from((50, 150)))) if type_ == "market" and side == "buy" and draw(st.booleans()) else None
    )
    qty = None if notional else draw(st.sampled_from((D("0.5"), D(1), D("1.5"), D(2), D(3))))
    by_price = draw(st.booleans())
    trailing = type_ == "trailing_stop"
    return Resting(
        id=uuid.uuid4(),
        symbol=draw(st.sampled_from(SYMBOLS)),
        asset_class="crypto",
        side=side,
        type=type_,
        time_in_force="gtc",
        qty=qty,
        notional=notional,
        filled_qty=D(0),
        filled_notional=D(0),
        reserved_qty=qty if side == "sell" else D(0),
        increment=D("0.01"),
        limit_price=draw(QUARTERS) if type_ in ("limit", "stop_limit") else None,
        stop_price=draw(QUARTERS) if type_ in ("stop", "stop_limit") else None,
        trail_price=draw(st.integers(1, 12).map(lambda n: D(n) / 4)) if trailing and by_price else None,
        trail_percent=draw(st.sampled_from((D("0.5"), D(1), D("2.5"), D(4)))) if trailing and not by_price else None,
        hwm=draw(st.one_of(st.none(), QUARTERS)) if trailing else None,
        extended_hours=False,
        updated_at=AT,
    )


@st.composite
def ticks(draw) -> Quote:
    bid = draw(QUARTERS)
    return Quote(
        symbol=draw(st.sampled_from(SYMBOLS)),
        bid=bid,
        ask=bid + draw(st.sampled_from((D(0), D("0.25"), D("0.5")))),
        bid_size=D(draw(st.integers(0, 5))),
        ask_size=D(draw(st.integers(0, 5))),
        last=bid,
        timestamp=AT,
    )


steps = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), ticks()),
        st.tuples(st.just("tick"), ticks()),
        st.tuples(st.just("add"), orders()),
        st.tuples(st.just("cancel"), st.integers(0, 40)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(initial=st.lists(orders(), min_size=1, max_size=30), steps=steps)
def test_the_book_fills_and_marks_like_the_reference(initial, steps):
    book, reference = OrderBook(session_open=lambda *_: True), ReferenceBook()  # crypto: always open
    added = []

    def add(order: Resting) -> None:
        added.append(order.id)
        book.add(order)
        reference.add(dataclasses.replace(order))

    for order in initial:
        add(order)
    for kind, value in steps:
        if kind == "add":
            add(value)
        elif kind == "cancel" and added:
            book.remove(added[value % len(added)])
            reference.remove(added[value % len(added)])
        elif kind == "tick":
            fills = book.evaluate(value, AT)
            expected = reference.evaluate(value)
            assert [(f.order.id, f.qty, f.price, f.final) for f in fills] == [
                (f.order.id, f.qty, f.price, f.final) for f in expected
            ]
            for fill in fills:
                book.fill_taken(fill)
            for fill in expected:
                fill.order.add_fill(fill)
                if fill.final:
                    reference.remove(fill.order.id)
    book.water_marks_collect()
    assert book.hwm_dirty == reference.hwm_dirty


def test_the_book_names_order_types_and_sides_as_orders_store_them():
    assert {value for name, value in vars(matching.T).items() if name.isupper()} == set(Order.Type.values)
    assert {matching.BUY, matching.SELL} == set(Order.Side.values)
    assert matching.CLS == Order.TimeInForce.CLS
