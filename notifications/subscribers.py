"""Which announcements become notifications (`ANNOUNCEMENT_SUBSCRIBERS`, speedtrade/announcements.py).

`on_announcements` runs after the announcing transaction commits, in the announcing process
(a web request, a worker, the order engine): it only picks the few announcements that matter with
dictionary look-ups and queues one `announcements_handle` for them, so trading never waits for a
query or a provider of ours. The task does the reading and writing, for all of them together: an
engine batch's fills are one task, one insert of their notifications and one deliveries task.
"""

import logging
import uuid
from decimal import Decimal, InvalidOperation

from speedtrade.announcements import AUDIT_EVENT, USER_PUSH, Announcement
from speedtrade.task_queue import task_named

logger = logging.getLogger(__name__)

# trade_updates event → notification kind
TRADE_EVENTS = {
    "fill": "order_filled",
    "partial_fill": "order_partially_filled",
    "rejected": "order_rejected",
    "canceled": "order_canceled",
}

# audit action → notification kind (None: decided by the target, see _audit_kind)
AUDIT_ACTIONS: dict[str, str | None] = {
    "kyc.approved": "kyc_approved",
    "kyc.rejected": "kyc_rejected",
    "kyc.action_required": "kyc_action_required",
    "transfer.settled": None,
    "transfer.rejected": None,
    "mfa.authenticator_added": "security_mfa_changed",
    "mfa.authenticator_removed": "security_mfa_changed",
    "api_key.created": "security_api_key_changed",
    "api_key.revoked": "security_api_key_changed",
    "auth.login": "security_new_login",
    "auth.password_changed": "security_password_changed",  # changed, set or reset (accounts/signals.py)
    "document.issued": "document_issued",  # a statement, confirmation or tax report (documents.services)
}


def on_announcements(announcements: list[Announcement]) -> None:
    """Queue one `announcements_handle` for the announcements that become notifications (none: nothing queued)."""
    picked = [picked for kind, payload in announcements if (picked := _picked(kind, payload)) is not None]
    if picked:
        task_named("notifications.tasks.announcements_handle").delay(picked)


def _picked(kind: str, payload: dict) -> Announcement | None:
    """What the task needs of an announcement that may become a notification, or None."""
    data = payload.get("data") or {}
    if (
        kind == USER_PUSH
        and payload["stream"] == "trade_updates"
        and data.get("event") in TRADE_EVENTS
        and "order" in data
    ):
        order = data["order"]
        return kind, {
            "user_id": payload["user_id"],
            "event": data["event"],
            "execution_id": data.get("execution_id"),
            "price": data.get("price"),
            "qty": data.get("qty"),
            "order": {
                k: order.get(k)
                for k in ("id", "symbol", "side", "qty", "notional", "filled_avg_price", "order_class", "type")
            },
        }
    if kind == AUDIT_EVENT and payload["action"] in AUDIT_ACTIONS and payload.get("subject_user_id"):
        return kind, {
            k: payload.get(k)
            for k in ("id", "action", "subject_user_id", "target_type", "target_id", "ip_address", "user_agent")
        } | {
            "after": {
                k: str(v) for k, v in (payload.get("after") or {}).items() if k in ("type", "key_id", "label", "title")
            }
        }
    return None


def notifications_from_announcements(announcements: list[Announcement]) -> None:
    """Record the notifications a batch of picked announcements makes, together (`notifications_record`: a fixed
    number of statements, and one deliveries task for the batch)."""
    from notifications.services import Event, notifications_record

    events = []
    for kind, payload in announcements:
        try:
            made = _from_trade_update(payload) if kind == USER_PUSH else _from_audit_event(payload)
        except Exception:
            # One that cannot be worded must not cost the batch's others theirs (each had a task of its own).
            logger.exception("No notification for announcement %s %s.", kind, payload.get("id") or payload.get("event"))
            continue
        if made is not None:
            user_id, notification_kind, event_key, context = made
            events.append(
                Event(user_id=uuid.UUID(str(user_id)), kind=notification_kind, event_key=event_key, context=context)
            )
    notifications_record(events)


def _money(value) -> str:
    try:
        return f"${Decimal(value):,.2f}"
    except (InvalidOperation, TypeError):
        return ""


def _order_summary(order: dict) -> str:
    side = (order.get("side") or "").capitalize()
    if order.get("notional"):
        return f"{side} {_money(order['notional'])} of {order['symbol']}"
    return f"{side} {Decimal(order['qty']).normalize():f} {order['symbol']}"


def _from_trade_update(payload: dict):
    from accounts.models import AuditEvent
    from trading.models import Order

    order = payload["order"]
    event = payload["event"]
    kind = TRADE_EVENTS[event]
    reason = ""
    if event in ("rejected", "canceled"):
        reason = Order.objects.filter(pk=order["id"]).values_list("reject_reason", flat=True).first() or ""
    if event == "canceled":
        # Only what SpeedTrade canceled: not the customer's own request, not the other legs of a
        # bracket/OCO group (they end because their sibling filled, as the customer asked).
        if order.get("order_class") not in ("simple", "", None):
            return None
        asked = AuditEvent.objects.filter(action="trading.order_cancel_requested", target_id=str(order["id"])).exists()
        if asked:
            return None
    key = f"order:{order['id']}:{event}"
    if event == "partial_fill":
        key += f":{payload.get('execution_id')}"
    context = {
        "order_id": order["id"],
        "symbol": order["symbol"],
        "side": (order.get("side") or "").capitalize(),
        "summary": _order_summary(order),
        "price": _money(payload.get("price") or order.get("filled_avg_price")),
        "qty": payload.get("qty"),
        "reason": reason,
    }
    return payload["user_id"], kind, key, context


def _from_audit_event(payload: dict):
    action = payload["action"]
    kind = AUDIT_ACTIONS[action]
    context: dict = {
        "ip_address": payload.get("ip_address") or "an unknown address",
        "user_agent": payload.get("user_agent") or "unknown device",
    }
    after = payload.get("after") or {}
    if action.startswith("transfer."):
        from portfolios.models import Transfer

        transfer = Transfer.objects.filter(pk=payload["target_id"]).values("direction", "amount").first()
        if transfer is None:
            return None
        incoming = transfer["direction"] == Transfer.Direction.INCOMING
        if action == "transfer.settled":
            kind = "deposit_settled" if incoming else "withdrawal_sent"
        elif incoming:
            kind = "deposit_returned"
        else:
            return None  # a refused withdrawal never left: the transfers page says so
        context["amount"] = _money(transfer["amount"])
    elif action.startswith("mfa."):
        method = after.get("type", "an authenticator")
        context["change"] = f"{method} was {'added' if action.endswith('added') else 'removed'}"
    elif action.startswith("api_key."):
        context["change"] = "created" if action.endswith("created") else "revoked"
        context["key_id"] = after.get("key_id") or payload.get("target_id") or ""
    elif action == "auth.login" and not _login_is_new(payload):
        return None
    elif action == "document.issued":
        context["title"] = after.get("title") or "document"
    return payload["subject_user_id"], kind, f"audit:{payload['id']}", context


def _login_is_new(payload: dict) -> bool:
    """A sign-in from an address + browser this user has not used in the last 90 days (not the first ever)."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import AuditEvent

    earlier = AuditEvent.objects.filter(action="auth.login", subject_user_id=payload["subject_user_id"]).exclude(
        pk=payload["id"]
    )
    if not earlier.exists():
        return False  # the first sign-in after signing up is not news
    return not earlier.filter(
        ip_address=payload.get("ip_address"),
        user_agent=payload.get("user_agent") or "",
        created_at__gte=timezone.now() - timedelta(days=90),
    ).exists()
