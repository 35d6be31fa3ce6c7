"""The one broker interface, and routing by asset class.

A venue receives orders through `submit`/`cancel`/`replace` and answers questions with
`get_by_client_order_id` (the order's SpeedTrade id is the client order id at every
venue). Whatever a venue later learns — acknowledgements, fills, cancels, expiries —
it reports into `trading.services.order_venue_update` and
`trading.services.execution_apply`, the same two functions for every venue, so a
repeated or late report is harmless.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

from trading.models import Order


class VenueUnavailable(Exception):
    """The venue could not be reached or did not answer: the outcome is unknown, never guessed."""


@dataclass(frozen=True)
class SubmitOutcome:
    accepted: bool
    broker_order_id: str = ""
    reject_reason: str = ""


@dataclass(frozen=True)
class VenueFill:
    broker_exec_id: str
    qty: Decimal
    price: Decimal
    executed_at: datetime
    fee: Decimal = Decimal(0)


@dataclass(frozen=True)
class VenueOrderState:
    """What a venue knows about one order, for reconciliation."""

    broker_order_id: str
    status: str  # in SpeedTrade's (Alpaca's) status names
    fills: list[VenueFill] = field(default_factory=list)


class Broker(Protocol):
    name: str
    # True when the venue swaps a replaced order in the same call (no acknowledgement to wait for).
    replaces_at_once: bool

    def submit(self, order: Order) -> SubmitOutcome:
        """Hand the order to the venue. Raises VenueUnavailable when the outcome is unknown."""

    def after_accept(self, order: Order) -> None:
        """Called once the acceptance is recorded; a venue that matches in process may fill now."""

    def cancel(self, order: Order) -> bool:
        """Ask the venue to cancel; True when it confirmed (the caller then records `canceled`)."""

    def replace(self, order: Order, replacement: Order) -> SubmitOutcome:
        """Swap a resting order for its replacement at the venue."""

    def get_by_client_order_id(self, client_order_id: str) -> VenueOrderState | None:
        """The venue's view of an order, or None if it never received it."""


BROKERS = {"paper": "trading.brokers.paper.PaperVenue"}


def broker_name_for(asset_class: str) -> str:
    return settings.BROKER_CRYPTO if asset_class == "crypto" else settings.BROKER_US_EQUITY


def broker_by_name(name: str) -> Broker:
    return import_string(BROKERS[name])()


def broker_replaces_at_once(name: str) -> bool:
    """Whether `order_replace` may record `replaced` at once; otherwise it waits in pending_replace for the ack."""
    return getattr(import_string(BROKERS[name]), "replaces_at_once", False)


def broker_for(order: Order) -> Broker:
    return broker_by_name(order.broker)


def _refusal_key(name: str) -> str:
    return f"trading:venue-refusal:{name}"


def venue_refusal_reason(name: str) -> str | None:
    """Set by reconciliation while a venue cannot be reconciled; new orders routed there are refused."""
    return cache.get(_refusal_key(name))


def venue_refusal_set(name: str, reason: str | None) -> None:
    if reason:
        cache.set(_refusal_key(name), reason, timeout=None)
    else:
        cache.delete(_refusal_key(name))
