"""Orders as Alpaca's Trading API shows them (decimal strings, Alpaca field names).

One plain function, used by the REST API and the trade-update stream alike; plain
dict building keeps the hot paths (order entry, fills) free of serializer overhead.
"""

from datetime import datetime

from speedtrade.money import decimal_string
from trading.models import Execution, Order, OrderEvent


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def order_as_alpaca(order: Order, *, legs: list[Order] | None = None) -> dict:
    """`legs`: the parent's child orders (Alpaca shows them on contingent parents); None → `"legs": null`."""
    return {
        "id": str(order.id),
        "client_order_id": order.client_order_id,
        "created_at": _ts(order.created_at),
        "updated_at": _ts(order.updated_at),
        "submitted_at": _ts(order.submitted_at or order.created_at),  # Alpaca always sets it
        "filled_at": _ts(order.filled_at),
        "expired_at": _ts(order.expired_at),
        "expires_at": _ts(order.expires_at),
        "canceled_at": _ts(order.canceled_at),
        "failed_at": _ts(order.failed_at),
        "replaced_at": _ts(order.replaced_at),
        "replaced_by": str(order.replaced_by_id) if order.replaced_by_id else None,
        "replaces": str(order.replaces_id) if order.replaces_id else None,
        "asset_id": str(order.asset_id),
        "symbol": order.symbol,
        "asset_class": order.asset_class,
        "notional": decimal_string(order.notional),
        "qty": decimal_string(order.qty),
        "filled_qty": decimal_string(order.filled_qty),
        "filled_avg_price": decimal_string(order.filled_avg_price),
        "order_class": order.order_class,
        "order_type": order.type,
        "type": order.type,
        "side": order.side,
        "position_intent": ("buy_to_open" if order.side == Order.Side.BUY else "sell_to_close"),
        "time_in_force": order.time_in_force,
        "limit_price": decimal_string(order.limit_price),
        "stop_price": decimal_string(order.current_stop_price),
        "status": order.status,
        "extended_hours": order.extended_hours,
        "legs": None if legs is None else [order_as_alpaca(leg) for leg in legs],
        "trail_percent": decimal_string(order.trail_percent),
        "trail_price": decimal_string(order.trail_price),
        "hwm": decimal_string(order.hwm),
        "reject_reason": order.reject_reason or None,
    }


def placed_order_as_alpaca(order: Order, *, legs: list[Order] | None = None) -> dict:
    """The response to a request that placed an order: Alpaca's order plus SpeedTrade's pre-trade `warnings`."""
    return {**order_as_alpaca(order, legs=legs), "warnings": list(order.warnings)}


def execution_as_dict(execution: Execution) -> dict:
    return {
        "id": str(execution.id),
        "order_id": str(execution.order_id),
        "broker_exec_id": execution.broker_exec_id,
        "qty": decimal_string(execution.qty),
        "price": decimal_string(execution.price),
        "fee": decimal_string(execution.fee),
        "executed_at": _ts(execution.executed_at),
    }


def event_as_dict(event: OrderEvent) -> dict:
    return {
        "id": event.id,
        "event": event.event,
        "from_status": event.from_status or None,
        "to_status": event.to_status,
        "qty": decimal_string(event.qty),
        "price": decimal_string(event.price),
        "latency_us": event.latency_us,
        "detail": event.detail,
        "timestamp": _ts(event.created_at),
    }
