"""Books what the paper venue decides — its fills and cancels — through the order services.

The venue (`trading.brokers.paper`) only decides; this module, which may import the services,
records — for the order engine on acceptance (a batch's complete fills of plain orders together,
`executions_book_at_once`), for the feed on each tick batch: every fill through `execution_apply`,
every cancel through `order_venue_update`, and then tells the book what was committed.
"""

import logging
from datetime import datetime

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


def fills_book(book: PaperBook | None, fills: list[FillIntent], now: datetime) -> None:
    """Book fills through execution_apply; keep the in-memory order in step with what was committed."""
    for fill in fills:
        try:
            execution = services.execution_apply(
                order_id=fill.order.id,
                broker_exec_id=fill_execution_id(fill),
                qty=fill.qty,
                price=fill.price,
                executed_at=now,
                final=fill.final,
                now=now,
            )
        except Exception:
            logger.exception("paper fill of order %s could not be applied", fill.order.id)
            execution = None
        if book is not None:
            book.fill_settled(fill, booked=execution is not None)


def accept_decisions_book(decided: list[tuple[Order, AcceptDecision]], now: datetime) -> None:
    """What the venue decided on accepting a batch of orders the caller (the order engine) has locked with their
    accounts: the complete fills of plain orders booked together (`executions_book_at_once`), the rest one order
    at a time (`accept_decision_book`). An account with a decision that is more than one fill (a cancel: IOC,
    FOK) has all its orders booked one at a time, in their order, as has an account the batch could not book."""
    single = {order.pk for order, decision in decided if len(decision.fills) == 1 and not decision.cancel_reason}
    mixed = {order.account_id for order, _ in decided if order.pk not in single}
    together = [
        services.VenueFill(
            order=order,
            broker_exec_id=fill_execution_id(fill),
            qty=fill.qty,
            price=fill.price,
            executed_at=decision.at,
            final=fill.final,
        )
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
    in its transaction: the fill, booked on that row, then the cancel of what IOC/FOK leaves. The fill is booked in
    a savepoint: one that fails (say, the cash no longer covers it at this price) is rolled back alone, and the
    order stays accepted in the book, like a fill that could not be booked on a tick."""
    for fill in decision.fills:
        try:
            with transaction.atomic():
                services.execution_book(
                    order=order,
                    broker_exec_id=fill_execution_id(fill),
                    qty=fill.qty,
                    price=fill.price,
                    executed_at=decision.at,
                    final=fill.final,
                    now=decision.at,
                )
        except Exception:
            logger.exception("paper fill of order %s could not be applied", order.id)
            order.refresh_from_db()  # the row in memory took the fill its savepoint rolled back
    if decision.cancel_reason:
        services.order_venue_update(
            order_id=order.id, to_status=S.CANCELED, event="canceled", reason=decision.cancel_reason, now=decision.at
        )


def on_ticks(quotes: list[Quote]) -> None:
    """FEED_TICK_HANDLERS entry: match resting paper orders against a batch of ticks, booking each tick's
    fills before the next tick is matched."""
    with sends_gathered():  # the batch's trade and account updates go out together
        _ticks_match(quotes)


def _ticks_match(quotes: list[Quote]) -> None:
    now = timezone.now()
    book = paper_book()
    book.sync(now)
    for quote in quotes:
        at = quote.timestamp if quote.timestamp else now
        auction_fills, missed = book.auction(quote, at)
        fills_book(book, auction_fills, now)
        for order in missed:
            book.remove(order.id)
            services.order_venue_update(
                order_id=order.id, to_status=S.CANCELED, event="canceled", reason=auction_missed_reason(order), now=now
            )
        fills = book.evaluate(quote, at)
        if fills:
            fills_book(book, fills, now)
    book.hwm_flush(now)
