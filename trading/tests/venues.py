"""A scripted venue for fault tests of the trading core: a real Broker whose answers follow a script.

It keeps its own book of received orders (client order id → state), so "the venue
accepted the order but the answer was lost" is a real state that a later lookup finds.
Script steps for `submit`, consumed in order (then `accept`):
  "accept"            take the order, answer accepted;
  "accept_then_lose"  take the order, then raise VenueUnavailable (a timeout after acceptance);
  "unavailable"       raise VenueUnavailable without taking it (429, 5xx, refused connection);
  "reject:<message>"  refuse it definitely.
`down = True` makes every call raise VenueUnavailable (a venue that stays unreachable).
"""

from decimal import Decimal

from trading.brokers.base import SubmitOutcome, VenueFill, VenueOrderState, VenueUnavailable
from trading.models import Order
from trading.models import OrderStatus as S


class ScriptedVenue:
    def __init__(self, name: str = "scripted", script: list[str] | None = None) -> None:
        self.name = name
        self.script = list(script or [])
        self.down = False
        self.book: dict[str, VenueOrderState] = {}
        self.submit_attempts = 0
        self.lookups = 0

    def _reachable(self) -> None:
        if self.down:
            raise VenueUnavailable(f"{self.name} is down")

    def _take(self, order: Order) -> str:
        broker_order_id = f"{self.name}-{len(self.book) + 1}"
        self.book[str(order.id)] = VenueOrderState(broker_order_id=broker_order_id, status=S.ACCEPTED)
        return broker_order_id

    def submit(self, order: Order) -> SubmitOutcome:
        self._reachable()
        self.submit_attempts += 1
        step = self.script.pop(0) if self.script else "accept"
        if step == "unavailable":
            raise VenueUnavailable("HTTP 429")
        if step.startswith("reject:"):
            return SubmitOutcome(accepted=False, reject_reason=step.removeprefix("reject:"))
        broker_order_id = self._take(order)
        if step == "accept_then_lose":
            raise VenueUnavailable("read timeout after the venue accepted")
        return SubmitOutcome(accepted=True, broker_order_id=broker_order_id)

    def cancel(self, order: Order) -> bool:
        self._reachable()
        self.set(str(order.id), status=S.CANCELED)
        return True

    def replace(self, order: Order, replacement: Order) -> SubmitOutcome:
        self.cancel(order)
        return self.submit(replacement)

    def get_by_client_order_id(self, client_order_id: str) -> VenueOrderState | None:
        self._reachable()
        self.lookups += 1
        return self.book.get(client_order_id)

    def open_orders(self) -> dict[str, VenueOrderState]:
        self._reachable()
        return {cid: state for cid, state in self.book.items() if state.status in (S.ACCEPTED, S.PARTIALLY_FILLED)}

    # --- what the test makes happen at the venue ----------------------------------------
    def set(self, client_order_id: str, **changes) -> None:
        state = self.book[client_order_id]
        self.book[client_order_id] = VenueOrderState(**{**state.__dict__, **changes})

    def fill(self, client_order_id: str, qty: str, price: str, at) -> VenueFill:
        """An execution at the venue, listed on the order (venues that report each fill)."""
        state = self.book[client_order_id]
        fill = VenueFill(
            broker_exec_id=f"{state.broker_order_id}:{len(state.fills) + 1}",
            qty=Decimal(qty),
            price=Decimal(price),
            executed_at=at,
        )
        self.set(client_order_id, fills=[*state.fills, fill])
        return fill
