"""The one broker interface, and routing by asset class.

A venue receives orders through `submit`/`cancel`/`replace` and answers questions with
`get_by_client_order_id` (the order's SpeedTrade id is the client order id at every
venue). Whatever a venue later learns — acknowledgements, fills, cancels, expiries —
it reports into `trading.services.order_venue_update` and
`trading.services.execution_apply`, the same two functions for every venue, so a
repeated or late report is harmless. Adapters never import the services: the stream and
reconciliation code report for them, and the paper venue returns its fills
(`trading.paper_fills` books them).
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
    """What a venue knows about one order, for reconciliation.

    `fills` lists individual executions where the venue reports them (paper, ccxt trades);
    `filled_qty`/`filled_avg_price` are the venue's cumulative totals where it reports
    only those (Alpaca's order object): SpeedTrade books the difference to its own total.
    """

    broker_order_id: str
    status: str  # in SpeedTrade's (Alpaca's) status names
    fills: list[VenueFill] = field(default_factory=list)
    filled_qty: Decimal | None = None
    filled_avg_price: Decimal | None = None


class Broker(Protocol):
    name: str
    # True when the venue swaps a replaced order in the same call (no acknowledgement to wait for).
    replaces_at_once: bool

    def submit(self, order: Order) -> SubmitOutcome:
        """Hand the order to the venue. Raises VenueUnavailable when the outcome is unknown."""

    def cancel(self, order: Order) -> bool:
        """Ask the venue to cancel; True when it confirmed (the caller then records `canceled`)."""

    def replace(self, order: Order, replacement: Order) -> SubmitOutcome:
        """Swap a resting order for its replacement at the venue."""

    def get_by_client_order_id(self, client_order_id: str) -> VenueOrderState | None:
        """The venue's view of an order, or None if it never received it."""

    def open_orders(self) -> dict[str, VenueOrderState]:
        """Every order the venue holds open, by client order id: one request where the venue lists them
        (reconciliation reads these instead of asking order by order, and compares them with ours)."""


# name (or "ccxt" for every "ccxt:<exchange id>") → class; each is built with its venue name.
BROKERS = {
    "paper": "trading.brokers.paper.PaperVenue",
    "alpaca": "trading.brokers.alpaca.AlpacaBroker",
    "ccxt": "trading.brokers.ccxt.CcxtBroker",
}

_INSTANCES: dict[str, Broker] = {}


def broker_name_for(asset_class: str) -> str:
    return settings.BROKER_CRYPTO if asset_class == "crypto" else settings.BROKER_US_EQUITY


def configured_broker_names() -> set[str]:
    return {settings.BROKER_US_EQUITY, settings.BROKER_CRYPTO}


def broker_by_name(name: str) -> Broker:
    """This process's adapter for a venue, built once: clients keep their HTTP sessions and loaded markets."""
    if name not in _INSTANCES:
        kind = name.partition(":")[0]
        if kind not in BROKERS:
            raise KeyError(f"Unknown broker {name!r}: paper, alpaca or ccxt:<exchange id>.")
        _INSTANCES[name] = import_string(BROKERS[kind])(name)
    return _INSTANCES[name]


def brokers_reset() -> None:
    """Forget built adapters (settings changed: tests, a reload)."""
    _INSTANCES.clear()


def broker_replaces_at_once(name: str) -> bool:
    """Whether `order_replace` may record `replaced` at once; otherwise it waits in pending_replace for the ack."""
    return getattr(import_string(BROKERS[name.partition(":")[0]]), "replaces_at_once", False)


def broker_for(order: Order) -> Broker:
    return broker_by_name(order.broker)


def _refusal_key(name: str) -> str:
    return f"trading:venue-refusal:{name}"


def venue_refusal_reason(name: str) -> str | None:
    """Set by reconciliation while a venue cannot be reconciled; new orders routed there are refused."""
    return cache.get(_refusal_key(name))


def venue_refusal_cache_key(name: str) -> str:
    """The Redis key of `venue_refusal_reason`, for a reader with its own client (the lean path's async one)."""
    return cache.make_and_validate_key(_refusal_key(name))


def venue_refusal_from_cache(raw: bytes | None) -> str | None:
    """That key's value as `venue_refusal_reason` reads it: through the cache's serializer (Django's, private)."""
    return None if raw is None else cache._cache._serializer.loads(raw)  # type: ignore[attr-defined]


def venue_refusal_set(name: str, reason: str | None) -> None:
    if reason:
        cache.set(_refusal_key(name), reason, timeout=None)
    else:
        cache.delete(_refusal_key(name))
