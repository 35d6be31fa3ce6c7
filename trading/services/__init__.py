"""The only code that changes orders. One transaction per business action.

Lock order, everywhere (so two paths never deadlock):
    account row → order row(s) → position row (taken by portfolios inside `fill_apply`).
Every function that changes an order first locks its account, then the order.
Side effects (the submit/cancel tasks, trade updates) run after commit.

One module per concern, each importing only those before it (no cycles):
    common      locks (in the lock order above), the audit record, trade updates, holding and
                releasing what an order needs, ending and canceling an order
    contingent  bracket/OTO legs and OCO exit groups
    executions  what venues report: submission claims, status changes, fills
    orders      entry, cancel, replace, expiry; the cancels of an account restriction
    positions   closing positions (market sells through order entry)
    cases       reconciliation cases
Callers use the names below (`from trading import services; services.order_place(...)`).
"""

from trading.services.cases import reconciliation_case_open, reconciliation_case_resolve
from trading.services.common import OrderNotFound, lock_order, lock_orders, trade_update_publish
from trading.services.executions import (
    VenueFill,
    execution_apply,
    execution_apply_cumulative,
    execution_book,
    executions_book_at_once,
    inbox_claim,
    order_submission_start,
    order_venue_update,
    orders_accepted_at_once,
)
from trading.services.orders import (
    ClientOrderIdReused,
    InThread,
    LoopPlacement,
    loop_placement,
    order_cancel,
    order_cancel_all,
    order_place,
    order_place_async,
    order_replace,
    orders_cancel_for_restriction,
    orders_expire,
)
from trading.services.positions import PositionNotFound, position_close, position_close_all

__all__ = [
    "ClientOrderIdReused",
    "InThread",
    "LoopPlacement",
    "OrderNotFound",
    "PositionNotFound",
    "VenueFill",
    "execution_apply",
    "execution_apply_cumulative",
    "execution_book",
    "executions_book_at_once",
    "inbox_claim",
    "lock_order",
    "lock_orders",
    "loop_placement",
    "order_cancel",
    "order_cancel_all",
    "order_place",
    "order_place_async",
    "order_replace",
    "order_submission_start",
    "order_venue_update",
    "orders_accepted_at_once",
    "orders_cancel_for_restriction",
    "orders_expire",
    "position_close",
    "position_close_all",
    "reconciliation_case_open",
    "reconciliation_case_resolve",
    "trade_update_publish",
]
