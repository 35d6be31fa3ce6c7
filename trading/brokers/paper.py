"""The paper venue: SpeedTrade's simulated exchange, matching orders against the live quotes.

* The matching itself is `trading.matching.OrderBook` (pure, no database); this module keeps
  one in step with the database (`PaperBook`) and answers as a venue (`PaperVenue`). It
  decides fills and cancels and returns them; `trading.paper_fills` books them through the
  services (the venue never calls into them).
* New orders are accepted in batches by the order engine (`trading.engine`, in the feed
  process; in process right after commit where no engine runs): a marketable order (market,
  or a limit through the quote; IOC and FOK always) is matched at once against the latest
  quote (`accept_decision`) — buy at the ask, sell at the bid, at most the quote's size. IOC
  cancels what is left, FOK fills entirely or cancels.
* Resting orders live in an in-memory book per symbol, in the process that receives the
  feed's ticks (`trading.paper_fills.on_ticks`, registered in FEED_TICK_HANDLERS). The book
  is loaded from the database and kept in sync by reading orders changed since a watermark
  (one indexed query per tick batch), so orders accepted in a web or worker process appear
  without any other channel.
* Every fill's execution id is `paper:<order id>:<filled qty before>`, so two processes (or
  a replay) computing the same fill from the same order state produce one execution, never two.
* Trailing stops' water marks are written back (throttled, `PaperBook.hwm_flush`), so a
  restarted book resumes them.
* Contingent legs (bracket/OCO/OTO) are ordinary orders here: SpeedTrade's services
  activate, resize and cancel them; the book only sees their rows change.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from marketdata import calendars
from marketdata.quotes import Quote
from trading.brokers.base import SubmitOutcome, VenueFill, VenueOrderState
from trading.matching import FillIntent, OrderBook, Resting, crosses, fill_size
from trading.models import Order
from trading.models import OrderStatus as S

# The paper venue honours a cancel the moment it is asked: a pending_cancel order no longer trades here
# (so the canceled sibling of a filled exit leg can never sell the same shares again).
MATCHABLE = (S.ACCEPTED, S.PARTIALLY_FILLED, S.PENDING_REPLACE)
SYNC_OVERLAP = timedelta(seconds=5)  # re-read recent changes: a transaction may commit after a later one
SYNC_FIELDS = ("id", "status", "qty", "filled_qty", "filled_notional", "reserved_qty", "updated_at")  # `update`'s


def auction_time(order: Order) -> datetime | None:
    """When an opg/cls order executes: the open / close of the session it was placed for."""
    if order.time_in_force not in (Order.TimeInForce.OPG, Order.TimeInForce.CLS):
        return None
    session = calendars.next_session(order.created_at)
    return session.open if order.time_in_force == Order.TimeInForce.OPG else session.close


def resting_from_order(order: Order) -> Resting:
    """What the book needs to know about an order row."""
    return Resting(
        id=order.id,
        symbol=order.symbol,
        asset_class=order.asset_class,
        side=order.side,
        type=order.type,
        time_in_force=order.time_in_force,
        qty=order.qty,
        notional=order.notional,
        filled_qty=order.filled_qty,
        filled_notional=order.filled_notional,
        reserved_qty=order.reserved_qty,
        increment=order.asset.min_trade_increment,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        trail_price=order.trail_price,
        trail_percent=order.trail_percent,
        hwm=order.hwm,
        extended_hours=order.extended_hours,
        updated_at=order.updated_at,
        auction_at=auction_time(order),
        exit_group=order.parent_id or (order.id if order.order_class == Order.OrderClass.OCO else None),
    )


def _session_open(asset_class: str, at: datetime, extended_hours: bool) -> bool:
    return calendars.is_open(asset_class, at, extended_hours=extended_hours)


class PaperBook(OrderBook):
    """The order book of this process, kept in step with the database's paper orders."""

    def __init__(self) -> None:
        super().__init__(session_open=_session_open)
        self.watermark: datetime | None = None
        self.hwm_flushed_at: datetime | None = None

    # --- keeping the book in step with the database --------------------------------
    def sync(self, now: datetime) -> None:
        """Apply every paper order changed since the last sync (all open ones the first time).

        Every batch re-reads the last SYNC_OVERLAP of changes, so that read is light: the columns
        `update` needs, and whole rows (with their asset) only for open orders the book lacks."""
        orders = Order.objects.filter(broker="paper")
        if self.watermark is None:
            missing = orders.filter(status__in=MATCHABLE)
        else:
            changed = orders.filter(updated_at__gte=self.watermark - SYNC_OVERLAP).values_list(*SYNC_FIELDS)
            missing = orders.filter(pk__in=[row[0] for row in changed if not self.update(*row)])
        for order in missing.select_related("asset").order_by("created_at"):
            self.upsert(order)  # changed again since the light read? upsert takes the newer row
        self.watermark = now

    def upsert(self, order: Order) -> None:
        changes = (order.status, order.qty, order.filled_qty, order.filled_notional, order.reserved_qty)
        if not self.update(order.id, *changes, order.updated_at):
            self.add(resting_from_order(order))

    def update(
        self,
        order_id: uuid.UUID,
        status: str,
        qty: Decimal | None,
        filled_qty: Decimal,
        filled_notional: Decimal,
        reserved_qty: Decimal,
        updated_at: datetime,
    ) -> bool:
        """Take a changed order row in; False when it is an open order the book does not hold yet."""
        if status not in MATCHABLE:
            self.remove(order_id)  # trailing stops too: an order ended elsewhere must never fire here
            return True
        known = self.orders.get(order_id)
        if known is None:
            return False
        # qty too: contingent legs grow with their entry and shrink with their siblings' fills.
        known.qty, known.filled_qty, known.filled_notional = qty, filled_qty, filled_notional
        known.reserved_qty, known.updated_at = reserved_qty, updated_at
        return True

    def hwm_flush(self, now: datetime) -> None:
        """Persist moved trailing marks, so a restarted book resumes them: at most once per
        TRADING_TRAILING_HWM_FLUSH_SECONDS (a tick must not cost a write per order), and at once
        when a stop fires. One transaction, one UPDATE; rows another transaction holds are skipped
        (never waited for) and written on the next flush."""
        interval = timedelta(seconds=settings.TRADING_TRAILING_HWM_FLUSH_SECONDS)
        due = self.hwm_flushed_at is None or now - self.hwm_flushed_at >= interval
        if not (self.hwm_dirty or self.marks_moved) or not (due or self.hwm_fired):
            return
        self.water_marks_collect()
        with transaction.atomic():
            free = list(
                Order.objects.select_for_update(skip_locked=True)
                .filter(pk__in=list(self.hwm_dirty))
                .values_list("pk", flat=True)
            )
            Order.objects.bulk_update([Order(pk=pk, hwm=self.hwm_dirty[pk]) for pk in free], ["hwm"])
        for pk in free:
            del self.hwm_dirty[pk]
        self.hwm_flushed_at, self.hwm_fired = now, False

    def fill_settled(self, fill: FillIntent, *, booked: bool) -> None:
        """Keep the in-memory order in step with what booking `fill`, taken in when it was matched
        (`fill_taken`), committed."""
        order = fill.order
        if not booked:
            # Not booked (refused, someone else applied this fill, the order changed): reload it from the database.
            self.remove(order.id)
            fresh = Order.objects.select_related("asset").filter(pk=order.id).first()
            if fresh is not None:
                self.upsert(fresh)
            return
        if order.exit_group is not None:
            # The fill shrank or canceled the group's other orders: take that in before the next tick.
            group = Order.objects.filter(Q(pk=order.exit_group) | Q(parent_id=order.exit_group)).exclude(pk=order.id)
            for member in group.select_related("asset"):
                self.upsert(member)


_BOOK: PaperBook | None = None


def paper_book() -> PaperBook:
    """This process's book (the one that receives ticks), loaded from the database on first use."""
    global _BOOK
    if _BOOK is None:
        _BOOK = PaperBook()
    return _BOOK


def paper_book_reset() -> None:
    """Forget the in-memory book; the next use reloads it from the database (tests, a feed restart)."""
    global _BOOK
    _BOOK = None


def fill_execution_id(fill: FillIntent) -> str:
    """The same for every process that computes this fill from the same order state: booked once."""
    return f"paper:{fill.order.id}:{fill.order.filled_qty.normalize()}"


def auction_missed_reason(order: Resting) -> str:
    """An opg/cls limit the auction did not reach is canceled, as Alpaca cancels unfilled auction orders."""
    kind = "opening" if order.time_in_force == Order.TimeInForce.OPG else "closing"
    return f"Limit not reached at the {kind} auction."


@dataclass(frozen=True)
class AcceptDecision:
    """What the venue decided when it accepted an order: fills to book, then (IOC/FOK) a cancel."""

    at: datetime
    fills: list[FillIntent] = field(default_factory=list)
    cancel_reason: str = ""


class PaperVenue:
    replaces_at_once = True  # the book swaps orders in process: the acknowledgement is immediate

    def __init__(self, name: str = "paper") -> None:
        self.name = name

    def submit(self, order: Order) -> SubmitOutcome:
        return SubmitOutcome(accepted=True, broker_order_id=f"paper-{order.id}")

    def accept_decision(self, order: Order, quote: Quote | None, now: datetime) -> AcceptDecision | None:
        """What accepting `order` at `quote` does: a marketable order fills at once (buy at the ask, sell at
        the bid, at most the quote's size); IOC/FOK never rest. The engine (`trading.engine`) books it."""
        if order.time_in_force in (Order.TimeInForce.OPG, Order.TimeInForce.CLS):
            return None  # they wait for their auction, in the book
        immediate = order.time_in_force in (Order.TimeInForce.IOC, Order.TimeInForce.FOK)
        resting = resting_from_order(order)
        fill = None
        open_now = quote is not None and calendars.is_open(order.asset_class, now, extended_hours=order.extended_hours)
        if open_now and quote is not None and crosses(resting, quote):  # open_now implies the quote; mypy needs it here
            size = quote.ask_size if resting.is_buy else quote.bid_size
            fill = fill_size(resting, quote.ask if resting.is_buy else quote.bid, size)
        if order.time_in_force == Order.TimeInForce.FOK and (fill is None or not fill.final):
            return AcceptDecision(at=now, cancel_reason="FOK: the quote could not fill the whole order")
        fills = [fill] if fill is not None else []
        if immediate and (fill is None or not fill.final):
            return AcceptDecision(at=now, fills=fills, cancel_reason="IOC: remainder canceled")
        return AcceptDecision(at=now, fills=fills)

    def cancel(self, order: Order) -> bool:
        if _BOOK is not None:
            _BOOK.remove(order.id)
        return True

    def replace(self, order: Order, replacement: Order) -> SubmitOutcome:
        self.cancel(order)
        return self.submit(replacement)

    def get_by_client_order_id(self, client_order_id: str) -> VenueOrderState | None:
        """The paper venue's records are SpeedTrade's own rows: an order it accepted is what the database says."""
        order = Order.objects.filter(pk=client_order_id, broker=self.name).exclude(status__in=(S.NEW,)).first()
        if order is None or order.status == S.PENDING_NEW and not order.broker_order_id:
            return None
        return _paper_state(order)

    def open_orders(self) -> dict[str, VenueOrderState]:
        open_orders = Order.objects.filter(broker=self.name, status__in=MATCHABLE).prefetch_related("executions")
        return {str(order.id): _paper_state(order) for order in open_orders}


def _paper_state(order: Order) -> VenueOrderState:
    fills = [
        VenueFill(broker_exec_id=e.broker_exec_id, qty=e.qty, price=e.price, executed_at=e.executed_at, fee=e.fee)
        for e in order.executions.all()
    ]
    return VenueOrderState(broker_order_id=order.broker_order_id, status=order.status, fills=fills)
