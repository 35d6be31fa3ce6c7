"""Books what the paper venue decides — its fills and cancels — through the order services.

The venue (`trading.brokers.paper`) only decides; this module, which may import the services,
records — for the order engine on acceptance, and for the feed on each tick batch (one transaction
for the batch's fills) — the complete fills of plain orders together (`executions_book_at_once`), the
rest one at a time in savepoints (`execution_book`), every cancel through `order_venue_update`, and
then tells the book what was committed.
"""

import logging
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from marketdata.quotes import Quote
from speedtrade.realtime import sends_gathered
from trading import services
from trading.brokers.paper import AcceptDecision, PaperBook, auction_missed_reason, fill_execution_id, paper_book
from trading.matching import FillIntent
from trading.models import Order
from trading.models import OrderStatus as S

logger = logging.getLogger(__name__)


class Matched(NamedTuple):
    """A fill the book matched on a tick, and its execution id (named by the order's state before the fill)."""

    fill: FillIntent
    execution_id: str


def fills_book(book: PaperBook, fills: list[Matched], now: datetime) -> None:
    """Book a tick batch's fills in one transaction: their orders locked with their accounts, then the complete fills
    of plain orders set-based, the rest each in a savepoint, in their order (`venue_fills_book`, as the order
    engine's batch). Then tell the book which were committed: the others (refused, say the cash no longer covers
    the fill, or the whole transaction failed) are read again from the database."""
    booked: set[str] = set()
    if fills:
        try:
            with transaction.atomic():
                orders = services.lock_orders({matched.fill.order.id for matched in fills})
                booked = venue_fills_book(
                    [
                        venue_fill(orders[fill.order.id], fill, execution_id, at=now)
                        for fill, execution_id in fills
                        if fill.order.id in orders
                    ],
                    now=now,
                )
        except Exception:
            logger.exception("the paper fills of a tick batch could not be booked")
            booked = set()
    for matched in fills:
        book.fill_settled(matched.fill, booked=matched.execution_id in booked)


def venue_fill(order: Order, fill: FillIntent, execution_id: str, *, at: datetime) -> services.VenueFill:
    """The book's fill as the services book it, on `order`: the row the caller locked."""
    return services.VenueFill(
        order=order, broker_exec_id=execution_id, qty=fill.qty, price=fill.price, executed_at=at, final=fill.final
    )


def venue_fills_book(fills: list[services.VenueFill], *, now: datetime) -> set[str]:
    """Book fills on orders the caller has locked with their accounts: what `executions_book_at_once` takes
    set-based, then the rest one at a time in their order, each in a savepoint; an order whose fill failed books
    none of its later ones (they were matched on the failed one's result). The ids of the executions booked, and
    of those already booked (`executions_book_at_once` neither books nor returns them: for the paper venue's ids,
    which name the order's filled quantity, only a row this fill would have written has that id)."""
    left = services.executions_book_at_once(fills, now=now)
    taken_at_once = {id(fill) for fill in left}
    booked = {fill.broker_exec_id for fill in fills if id(fill) not in taken_at_once}
    failed: set = set()
    others_changed = False
    for fill in left:
        if fill.order.pk in failed:
            continue
        if others_changed:
            # A fill booked one at a time may have changed other orders' rows (an entry's fill grows its legs, an
            # exit's shrinks or cancels its group), read and locked before it: read this one again.
            fill = replace(fill, order=services.lock_order(account=fill.order.account, order_id=fill.order.pk))
        if venue_fill_book(fill, now=now):
            booked.add(fill.broker_exec_id)
            others_changed = True
        else:
            failed.add(fill.order.pk)
    return booked


def venue_fill_book(fill: services.VenueFill, *, now: datetime) -> bool:
    """`execution_book` in a savepoint: one that fails (say, the cash no longer covers the fill at this price) is
    rolled back alone and logged. Whether the fill was booked (not, also, when its execution id already was)."""
    order = fill.order
    try:
        with transaction.atomic():
            return services.execution_book(**vars(fill), now=now) is not None
    except Exception:
        logger.exception("paper fill of order %s could not be applied", order.id)
        order.refresh_from_db()  # the row in memory took the fill its savepoint rolled back
        return False


def accept_decisions_book(decided: list[tuple[Order, AcceptDecision]], now: datetime) -> None:
    """What the venue decided on accepting a batch of orders the caller (the order engine) has locked with their
    accounts: the complete fills of plain orders booked together (`executions_book_at_once`), the rest one order
    at a time (`accept_decision_book`). An account with a decision that is more than one fill (a cancel: IOC,
    FOK) has all its orders booked one at a time, in their order, as has an account the batch could not book."""
    single = {order.pk for order, decision in decided if len(decision.fills) == 1 and not decision.cancel_reason}
    mixed = {order.account_id for order, _ in decided if order.pk not in single}
    together = [
        venue_fill(order, fill, fill_execution_id(fill), at=decision.at)
        for order, decision in decided
        if order.pk in single and order.account_id not in mixed
        for fill in decision.fills
    ]
    left = {fill.order.pk for fill in services.executions_book_at_once(together, now=now)}
    booked = {fill.order.pk for fill in together} - left
    for order, decision in decided:
        if order.pk in booked:
            continue
        try:
            accept_decision_book(order, decision)
        except Exception:
            logger.exception("paper engine: the cancel that accepting order %s decided failed", order.pk)


def accept_decision_book(order: Order, decision: AcceptDecision) -> None:
    """What the venue decided on accepting `order`, which the caller (the order engine) has locked with its account
    in its transaction: the fill, booked on that row in a savepoint (`venue_fill_book`: one that fails leaves the
    order accepted in the book, like a fill that could not be booked on a tick), then the cancel of what IOC/FOK
    leaves."""
    for fill in decision.fills:
        venue_fill_book(venue_fill(order, fill, fill_execution_id(fill), at=decision.at), now=decision.at)
    if decision.cancel_reason:
        services.order_venue_update(
            order_id=order.id, to_status=S.CANCELED, event="canceled", reason=decision.cancel_reason, now=decision.at
        )


def on_ticks(quotes: list[Quote]) -> None:
    """FEED_TICK_HANDLERS entry: match resting paper orders against a batch of ticks and book the batch's fills
    together (`fills_book`: one transaction). Each fill is taken into its order in the book as it is matched, so
    the batch's later ticks match what it leaves; one not booked is read again from the database. A tick that
    fills an order of an exit group (bracket, OCO legs) has its fills booked before the next tick is matched:
    booking it cancels or shrinks the group's other orders, which that tick must not fill."""
    with sends_gathered():  # the batch's trade and account updates go out together
        _ticks_match(quotes)


def _ticks_match(quotes: list[Quote]) -> None:
    now = timezone.now()
    book = paper_book()
    book.sync(now)
    matched: list[Matched] = []
    for quote in quotes:
        at = quote.timestamp if quote.timestamp else now
        auction_fills, missed = book.auction(quote, at)
        for order in missed:
            book.remove(order.id)
            services.order_venue_update(
                order_id=order.id, to_status=S.CANCELED, event="canceled", reason=auction_missed_reason(order), now=now
            )
        fills = auction_fills + book.evaluate(quote, at)
        for fill in fills:
            matched.append(Matched(fill, fill_execution_id(fill)))  # the id names the order's state before the fill
            book.fill_taken(fill)
        if any(fill.order.exit_group is not None for fill in fills):
            fills_book(book, matched, now)
            matched = []
    fills_book(book, matched, now)
    book.hwm_flush(now)
