"""What a trader is told about the market: open or closed, the next open, an early close, and
when an order placed now will be sent and at what kind of price.

Everything is read from `marketdata.calendars` (XNYS through exchange_calendars); this module
only words it. Times are shown in the exchange's time zone, with "ET".
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.utils import timezone

from marketdata.calendars import CRYPTO, ET, equity_session, next_session

PRE_MARKET = "pre_market"
OPEN = "open"
AFTER_HOURS = "after_hours"
CLOSED = "closed"
ALWAYS_OPEN = "always_open"
PHASE_LABELS = {
    PRE_MARKET: "Pre-market",
    OPEN: "Market open",
    AFTER_HOURS: "After hours",
    CLOSED: "Market closed",
    ALWAYS_OPEN: "Open 24/7",
}
SAME_WEEK = timedelta(days=6)


def et_label(at: datetime, *, now: datetime | None = None) -> str:
    """ "Mon 9:30 AM ET"; a date is added when the moment is not within the coming week."""
    local, now = at.astimezone(ET), (now or timezone.now())
    day = "%a" if abs(at - now) < SAME_WEEK else "%a %b %-d"
    return local.strftime(f"{day} %-I:%M %p ET")


@dataclass(frozen=True)
class MarketStatus:
    asset_class: str
    phase: str
    at: datetime
    next_open: datetime | None  # the next regular open (None while open, and for crypto)
    next_close: datetime | None  # the close of the session now open or next to open
    early_close: bool  # that session closes early (13:00 ET)

    @property
    def is_open(self) -> bool:
        """Regular hours (crypto: always)."""
        return self.phase in (OPEN, ALWAYS_OPEN)

    @property
    def label(self) -> str:
        return PHASE_LABELS[self.phase]

    @property
    def detail(self) -> str:
        """The sentence under the label: when it opens or closes next."""
        if self.phase == ALWAYS_OPEN:
            return "Crypto trades around the clock."
        # Only the always-open market has no next close (market_status).
        next_close = cast(datetime, self.next_close)
        if self.phase == OPEN:
            early = "Early close" if self.early_close else "Closes"
            return f"{early} {et_label(next_close, now=self.at)}."
        # Only an open market has no next open.
        opens = f"Opens {et_label(cast(datetime, self.next_open), now=self.at)}"
        return f"{opens}; early close {et_label(next_close, now=self.at)}." if self.early_close else f"{opens}."


def market_status(asset_class: str, at: datetime | None = None) -> MarketStatus:
    """The market of `asset_class` at `at` (default now)."""
    at = at or timezone.now()
    if asset_class == CRYPTO or settings.MARKET_ALWAYS_OPEN:
        return MarketStatus(asset_class, ALWAYS_OPEN, at, None, None, False)
    upcoming = next_session(at)  # the session now open, or the next to open
    today = equity_session(at.astimezone(ET).date())
    if today is not None and today.open <= at < today.close:
        phase = OPEN
    elif today is not None and today.session_open <= at < today.open:
        phase = PRE_MARKET
    elif today is not None and today.close <= at < today.session_close:
        phase = AFTER_HOURS
    else:
        phase = CLOSED
    next_open = None if phase == OPEN else upcoming.open
    return MarketStatus(asset_class, phase, at, next_open, upcoming.close, upcoming.is_early_close)


@dataclass(frozen=True)
class OrderTiming:
    """When an order goes to the market and what price it can expect, in words."""

    sent: str  # "Sent to the market now" / "Queued for the open, Mon 9:30 AM ET"
    price: str  # "at the market price" / "at $10.00 or better"
    queued: bool


def order_timing(
    *,
    asset_class: str,
    order_type: str,
    limit_price: Decimal | None,
    extended_hours: bool,
    at: datetime | None = None,
) -> OrderTiming:
    """How an order of this shape placed at `at` is handled (the review step and the confirmation say it)."""
    status = market_status(asset_class, at)
    extended_now = extended_hours and status.phase in (PRE_MARKET, AFTER_HOURS)
    queued = not (status.is_open or extended_now)
    if limit_price is not None:
        price = "at your limit price or better"
    elif order_type == "market":
        price = "at the opening price, which can differ from the last price" if queued else "at the market price"
    else:  # stops and trailing stops become market orders when triggered
        price = "at the market price once the stop is reached"
    if not queued:
        sent = "Sent to the market now" + (" (extended hours)" if extended_now else "")
    else:
        # Queued: the market is not open (nor always open), so it has a next open.
        sent = f"Queued for the open, {et_label(cast(datetime, status.next_open), now=status.at)}"
    return OrderTiming(sent=sent, price=price, queued=queued)
